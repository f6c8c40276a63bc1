//! `tether-load persisted bytes|cpu|resume|rolling --redis URL …`: persisted circuits (issue 10) with the
//! counter example on a Redis of its own. Build with `cargo build --release -p counter -p tether-load`,
//! start `redis-server --port 6390 --save '' --appendonly no`, `ulimit -n 20000`, then for example
//! `target/release/tether-load persisted resume --redis redis://127.0.0.1:6390 --circuits 1000`.
//!
//! Every mode first deletes the `tether:circuit:*` keys of that Redis. Servers share a random key made for
//! the run (`TETHER_PERSISTENCE_KEY`), so a circuit persisted by one opens on the other.
//!
//! - `bytes [--circuits 100]`: N counter circuits click three times each; once write-behind has saved them,
//!   reports the value bytes per key (the 32-byte claim, the generation and the sealed blob) and Redis's
//!   `MEMORY USAGE`.
//! - `cpu [--circuits 1000] [--seconds 30] [--rounds 2]`: two servers at once, one with write-behind off and
//!   one with it on (1 s), N circuits each clicking once a second; reports each server's CPU per event (and
//!   Redis's), and their ratio, `--rounds` times with fresh servers.
//! - `resume [--circuits 1000] [--rate 200]`: N circuits start on server A and click once; each pauses, then
//!   resumes on server B, `--rate` per second: the time from opening the connection to B to the resumed first
//!   batch. Then B gets SIGTERM and every tab resumes on A at once (the burst a restart causes).
//! - `rolling [--circuits 1000] [--settle 10]`: N tabs spread over servers A and B click once a second each;
//!   A gets SIGTERM and is restarted on the same port, `--settle` seconds later B the same, then the tabs run
//!   `--settle` seconds more. Reports circuits lost, events lost and the longest pause a tab saw.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::args::{self, Flags};
use crate::counter_tab::{CounterTab, Departure, ResumeError};
use crate::server::{self, cpu_ticks, load_average, Server};

struct Args {
    command: String,
    redis: String,
    circuits: usize,
    seconds: u64,
    rounds: usize,
    rate: u64,
    settle: u64,
}

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let command = flags.command()?;
    let mut args = Args {
        command,
        redis: String::new(),
        circuits: 0,
        seconds: 30,
        rounds: 2,
        rate: 200,
        settle: 10,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--redis" => args.redis = flag.value,
            "--circuits" => args.circuits = flag.number()?,
            "--seconds" => args.seconds = flag.number()?,
            "--rounds" => args.rounds = flag.number()?,
            "--rate" => args.rate = flag.number::<u64>()?.max(1),
            "--settle" => args.settle = flag.number()?,
            _ => return Err(flag.unknown()),
        }
    }
    if args.redis.is_empty() {
        return Err("--redis is required".to_owned());
    }
    if args.circuits == 0 {
        args.circuits = if args.command == "bytes" { 100 } else { 1000 };
    }
    Ok(args)
}

pub(crate) const USAGE: &str = "usage: tether-load persisted bytes|cpu|resume|rolling --redis redis://HOST:PORT [--circuits N] [--seconds S] [--rounds R] [--rate R] [--settle S]";

/// The run's servers: counter examples on one Redis with one persistence key.
struct Fleet {
    redis: String,
    key: String,
}

impl Fleet {
    fn new(redis: &str) -> Self {
        // A fresh key per run, from the standard library's randomly seeded hasher.
        let key = (0..4)
            .map(|i| {
                use std::hash::{BuildHasher, Hasher};
                let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
                hasher.write_u64(i);
                format!("{:016x}", hasher.finish())
            })
            .collect();
        Fleet {
            redis: redis.to_owned(),
            key,
        }
    }

    /// A counter server; `write_behind_ms` 0 turns write-behind off.
    fn counter(&self, addr: &str, write_behind_ms: u64) -> Result<Server, String> {
        let mut command = Command::new(server::binary("counter")?);
        command
            .env("RUST_LOG", "warn")
            .env("TETHER_REDIS_URL", &self.redis)
            .env("TETHER_PERSISTENCE_KEY", &self.key)
            .env("TETHER_WRITE_BEHIND_MS", write_behind_ms.to_string())
            .env("TETHER_MAX_RETAINED", "100000");
        Server::start_at(command, addr)
    }
}

async fn redis_connection(url: &str) -> Result<ConnectionManager, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    client
        .get_connection_manager()
        .await
        .map_err(|e| e.to_string())
}

