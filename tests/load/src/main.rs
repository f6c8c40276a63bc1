//! Run with `cargo build --release -p chat -p tether-load && target/release/tether-load hub-echo` (or
//! `hub-idle`): starts the release `chat` example next to this binary and measures it over WebSockets.
//!
//! - `hub-echo [--connections 100] [--seconds 10]`: every connection invokes `Echo` in a loop, one call in
//!   flight per connection; prints round trips per second and latency percentiles.
//! - `hub-idle [--connections 10000]`: opens connections in batches of 100 (the accept backlog is 128), each
//!   completing the hub handshake, then reports the server's resident memory growth per connection, read
//!   from `/proc/PID/statm` before and after. Needs `ulimit -n 20000`.
//!
//! `--url ws://HOST:PORT/chathub --pid PID` measures an already running server instead.
//!
//! `tether-load circuits memory|latency|shapes …` measures circuits against the counter example; see
//! `circuits.rs`. `tether-load compare [--dioxus PATH]` prints issue 13's table (floor, dioxus-liveview,
//! Tether) from one run; see `compare.rs`. `tether-load churn …` soaks it with tabs that connect, click, drop and reconnect; see
//! `churn.rs`. `tether-load backplane fanout|keys --redis URL …` measures the Redis backplane and a
//! pipelined write of circuit-sized keys; see `backplane.rs`. `tether-load persisted bytes|cpu|resume|rolling
//! --redis URL …` measures persisted circuits (store size, write-behind cost, resume, rolling restart); see
//! `persisted.rs`. `tether-load scale [--servers 6] [--circuits 100000]` holds many live counter circuits
//! over several server processes and reports memory per circuit; see `scale.rs`.

mod args;
mod backplane;
mod churn;
mod circuits;
mod compare;
mod counter_tab;
mod dioxus;
mod echo;
mod persisted;
mod scale;
mod server;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use args::Flags;
use futures_util::{SinkExt, StreamExt};
use server::Server;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Args {
    command: String,
    connections: usize,
    seconds: u64,
    url: Option<String>,
    pid: Option<u32>,
}

const HUB_USAGE: &str =
    "usage: tether-load hub-echo|hub-idle [--connections N] [--seconds S] [--url URL --pid PID]";

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let command = flags.command()?;
    if command != "hub-echo" && command != "hub-idle" {
        return Err(format!(
            "unknown mode {command} (tether-load --help lists them)"
        ));
    }
    let mut args = Args {
        connections: if command == "hub-idle" { 10_000 } else { 100 },
        seconds: 10,
        url: None,
        pid: None,
        command,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--connections" => args.connections = flag.number()?,
            "--seconds" => args.seconds = flag.number()?,
            "--url" => args.url = Some(flag.value),
            "--pid" => args.pid = Some(flag.number()?),
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// Every mode's usage line, for `tether-load --help`.
fn print_usage() {
    println!("tether-load MODE …: load and memory measurements (see docs/performance.md)");
    for usage in [
        HUB_USAGE,
        circuits::USAGE,
        compare::USAGE,
        churn::USAGE,
        backplane::USAGE,
        persisted::USAGE,
        scale::USAGE,
    ] {
        println!("  {}", usage.trim_start_matches("usage: "));
    }
    println!("  add --help after a mode for its usage alone");
}

/// The chat example; returns it with its hub URL.
fn start_chat() -> Result<(Server, String), String> {
    let mut command = Command::new(server::binary("chat")?);
    command.env("RUST_LOG", "error");
    let server = Server::start(command)?;
    let url = format!("ws://{}/chathub", server.addr);
    Ok((server, url))
}

async fn open(url: &str) -> Result<Socket, String> {
    // Small client buffers too, so 10,000 client sockets fit comfortably in this process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    ws.send(Message::text("{\"protocol\":\"json\",\"version\":1}\u{1e}"))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().starts_with("{}") => return Ok(ws),
            Some(Ok(Message::Text(t))) => return Err(format!("handshake refused: {}", t.as_str())),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed during handshake".into()),
        }
    }
}

async fn hub_echo(url: String, connections: usize, seconds: u64) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut ws = open(&url).await?;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let frame = "{\"type\":1,\"invocationId\":\"1\",\"target\":\"Echo\",\"arguments\":[{\"text\":\"hello\",\"n\":42}]}\u{1e}";
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                if ws.send(Message::text(frame)).await.is_err() {
                    break;
                }
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str().contains("\"type\":3") => break,
                        Some(Ok(_)) => {}
                        _ => return latencies,
                    }
                }
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "hub-echo: {connections} connections, {seconds} s: {} round trips, {:.0} round trips/s, p50 {:?}, p99 {:?}, max {:?}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all[all.len() - 1]
    );
    Ok(())
}

async fn hub_idle(url: String, pid: u32, connections: usize) -> Result<(), String> {
    // One connection first, so lazily created server structures are not billed to the others.
    let warm = open(&url).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server::rss_bytes(pid) / 1024;
    let mut sockets: Vec<Socket> = Vec::with_capacity(connections);
    while sockets.len() < connections {
        let batch = (connections - sockets.len()).min(100);
        let opened = futures_util::future::join_all((0..batch).map(|_| open(&url))).await;
        for s in opened {
            sockets.push(s?);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server::rss_bytes(pid) / 1024;
    let per = (after.saturating_sub(before) as f64 * 1024.0) / connections as f64;
    println!(
        "hub-idle: {connections} connections: server RSS {before} KiB -> {after} KiB, {:.0} bytes per idle connection",
        per
    );
    drop(sockets);
    drop(warm);
    Ok(())
}

#[tokio::main]
async fn main() {
    let mut words = std::env::args().skip(1);
    let mode = words.next().unwrap_or_default();
    let rest: Vec<String> = words.collect();
    match mode.as_str() {
        "" | "--help" | "-h" | "help" => {
            print_usage();
            if mode.is_empty() {
                std::process::exit(2);
            }
        }
        "echo-server" => {
            if let Err(e) = echo::serve().await {
                eprintln!("tether-load echo-server: {e}");
                std::process::exit(1);
            }
        }
        "circuits" => circuits::run(rest).await,
        "backplane" => backplane::run(rest).await,
        "scale" => scale::run(rest).await,
        "scale-client" => scale::run_client(rest).await,
        "compare" => compare::run(rest).await,
        "persisted" => persisted::run(rest).await,
        "churn" => churn::run(rest).await,
        _ => hub(std::env::args().skip(1).collect()).await,
    }
}

/// `hub-echo` and `hub-idle` against the chat example (started here unless `--url` and `--pid` are given).
async fn hub(raw: Vec<String>) {
    let args = args::parse_or_exit(raw, HUB_USAGE, parse_args);
    let result = async {
        let (server, url, pid) = match (args.url.clone(), args.pid) {
            (Some(url), Some(pid)) => (None, url, pid),
            (Some(_), None) | (None, Some(_)) => {
                return Err("--url and --pid go together".to_owned())
            }
            (None, None) => {
                let (s, url) = start_chat()?;
                let pid = s.pid;
                (Some(s), url, pid)
            }
        };
        let outcome = match args.command.as_str() {
            "hub-echo" => hub_echo(url, args.connections, args.seconds).await,
            _ => hub_idle(url, pid, args.connections).await,
        };
        drop(server);
        outcome
    }
    .await;
    if let Err(e) = result {
        eprintln!("tether-load: {e}");
        std::process::exit(1);
    }
}
