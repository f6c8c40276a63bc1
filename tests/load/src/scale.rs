//! `tether-load scale [--servers 6] [--circuits 100000]`: many live counter circuits over several server
//! processes on this machine, and the memory each costs. Build with
//! `cargo build --release -p counter -p tether-load`, then `ulimit -n 20000` (the limit applies to each
//! process: the servers and the clients started here inherit it).
//!
//! Starts `--servers` counter examples and one client process per server (`tether-load scale-client`, since
//! one process cannot hold more sockets than its descriptor limit). Each client starts its share of the
//! circuits, at most 100 at a time (the servers' accept backlog then never overflows), and keeps them open
//! and idle (pinging every 15 s as the official client does). With every circuit live, each client clicks each of its circuits once, spread over
//! `--click-seconds` (proof that they are live, and the event round trip at that scale). Reports the ramp
//! time, every server's resident memory before and after, memory per circuit, and the clients' round trips.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::args::{self, Flags};
use crate::counter_tab::CounterTab;
use crate::server::{self, load_average, rss_bytes, Server};

struct Args {
    servers: usize,
    circuits: usize,
    click_seconds: u64,
}

pub(crate) const USAGE: &str =
    "usage: tether-load scale [--servers N] [--circuits N] [--click-seconds S]";

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let mut args = Args {
        servers: 6,
        circuits: 100_000,
        click_seconds: 20,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--servers" => args.servers = flag.number::<usize>()?.max(1),
            "--circuits" => args.circuits = flag.number()?,
            "--click-seconds" => args.click_seconds = flag.number::<u64>()?.max(1),
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// A client process and the pipe that drives it (closing stdin ends it).
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Client {
    fn start(addr: std::net::SocketAddr, circuits: usize) -> Result<Self, String> {
        let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(["scale-client", &addr.to_string(), &circuits.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Client {
            stdin: child.stdin.take(),
            child,
            lines,
        })
    }

    /// The next line the client prints that starts with `prefix` (waiting up to `limit`).
    fn expect(&self, prefix: &str, limit: Duration) -> Result<String, String> {
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("no `{prefix}` line from a client within {limit:?}"))?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_owned());
            }
            if line.starts_with("error") {
                return Err(format!("client: {line}"));
            }
        }
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("client stdin closed")?;
        writeln!(stdin, "{line}").map_err(|e| e.to_string())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