async fn circuit_keys(redis: &mut ConnectionManager) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("tether:circuit:*")
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await
            .map_err(|e| e.to_string())?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

async fn clear_circuits(redis: &mut ConnectionManager) -> Result<(), String> {
    for key in circuit_keys(redis).await? {
        redis::cmd("DEL")
            .arg(&key)
            .query_async::<()>(redis)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Redis's `INFO` field `name` (a number).
async fn redis_info(redis: &mut ConnectionManager, name: &str) -> Result<u64, String> {
    let info: String = redis::cmd("INFO")
        .arg("all")
        .query_async(redis)
        .await
        .map_err(|e| e.to_string())?;
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().trim_start_matches("calls=").parse().ok())
        .ok_or(format!("no {name} in INFO"))
}

/// Starts `count` counter circuits, at most 100 starting at once (the accept backlog is 128).
async fn start_tabs(addr: SocketAddr, count: usize) -> Result<Vec<CounterTab>, String> {
    let mut tabs = Vec::with_capacity(count);
    while tabs.len() < count {
        let batch = (count - tabs.len()).min(100);
        let started: Vec<_> = (0..batch)
            .map(|_| tokio::spawn(CounterTab::start(addr)))
            .collect();
        for task in started {
            tabs.push(task.await.map_err(|e| e.to_string())??);
        }
    }
    Ok(tabs)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    format!(
        "p50 {}, p90 {}, p99 {}, max {} ({} samples)",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.9)),
        ms(percentile(samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
        samples.len()
    )
}

async fn bytes(args: &Args) -> Result<(), String> {
    let fleet = Fleet::new(&args.redis);
    let mut redis = redis_connection(&args.redis).await?;
    clear_circuits(&mut redis).await?;
    let server = fleet.counter("127.0.0.1:0", 1000)?;
    let mut tabs = start_tabs(server.addr, args.circuits).await?;
    for tab in &mut tabs {
        for _ in 0..3 {
            tab.click()
                .await
                .map_err(|d| format!("{d:?} during a click"))?;
        }
    }
    // Write-behind saves each circuit one interval (1 s) after its last change.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let keys = circuit_keys(&mut redis).await?;
    let (mut value, mut blob, mut usage) = (0u64, 0u64, 0u64);
    for key in &keys {
        // Each circuit is a hash: `c` the 32-byte claim, `g` the generation, `b` the sealed blob.
        for field in ["c", "g", "b"] {
            let bytes = redis::cmd("HSTRLEN")
                .arg(key)
                .arg(field)
                .query_async::<u64>(&mut redis)
                .await
                .map_err(|e| e.to_string())?;
            value += bytes;
            if field == "b" {
                blob += bytes;
            }
        }
        usage += redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query_async::<u64>(&mut redis)
            .await
            .map_err(|e| e.to_string())?;
    }
    let n = keys.len().max(1) as f64;
    println!(
        "{} counter circuits (count 3) -> {} keys; value {:.0} bytes each (32-byte claim, generation and {:.0}-byte sealed blob); Redis MEMORY USAGE {:.0} bytes per key; load average {}",
        args.circuits,
        keys.len(),
        value as f64 / n,
        blob as f64 / n,
        usage as f64 / n,
        load_average()
    );
    Ok(())
}

/// Every tab clicks once a second for `seconds`, spread evenly over the second; returns the round trips
/// and the tabs.
async fn click_every_second(
    tabs: Vec<CounterTab>,
    seconds: u64,
) -> Result<(Vec<Duration>, Vec<CounterTab>), String> {
    let count = tabs.len() as u64;
    let mut tasks = Vec::new();
    for (index, mut tab) in tabs.into_iter().enumerate() {
        let offset = Duration::from_micros((index as u64 * 1_000_000 / count) % 1_000_000);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + offset,
                Duration::from_secs(1),
            );
            let mut samples = Vec::with_capacity(seconds as usize);
            for _ in 0..seconds {
                tick.tick().await;
                samples.push(
                    tab.click()
                        .await
                        .map_err(|d| format!("{d:?} during a click"))?,
                );
            }
            Ok::<_, String>((samples, tab))
        }));
    }
    let (mut samples, mut kept) = (Vec::new(), Vec::new());
    for task in tasks {
        let (mine, tab) = task.await.map_err(|e| e.to_string())??;
        samples.extend(mine);
        kept.push(tab);
    }
    Ok((samples, kept))
}

