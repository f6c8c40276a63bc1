//! `tether-load churn …`: a soak of the counter example. Build with
//! `cargo build --release -p counter -p tether-load`, then
//! `ulimit -n 20000; target/release/tether-load churn --circuits 10000 --seconds 600`.
//!
//! N simulated tabs run for the given time. Each starts a circuit (page, hub connection, `StartCircuit`,
//! first batch acknowledged), clicks a few times at random intervals, then drops its connection without a
//! goodbye (the socket is just closed) and either reconnects to the same circuit after a pause
//! (`ConnectCircuit` with its secret; a circuit the server no longer has means a new one) or, one time in
//! four, abandons it and starts a new one, which leaves a retained circuit for the server to evict.
//! `--transport longpolling` does the same over long polling (negotiate, polls and sends on two kept-alive
//! HTTP connections per tab; a drop closes both mid-poll).
//!
//! Every `--sample` seconds it prints the server's resident memory, open file descriptors
//! (`/proc/PID/fd`) and CPU share (`/proc/PID/stat`) with the traffic of that interval. After the run
//! every tab closes its connection and the server is watched for `--idle` seconds: its CPU share then should
//! be about zero. A verdict compares memory and descriptors after warm-up (the first third of the run).
//!
//! The server is started with `TETHER_MAX_RETAINED` = N (so a dropped tab can come back) and
//! `TETHER_RETENTION_MS` = `--retention-ms` (default 60,000), so that abandoned circuits are evicted
//! within the run and memory reaches its steady state.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::args::{self, Flags};
use crate::circuits::{descriptors, get_page, PROTOCOL_VERSION};
use crate::server::{binary, cpu_ticks, rss_bytes, Server};

mod link;

use link::Link;

const RS: char = '\u{1e}';
/// How long one hub operation (handshake, a batch after a click) may take before the tab counts an error.
const OP_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    circuits: usize,
    seconds: u64,
    sample: u64,
    idle: u64,
    retention_ms: u64,
    long_polling: bool,
}

pub(crate) const USAGE: &str = "usage: tether-load churn [--circuits N] [--seconds S] [--transport websockets|longpolling] [--sample S] [--idle S] [--retention-ms MS]";

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let mut args = Args {
        circuits: 1000,
        seconds: 60,
        sample: 30,
        idle: 60,
        retention_ms: 60_000,
        long_polling: false,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--circuits" => args.circuits = flag.number()?,
            "--seconds" => args.seconds = flag.number()?,
            "--sample" => args.sample = flag.number::<u64>()?.max(1),
            "--idle" => args.idle = flag.number()?,
            "--retention-ms" => args.retention_ms = flag.number()?,
            "--transport" => {
                args.long_polling = match flag.value.as_str() {
                    "websockets" => false,
                    "longpolling" => true,
                    other => {
                        return Err(format!(
                            "--transport {other}: use websockets or longpolling"
                        ))
                    }
                }
            }
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// What the tabs did, summed; the sampler reads and diffs it.
#[derive(Default)]
struct Counters {
    started: AtomicU64,
    resumed: AtomicU64,
    lost: AtomicU64,
    clicks: AtomicU64,
    drops: AtomicU64,
    errors: AtomicU64,
    connected: AtomicU64,
}

/// A small deterministic generator per tab (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

/// One tab's hub connection with its circuit's bookkeeping: received batches are acknowledged as they come.
struct Tab {
    link: Link,
    pending: std::collections::VecDeque<Value>,
}

impl Tab {
    async fn open(addr: SocketAddr, long_polling: bool) -> Result<Self, String> {
        let mut tab = Tab {
            link: Link::open(addr, long_polling).await?,
            pending: Default::default(),
        };
        let handshake = tab.next().await?;
        if handshake.get("error").is_some() {
            return Err(format!("handshake refused: {handshake}"));
        }
        Ok(tab)
    }

    async fn next(&mut self) -> Result<Value, String> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return Ok(message);
            }
            let text = tokio::time::timeout(OP_TIMEOUT, self.link.receive())
                .await
                .map_err(|_| "no answer within 30 s".to_owned())??;
            for record in text.split(RS).filter(|r| !r.is_empty()) {
                self.pending
                    .push_back(serde_json::from_str(record).map_err(|e| e.to_string())?);
            }
        }
    }

    /// Reads until `done` accepts a message, acknowledging every batch on the way; returns that message.
    async fn until(&mut self, done: impl Fn(&Value) -> bool) -> Result<Value, String> {
        loop {
            let message = self.next().await?;
            if message["type"] == 1 && message["target"] == "T.Batch" {
                let id = message["arguments"][0].clone();
                self.link
                    .send(
                        &json!({"type": 1, "target": "OnRenderCompleted", "arguments": [id, null]}),
                    )
                    .await?;
                if done(&message) {
                    return Ok(message);
                }
            } else if message["type"] == 1 && message["target"] == "T.Error" {
                return Err(format!("circuit error: {}", message["arguments"][0]));
            } else if message["type"] == 7 {
                return Err(format!("server closed the connection: {message}"));
            } else if done(&message) {
                return Ok(message);
            }
        }
    }
}