async fn scale(args: &Args) -> Result<(), String> {
    println!(
        "{} counter circuits over {} servers; load {}",
        args.circuits,
        args.servers,
        load_average()
    );
    let mut servers = Vec::with_capacity(args.servers);
    for _ in 0..args.servers {
        let mut command = Command::new(server::binary("counter")?);
        command.env("RUST_LOG", "error");
        servers.push(Server::start(command)?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before: Vec<usize> = servers.iter().map(|s| rss_bytes(s.pid)).collect();
    let started = Instant::now();
    let mut clients = Vec::with_capacity(args.servers);
    for (index, server) in servers.iter().enumerate() {
        let share =
            args.circuits / args.servers + usize::from(index < args.circuits % args.servers);
        clients.push(Client::start(server.addr, share)?);
    }
    for client in &clients {
        client.expect("ready", Duration::from_secs(1800))?;
    }
    let ramp = started.elapsed();
    // Let the servers finish what the ramp queued and the allocator settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after: Vec<usize> = servers.iter().map(|s| rss_bytes(s.pid)).collect();
    let grown: usize = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let client_rss: usize = clients.iter().map(|c| rss_bytes(c.child.id())).sum();
    let mib = |b: usize| b as f64 / 1_048_576.0;
    println!(
        "all {} circuits live after {:.1} s of ramp; load {}",
        args.circuits,
        ramp.as_secs_f64(),
        load_average()
    );
    println!(
        "server RSS (MiB) before: {}; after: {}; total {:.1} MiB",
        before
            .iter()
            .map(|b| format!("{:.1}", mib(*b)))
            .collect::<Vec<_>>()
            .join(", "),
        after
            .iter()
            .map(|b| format!("{:.1}", mib(*b)))
            .collect::<Vec<_>>()
            .join(", "),
        mib(after.iter().sum())
    );
    println!(
        "memory per live circuit (server RSS growth / circuits): {:.2} KB; the client processes hold {:.1} MiB",
        grown as f64 / args.circuits as f64 / 1024.0,
        mib(client_rss)
    );
    let load = load_average();
    for client in &mut clients {
        client.send(&format!("click {}", args.click_seconds))?;
    }
    for (index, client) in clients.iter().enumerate() {
        let report = client.expect("clicked", Duration::from_secs(args.click_seconds + 600))?;
        println!(
            "server {index}: one click per circuit over {} s: {report}",
            args.click_seconds
        );
    }
    println!("load during the clicks {load} -> {}", load_average());
    drop(clients);
    drop(servers);
    Ok(())
}

/// `tether-load scale-client ADDR N`: starts N circuits on ADDR, prints `ready`, then follows commands on
/// stdin (`click S`: one click per circuit spread over S seconds, then `clicked …`) until stdin closes.
async fn client(addr: std::net::SocketAddr, circuits: usize) -> Result<(), String> {
    let mut tabs = Vec::with_capacity(circuits);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    while tabs.len() < circuits {
        if keep_alive_due(&mut keep_alive) {
            ping_all(&mut tabs).await?;
        }
        let batch = (circuits - tabs.len()).min(100);
        let starting: Vec<_> = (0..batch)
            .map(|_| tokio::spawn(CounterTab::start(addr)))
            .collect();
        for task in starting {
            tabs.push(task.await.map_err(|e| e.to_string())??);
        }
    }
    println!("ready {}", tabs.len());
    // Commands come from a thread reading stdin (blocking reads stay off the runtime).
    let (tx, mut commands) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    loop {
        let line = tokio::select! {
            line = commands.recv() => match line {
                Some(line) => line,
                None => return Ok(()),
            },
            _ = keep_alive.tick() => {
                ping_all(&mut tabs).await?;
                continue;
            }
        };
        let Some(seconds) = line
            .trim()
            .strip_prefix("click ")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let count = tabs.len().max(1) as u64;
        let tasks: Vec<_> = tabs
            .drain(..)
            .enumerate()
            .map(|(index, mut tab)| {
                let delay = Duration::from_micros(index as u64 * seconds * 1_000_000 / count);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let round_trip = tab.click().await;
                    (tab, round_trip)
                })
            })
            .collect();
        let (mut samples, mut failed) = (Vec::new(), 0);
        for task in tasks {
            let (tab, round_trip) = task.await.map_err(|e| e.to_string())?;
            match round_trip {
                Ok(round_trip) => samples.push(round_trip),
                Err(_) => failed += 1,
            }
            tabs.push(tab);
        }
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "clicked {} ok, {failed} failed; round trip p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            samples.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

/// How often idle tabs ping their hub (the official client's interval).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn keep_alive_due(interval: &mut tokio::time::Interval) -> bool {
    use futures_util::FutureExt;
    interval.tick().now_or_never().is_some()
}

async fn ping_all(tabs: &mut [CounterTab]) -> Result<(), String> {
    for tab in tabs {
        tab.ping().await?;
    }
    Ok(())
}

/// Runs `tether-load scale ARGS…`.
pub(crate) async fn run(raw: Vec<String>) {
    let args = args::parse_or_exit(raw, USAGE, parse_args);
    if let Err(message) = scale(&args).await {
        eprintln!("tether-load scale: {message}");
        std::process::exit(1);
    }
}

/// Runs `tether-load scale-client ADDR N` (started by `scale`).
pub(crate) async fn run_client(raw: Vec<String>) {
    let parsed = match (raw.first(), raw.get(1)) {
        (Some(addr), Some(n)) => addr.parse().ok().zip(n.parse().ok()),
        _ => None,
    };
    let Some((addr, circuits)) = parsed else {
        println!("error: usage: tether-load scale-client ADDR N");
        std::process::exit(2);
    };
    if let Err(message) = client(addr, circuits).await {
        println!("error: {message}");
        std::process::exit(1);
    }
}