async fn cpu(args: &Args) -> Result<(), String> {
    let fleet = Fleet::new(&args.redis);
    let mut redis = redis_connection(&args.redis).await?;
    let redis_pid = redis_info(&mut redis, "process_id").await? as u32;
    println!(
        "{} circuits x 1 event/s for {} s on each of two servers at once, write-behind off and on (1 s), {} rounds",
        args.circuits, args.seconds, args.rounds
    );
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        clear_circuits(&mut redis).await?;
        // Both run in the same window, so the machine's other work weighs on both alike.
        let off = fleet.counter("127.0.0.1:0", 0)?;
        let on = fleet.counter("127.0.0.1:0", 1000)?;
        let off_tabs = start_tabs(off.addr, args.circuits).await?;
        let on_tabs = start_tabs(on.addr, args.circuits).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let load_before = load_average();
        let before = [cpu_ticks(off.pid), cpu_ticks(on.pid), cpu_ticks(redis_pid)];
        let sets_before = redis_info(&mut redis, "cmdstat_set").await.unwrap_or(0);
        let (off_run, on_run) = tokio::join!(
            click_every_second(off_tabs, args.seconds),
            click_every_second(on_tabs, args.seconds)
        );
        let ((mut off_samples, off_tabs), (mut on_samples, on_tabs)) = (off_run?, on_run?);
        // The last write-behind saves land one interval after the last click.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let after = [cpu_ticks(off.pid), cpu_ticks(on.pid), cpu_ticks(redis_pid)];
        let sets = redis_info(&mut redis, "cmdstat_set").await.unwrap_or(0) - sets_before;
        let per_event = |i: usize, events: usize| {
            (after[i] - before[i]) as f64 * 10_000.0 / events.max(1) as f64
        };
        let (off_cpu, on_cpu) = (
            per_event(0, off_samples.len()),
            per_event(1, on_samples.len()),
        );
        println!(
            "round {round}: server CPU per event: write-behind off {off_cpu:.1} us, on {on_cpu:.1} us \
             (on/off {:.3}); Redis CPU {:.1} us and {:.2} saves per write-behind event; load {load_before} -> {}",
            on_cpu / off_cpu,
            per_event(2, on_samples.len()),
            sets as f64 / on_samples.len().max(1) as f64,
            load_average()
        );
        println!("  round trips off: {}", summary(&mut off_samples));
        println!("  round trips on:  {}", summary(&mut on_samples));
        ratios.push(on_cpu / off_cpu);
        drop((off_tabs, on_tabs));
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "server CPU per event, on / off: {} (median {:.3})",
        ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
        ratios[ratios.len() / 2]
    );
    clear_circuits(&mut redis).await?;
    Ok(())
}

/// Resumes every secret on `addr`, `rate` per second (or all at once when `rate` is 0); returns the times
/// to first batch, the tabs, and how many were refused.
async fn resume_all(
    secrets: Vec<(String, i64)>,
    addr: SocketAddr,
    rate: u64,
) -> Result<(Vec<Duration>, Vec<CounterTab>, usize), String> {
    let mut tasks = Vec::new();
    let started = tokio::time::Instant::now();
    for (index, (secret, count)) in secrets.into_iter().enumerate() {
        let delay = (index as u64 * 1_000_000)
            .checked_div(rate)
            .map_or(Duration::ZERO, Duration::from_micros);
        let at = started + delay;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            CounterTab::resume(secret, addr, count).await
        }));
    }
    let (mut times, mut tabs, mut refused) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        match task.await.map_err(|e| e.to_string())? {
            Ok(resumed) => {
                times.push(resumed.to_first_batch);
                tabs.push(resumed.tab);
            }
            Err(ResumeError::Refused) => refused += 1,
            Err(ResumeError::Retry(e)) => return Err(format!("resume failed: {e}")),
        }
    }
    Ok((times, tabs, refused))
}

