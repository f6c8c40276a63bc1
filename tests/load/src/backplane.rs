//! `tether-load backplane fanout|keys --redis URL …`: what the Redis integrations cost.
//!
//! - `fanout [--senders 4] [--receivers 10] [--seconds 10]`: starts two release `chat` servers sharing the
//!   Redis, puts the senders on server A (each invokes `SendMessage` in a loop, one call in flight) and the
//!   receivers on server B, and counts what reaches B through Redis: messages per second published by A,
//!   deliveries per second on B, and messages lost (published but never delivered).
//! - `keys [--keys 10000] [--seconds 10] [--bytes 300]`: writes `--keys` keys shaped like persisted circuits
//!   (a `SET key value PX 8h` each, `--bytes` per value) as one pipeline, once a second, with the client the
//!   runtime uses, and reports each pipeline's time and the client process's CPU per key.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::args::{self, Flags};
use crate::server::{self, Server};

/// Starts the release chat example on the backplane; returns once it listens and has subscribed.
fn start_chat(redis: &str) -> Result<(Server, String), String> {
    let mut command = Command::new(server::binary("chat")?);
    command
        .env("TETHER_REDIS_URL", redis)
        .env("TETHER_METRICS", "1")
        .env("RUST_LOG", "error,tether::redis=info")
        .stderr(Stdio::piped());
    let mut server = Server::start(command)?;
    let stderr = server.take_stderr().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Redis backplane: subscribed") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the chat server did not subscribe to Redis within 10 s")?;
    let url = format!("ws://{}/chathub", server.addr);
    Ok((server, url))
}

pub(crate) const USAGE: &str = "usage: tether-load backplane fanout|keys --redis redis://HOST:PORT [--senders 4] [--receivers 10] [--seconds 10] (fanout) [--keys 10000] [--bytes 300] (keys)";

struct Args {
    command: String,
    redis: String,
    senders: usize,
    receivers: usize,
    seconds: u64,
    keys: usize,
    bytes: usize,
}

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let mut args = Args {
        command: flags.command()?,
        redis: String::new(),
        senders: 4,
        receivers: 10,
        seconds: 10,
        keys: 10_000,
        bytes: 300,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--redis" => args.redis = flag.value,
            "--senders" => args.senders = flag.number()?,
            "--receivers" => args.receivers = flag.number()?,
            "--seconds" => args.seconds = flag.number()?,
            "--keys" => args.keys = flag.number()?,
            "--bytes" => args.bytes = flag.number()?,
            _ => return Err(flag.unknown()),
        }
    }
    if args.redis.is_empty() {
        return Err("--redis is required".to_owned());
    }
    Ok(args)
}

pub(crate) async fn run(raw: Vec<String>) {
    let args = args::parse_or_exit(raw, USAGE, parse_args);
    let result = match args.command.as_str() {
        "fanout" => fanout(&args.redis, args.senders, args.receivers, args.seconds).await,
        "keys" => keys(&args.redis, args.keys, args.seconds, args.bytes).await,
        other => Err(format!("unknown command {other}\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("tether-load backplane: {e}");
        std::process::exit(1);
    }
}

async fn fanout(redis: &str, senders: usize, receivers: usize, seconds: u64) -> Result<(), String> {
    let (_a, url_a) = start_chat(redis)?;
    let (_b, url_b) = start_chat(redis)?;
    let delivered = Arc::new(AtomicU64::new(0));
    let mut sinks = Vec::new();
    for _ in 0..receivers {
        let mut ws = crate::open(&url_b).await?;
        let delivered = delivered.clone();
        sinks.push(tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m {
                    let n = t.as_str().matches("\"ReceiveMessage\"").count();
                    delivered.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for s in 0..senders {
        let mut ws = crate::open(&url_a).await?;
        let (stop, published) = (stop.clone(), published.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let call = format!(
                    "{{\"type\":1,\"invocationId\":\"{i}\",\"target\":\"SendMessage\",\"arguments\":[\"s{s}\",\"message {i}\"]}}\u{1e}"
                );
                if ws.send(Message::text(call)).await.is_err() {
                    return;
                }
                let done = format!("\"invocationId\":\"{i}\"");
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str().contains(&done) => break,
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
                published.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = published.load(Ordering::Relaxed);
    // Let what is in flight arrive: wait until deliveries stop growing for half a second.
    let mut last = delivered.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = delivered.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let expected = sent * receivers as u64;
    let dropped = metric(&url_a, "tether_backplane_dropped_total").await?;
    let received = metric(&url_b, "tether_backplane_received_total").await?;
    println!(
        "backplane: A dropped {dropped} frames; B received {received} frames from Redis \
         (so deliveries lost beyond that were dropped at B's full connection queues)"
    );
    println!(
        "fan-out A→Redis→B: {senders} senders on A, {receivers} receivers on B, {seconds} s\n\
         published by A: {sent} ({:.0}/s)\n\
         delivered on B: {last} of {expected} ({:.0}/s), lost {}",
        sent as f64 / elapsed,
        last as f64 / elapsed,
        expected.saturating_sub(last)
    );
    for s in sinks {
        s.abort();
    }
    Ok(())
}

/// One sample of `name{hub="chat"}` from the chat server's `/metrics`.
async fn metric(ws_url: &str, name: &str) -> Result<u64, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = ws_url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default();
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    tcp.read_to_string(&mut body)
        .await
        .map_err(|e| e.to_string())?;
    let prefix = format!("{name}{{hub=\"chat\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(format!("no {name} in /metrics"))
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // utime and stime are fields 14 and 15, after the parenthesised command name.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

async fn keys(redis: &str, count: usize, seconds: u64, bytes: usize) -> Result<(), String> {
    let client = redis::Client::open(redis).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_manager()
        .await
        .map_err(|e| e.to_string())?;
    let value = vec![0xA5u8; bytes];
    let mut times = Vec::new();
    let cpu_before = cpu_seconds();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for round in 0..seconds {
        tick.tick().await;
        let started = Instant::now();
        let mut pipe = redis::pipe();
        for k in 0..count {
            pipe.cmd("SET")
                .arg(format!("tether:load:circuit:{k:08}"))
                .arg(&value)
                .arg("PX")
                .arg(8 * 60 * 60 * 1000)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| format!("round {round}: {e}"))?;
        times.push(started.elapsed());
    }
    let cpu = cpu_seconds() - cpu_before;
    let mut cleanup = redis::pipe();
    for k in 0..count {
        cleanup.del(format!("tether:load:circuit:{k:08}")).ignore();
    }
    cleanup
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "pipelined SET PX: {count} keys of {bytes} B once a second for {seconds} s\n\
         pipeline time: min {:.1} ms, median {:.1} ms, max {:.1} ms\n\
         client CPU: {:.2} µs per key ({:.1}% of one core at {count} keys/s)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        cpu * 1e6 / (count as f64 * seconds as f64),
        cpu * 100.0 / seconds as f64,
    );
    Ok(())
}