fn completion(id: &'static str) -> impl Fn(&Value) -> bool {
    move |m: &Value| m["type"] == 3 && m["invocationId"] == id
}

fn is_batch(m: &Value) -> bool {
    m["type"] == 1 && m["target"] == "T.Batch"
}

/// Starts a counter circuit: (tab, secret, `#increment` handler id).
async fn start(addr: SocketAddr, long_polling: bool) -> Result<(Tab, String, u64), String> {
    let page = get_page(addr, "/").await?;
    let mut tab = Tab::open(addr, long_polling).await?;
    let base = format!("http://{addr}/");
    tab.link
        .send(&json!({"type": 1, "invocationId": "s", "target": "StartCircuit", "arguments": [PROTOCOL_VERSION.load(Ordering::Relaxed), base, base, descriptors(&page)]}))
        .await?;
    // The first batch and the completion with the secret may come in either order.
    let (mut secret, mut batch) = (None, None);
    while secret.is_none() || batch.is_none() {
        let message = tab.until(|m| is_batch(m) || completion("s")(m)).await?;
        if is_batch(&message) {
            batch.get_or_insert(message);
        } else {
            let result = message["result"].as_str();
            secret = Some(
                result
                    .ok_or(format!("StartCircuit failed: {message}"))?
                    .to_owned(),
            );
        }
    }
    let (secret, batch) = (secret.unwrap_or_default(), batch.unwrap_or_default());
    let text = batch["arguments"][1].to_string();
    let increment = text
        .split("id=\\\"increment\\\" t-click=\\\"")
        .nth(1)
        .and_then(|rest| rest.split('\\').next())
        .and_then(|n| n.parse().ok())
        .ok_or(format!("no #increment handler in {text}"))?;
    Ok((tab, secret, increment))
}

/// One simulated tab until `deadline`.
async fn tab_life(
    addr: SocketAddr,
    long_polling: bool,
    seed: u64,
    deadline: Instant,
    counters: Arc<Counters>,
) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut circuit: Option<(String, u64)> = None;
    while Instant::now() < deadline {
        let attempt = async {
            let (mut tab, secret, increment) = match circuit.take() {
                Some((secret, increment)) => {
                    let mut tab = Tab::open(addr, long_polling).await?;
                    tab.link
                        .send(&json!({"type": 1, "invocationId": "c", "target": "ConnectCircuit", "arguments": [secret]}))
                        .await?;
                    let done = tab.until(completion("c")).await?;
                    if done["result"] == true {
                        counters.resumed.fetch_add(1, Ordering::Relaxed);
                        (tab, secret, increment)
                    } else {
                        counters.lost.fetch_add(1, Ordering::Relaxed);
                        drop(tab);
                        start(addr, long_polling).await?
                    }
                }
                None => {
                    let started = start(addr, long_polling).await?;
                    counters.started.fetch_add(1, Ordering::Relaxed);
                    started
                }
            };
            counters.connected.fetch_add(1, Ordering::Relaxed);
            let clicks = 2 + rng.below(6);
            let mut outcome = Ok(());
            for _ in 0..clicks {
                tokio::time::sleep(rng.millis(1_000, 9_000)).await;
                if Instant::now() >= deadline {
                    break;
                }
                let click = async {
                    tab.link
                        .send(&json!({"type": 1, "target": "DispatchEvent", "arguments": [increment, "click", {}]}))
                        .await?;
                    tab.until(is_batch).await
                };
                if let Err(e) = click.await {
                    outcome = Err(e);
                    break;
                }
                counters.clicks.fetch_add(1, Ordering::Relaxed);
            }
            counters.connected.fetch_sub(1, Ordering::Relaxed);
            // The drop: the socket closes with no Close message, as when a tab's network goes away.
            drop(tab);
            counters.drops.fetch_add(1, Ordering::Relaxed);
            outcome.map(|()| (secret, increment))
        };
        match attempt.await {
            Ok(kept) => {
                if rng.below(4) != 0 {
                    circuit = Some(kept);
                }
            }
            Err(e) => {
                if counters.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("tab {seed}: {e}");
                }
            }
        }
        tokio::time::sleep(rng.millis(500, 3_000)).await;
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The counter server with the soak's retention settings.
fn start_server(args: &Args) -> Result<Server, String> {
    let mut command = Command::new(binary("counter")?);
    command
        .env("RUST_LOG", "error")
        .env("TETHER_MAX_RETAINED", args.circuits.to_string())
        .env("TETHER_RETENTION_MS", args.retention_ms.to_string());
    Server::start(command)
}

/// One row of the table.
struct Sample {
    at: f64,
    rss_mib: f64,
    fds: usize,
    cpu_percent: f64,
}