async fn resume(args: &Args) -> Result<(), String> {
    let fleet = Fleet::new(&args.redis);
    let mut redis = redis_connection(&args.redis).await?;
    clear_circuits(&mut redis).await?;
    let a = fleet.counter("127.0.0.1:0", 1000)?;
    let mut b = fleet.counter("127.0.0.1:0", 1000)?;
    let mut tabs = start_tabs(a.addr, args.circuits).await?;
    for tab in &mut tabs {
        tab.click()
            .await
            .map_err(|d| format!("{d:?} during a click"))?;
    }
    let mut secrets = Vec::with_capacity(tabs.len());
    for tab in tabs {
        let count = tab.count;
        secrets.push((tab.pause().await?, count));
    }
    let load = load_average();
    let (mut times, tabs, refused) = resume_all(secrets, b.addr, args.rate).await?;
    println!(
        "paused on A, resumed on B at {}/s: reconnect -> first batch {}; refused {refused}; load {load} -> {}",
        args.rate,
        summary(&mut times),
        load_average()
    );

    // B shuts down with every tab connected: each is told to resume at once, and does so on A.
    let load = load_average();
    let a_addr = a.addr;
    let mut waits = Vec::new();
    for mut tab in tabs {
        waits.push(tokio::spawn(async move {
            let departure = tab.departure().await;
            let told = Instant::now();
            let resumed = CounterTab::resume(tab.secret.clone(), a_addr, tab.count).await;
            (departure, told.elapsed(), resumed.map(|r| r.to_first_batch))
        }));
    }
    let cpu_before = (cpu_ticks(a.pid), cpu_ticks(std::process::id()));
    let shutdown = b.terminate(Duration::from_secs(15)).await?;
    let (mut times, mut whole, mut refused, mut dropped) = (Vec::new(), Vec::new(), 0, 0);
    for wait in waits {
        let (departure, total, resumed) = wait.await.map_err(|e| e.to_string())?;
        if departure == Departure::Dropped {
            dropped += 1;
        }
        match resumed {
            Ok(time) => {
                times.push(time);
                whole.push(total);
            }
            Err(ResumeError::Refused) => refused += 1,
            Err(ResumeError::Retry(e)) => return Err(format!("resume on A failed: {e}")),
        }
    }
    let cpu_ms = |ticks: u64| ticks * 10;
    let (a_cpu, client_cpu) = (
        cpu_ms(cpu_ticks(a.pid) - cpu_before.0),
        cpu_ms(cpu_ticks(std::process::id()) - cpu_before.1),
    );
    println!(
        "B got SIGTERM (exited after {}); all {} tabs resumed on A at once: reconnect -> first batch {}; \
         told -> first batch {}; refused {refused}; dropped without T.Persisted {dropped}; CPU meanwhile: \
         A {a_cpu} ms ({:.0} us per resume), this client {client_cpu} ms; load {load} -> {}",
        ms(shutdown),
        args.circuits,
        summary(&mut times),
        summary(&mut whole),
        a_cpu as f64 * 1000.0 / args.circuits as f64,
        load_average()
    );
    clear_circuits(&mut redis).await?;
    Ok(())
}

/// What the tabs of a rolling restart saw, summed.
#[derive(Default)]
struct RollingStats {
    clicks: AtomicU64,
    /// Clicks sent on a connection that went away before their batch came.
    unanswered: AtomicU64,
    /// Of those, the ones the resumed circuit shows applied.
    unanswered_applied: AtomicU64,
    /// Confirmed clicks the resumed circuit does not show.
    events_lost: AtomicU64,
    circuits_lost: AtomicU64,
    resumes: AtomicU64,
    /// Departure (told to resume, or dropped) to the resumed first batch.
    pauses: parking_lot::Mutex<Vec<Duration>>,
    /// When the last SIGTERM was sent, and from then to each resumed first batch.
    signalled: parking_lot::Mutex<Option<Instant>>,
    since_signal: parking_lot::Mutex<Vec<Duration>>,
    round_trips: parking_lot::Mutex<Vec<Duration>>,
}

/// One tab: clicks once a second until `deadline`; when its server lets it go, resumes on the other one
/// (trying both in turn while neither takes it, for up to 30 s).
async fn rolling_tab(
    mut tab: CounterTab,
    mut at: usize,
    servers: [SocketAddr; 2],
    offset: Duration,
    deadline: tokio::time::Instant,
    stats: Arc<RollingStats>,
) {
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + offset, Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let confirmed = tab.count;
        let mut in_flight = false;
        let departure = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            departure = tab.departure() => departure,
            _ = tick.tick() => match tab.click().await {
                Ok(round_trip) => {
                    stats.clicks.fetch_add(1, Ordering::Relaxed);
                    stats.round_trips.lock().push(round_trip);
                    continue;
                }
                Err(departure) => {
                    in_flight = true;
                    departure
                }
            },
        };
        let _ = departure;
        let departed = Instant::now();
        let resumed = loop {
            at = 1 - at;
            match CounterTab::resume(tab.secret.clone(), servers[at], confirmed).await {
                Ok(resumed) => break Some(resumed),
                Err(ResumeError::Refused) => break None,
                Err(ResumeError::Retry(_)) if departed.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(ResumeError::Retry(_)) => break None,
            }
        };
        let Some(resumed) = resumed else {
            stats.circuits_lost.fetch_add(1, Ordering::Relaxed);
            return;
        };
        stats.pauses.lock().push(departed.elapsed());
        if let Some(signalled) = *stats.signalled.lock() {
            stats.since_signal.lock().push(signalled.elapsed());
        }
        stats.resumes.fetch_add(1, Ordering::Relaxed);
        tab = resumed.tab;
        if tab.count < confirmed {
            stats
                .events_lost
                .fetch_add((confirmed - tab.count) as u64, Ordering::Relaxed);
        }
        if in_flight {
            stats.unanswered.fetch_add(1, Ordering::Relaxed);
            if tab.count > confirmed {
                stats.unanswered_applied.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn rolling(args: &Args) -> Result<(), String> {
    let fleet = Fleet::new(&args.redis);
    let mut redis = redis_connection(&args.redis).await?;
    clear_circuits(&mut redis).await?;
    let mut servers = [
        fleet.counter("127.0.0.1:0", 1000)?,
        fleet.counter("127.0.0.1:0", 1000)?,
    ];
    let addrs = [servers[0].addr, servers[1].addr];
    let half = args.circuits / 2;
    let mut tabs = start_tabs(addrs[0], half).await?;
    tabs.extend(start_tabs(addrs[1], args.circuits - half).await?);
    let stats = Arc::new(RollingStats::default());
    let settle = Duration::from_secs(args.settle);
    // Warm-up, A's restart, B's restart, and a last interval.
    let deadline = tokio::time::Instant::now() + settle * 4;
    let count = tabs.len() as u64;
    let mut tasks = Vec::new();
    for (index, tab) in tabs.into_iter().enumerate() {
        let offset = Duration::from_micros((index as u64 * 1_000_000 / count) % 1_000_000);
        let at = usize::from(index >= half);
        tasks.push(tokio::spawn(rolling_tab(
            tab,
            at,
            addrs,
            offset,
            deadline,
            stats.clone(),
        )));
    }
    println!(
        "{} tabs, half on A ({}) and half on B ({}), 1 click/s each; restarts every {} s; load {}",
        args.circuits,
        addrs[0],
        addrs[1],
        args.settle,
        load_average()
    );
    for (index, name) in ["A", "B"].into_iter().enumerate() {
        tokio::time::sleep(settle).await;
        let load = load_average();
        *stats.signalled.lock() = Some(Instant::now());
        let exited = servers[index].terminate(Duration::from_secs(15)).await?;
        servers[index] = fleet.counter(&addrs[index].to_string(), 1000)?;
        println!(
            "{name}: SIGTERM, exited after {}, restarted on {}; load {load}; so far {} resumes, {} circuits lost",
            ms(exited),
            addrs[index],
            stats.resumes.load(Ordering::Relaxed),
            stats.circuits_lost.load(Ordering::Relaxed)
        );
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())?;
    }
    let mut pauses = std::mem::take(&mut *stats.pauses.lock());
    let mut round_trips = std::mem::take(&mut *stats.round_trips.lock());
    println!(
        "circuits lost {} of {}; resumes {}; events lost {} of {} confirmed clicks; clicks in flight at a shutdown {} ({} of them applied)",
        stats.circuits_lost.load(Ordering::Relaxed),
        args.circuits,
        stats.resumes.load(Ordering::Relaxed),
        stats.events_lost.load(Ordering::Relaxed),
        stats.clicks.load(Ordering::Relaxed),
        stats.unanswered.load(Ordering::Relaxed),
        stats.unanswered_applied.load(Ordering::Relaxed),
    );
    println!(
        "pause (told to resume -> resumed first batch): {}",
        summary(&mut pauses)
    );
    let mut since_signal = std::mem::take(&mut *stats.since_signal.lock());
    println!(
        "SIGTERM of the tab's server -> resumed first batch: {}",
        summary(&mut since_signal)
    );
    println!("click round trips: {}", summary(&mut round_trips));
    println!("load at the end {}", load_average());
    clear_circuits(&mut redis).await?;
    Ok(())
}

/// Runs `tether-load persisted ARGS…`.
pub(crate) async fn run(raw: Vec<String>) {
    let args = args::parse_or_exit(raw, USAGE, parse_args);
    let result = match args.command.as_str() {
        "bytes" => bytes(&args).await,
        "cpu" => cpu(&args).await,
        "resume" => resume(&args).await,
        "rolling" => rolling(&args).await,
        other => Err(format!("unknown command {other}\n{USAGE}")),
    };
    if let Err(message) = result {
        eprintln!("tether-load persisted: {message}");
        std::process::exit(1);
    }
}