async fn churn(args: &Args) -> Result<(), String> {
    let server = start_server(args)?;
    let (addr, pid) = (server.addr, server.pid);
    let transport = if args.long_polling {
        "long polling"
    } else {
        "WebSockets"
    };
    println!(
        "churn: {} tabs over {transport} for {} s against counter (pid {pid}), retention {} ms",
        args.circuits, args.seconds, args.retention_ms
    );
    println!(
        "{:>7} {:>9} {:>7} {:>6} {:>9} {:>8} {:>8} {:>6} {:>8} {:>7} {:>6}",
        "t (s)",
        "RSS MiB",
        "fds",
        "CPU %",
        "connected",
        "started",
        "resumed",
        "lost",
        "clicks/s",
        "drops",
        "errors"
    );
    let counters = Arc::new(Counters::default());
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs(args.seconds);
    // Ramp: 100 tabs every 200 ms keeps the accept backlog (128) from overflowing.
    let mut tabs = Vec::with_capacity(args.circuits);
    let ramp = {
        let counters = counters.clone();
        let (circuits, long_polling) = (args.circuits, args.long_polling);
        tokio::spawn(async move {
            for i in 0..circuits {
                if i % 100 == 0 && i > 0 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                tabs.push(tokio::spawn(tab_life(
                    addr,
                    long_polling,
                    i as u64 + 1,
                    deadline,
                    counters.clone(),
                )));
            }
            tabs
        })
    };

    let tick = |s: u64| Duration::from_secs(s);
    let mut samples = Vec::new();
    let (mut last_cpu, mut last_at, mut last_clicks) = (cpu_ticks(pid), Instant::now(), 0u64);
    let mut print_row = |samples: &mut Vec<Sample>, counters: &Counters| {
        let (cpu, now) = (cpu_ticks(pid), Instant::now());
        let interval = now.duration_since(last_at).as_secs_f64();
        let clicks = counters.clicks.load(Ordering::Relaxed);
        let sample = Sample {
            at: now.duration_since(begun).as_secs_f64(),
            rss_mib: rss_bytes(pid) as f64 / 1048576.0,
            fds: open_fds(pid),
            cpu_percent: (cpu - last_cpu) as f64 / interval,
        };
        println!(
            "{:>7.0} {:>9.1} {:>7} {:>6.1} {:>9} {:>8} {:>8} {:>6} {:>8.0} {:>7} {:>6}",
            sample.at,
            sample.rss_mib,
            sample.fds,
            sample.cpu_percent,
            counters.connected.load(Ordering::Relaxed),
            counters.started.load(Ordering::Relaxed),
            counters.resumed.load(Ordering::Relaxed),
            counters.lost.load(Ordering::Relaxed),
            (clicks - last_clicks) as f64 / interval,
            counters.drops.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed),
        );
        samples.push(sample);
        (last_cpu, last_at, last_clicks) = (cpu, now, clicks);
    };
    while Instant::now() + tick(args.sample) <= deadline {
        tokio::time::sleep(tick(args.sample)).await;
        print_row(&mut samples, &counters);
    }
    let tabs = ramp.await.map_err(|e| e.to_string())?;
    for tab in tabs {
        // Tabs finish their current step (at most one click's wait) after the deadline.
        let _ = tab.await;
    }
    print_row(&mut samples, &counters);
    let run_samples = samples.len();

    println!("-- every tab closed; idle window of {} s --", args.idle);
    let idle_step = args.sample.clamp(1, 10);
    for _ in 0..args.idle / idle_step {
        tokio::time::sleep(tick(idle_step)).await;
        print_row(&mut samples, &counters);
    }

    // Verdict over the run after warm-up (its first third) and over the idle window.
    // The run's last row is taken while the tabs close, so it is left out.
    let warm = &samples[run_samples / 3..run_samples.saturating_sub(1).max(run_samples / 3)];
    let idle = &samples[run_samples..];
    if let (Some(first), Some(_)) = (warm.first(), idle.last()) {
        let max_rss = warm.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
        let min_rss = warm.iter().map(|s| s.rss_mib).fold(f64::MAX, f64::min);
        let (min_fds, max_fds) = (
            warm.iter().map(|s| s.fds).min().unwrap_or(0),
            warm.iter().map(|s| s.fds).max().unwrap_or(0),
        );
        let idle_cpu = idle
            .iter()
            .skip(1)
            .map(|s| s.cpu_percent)
            .fold(0.0, f64::max);
        println!(
            "after warm-up (t >= {:.0} s): RSS {min_rss:.1}..{max_rss:.1} MiB (spread {:.1}% of the minimum), fds {min_fds}..{max_fds}",
            first.at,
            (max_rss - min_rss) / min_rss * 100.0
        );
        println!(
            "idle after the run: CPU at most {idle_cpu:.1}% per sample (first sample skipped: closing), fds {} at the end, RSS {:.1} MiB",
            idle.last().map_or(0, |s| s.fds),
            idle.last().map_or(0.0, |s| s.rss_mib)
        );
    }
    drop(server);
    Ok(())
}

/// Runs `tether-load churn ARGS…`.
pub(crate) async fn run(raw: Vec<String>) {
    let args = args::parse_or_exit(raw, USAGE, parse_args);
    if let Err(message) = churn(&args).await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
