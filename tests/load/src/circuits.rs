//! `tether-load circuits …`: the counter example under load. Build with
//! `cargo build --release -p counter -p tether-load`, then `ulimit -n 20000` and
//! `target/release/tether-load circuits memory --circuits 10000` (or `latency`, `shapes`).
//!
//! - `memory --circuits N`: starts the counter example (`target/release/counter`, next to this binary), opens
//!   N bare hub connections and reports the server's resident memory per connection, then, in a fresh server,
//!   opens N counter circuits (page, WebSocket, `StartCircuit`, first batch acknowledged) and reports memory
//!   per idle connected circuit. Connections ramp in batches of at most 100.
//! - `latency --circuits N --seconds S`: N circuits each click once per second for S seconds; reports the
//!   event → batch round trip (client send to batch received) p50/p90/p99/max and server CPU per event.
//! - `shapes`: measures the two circuit execution shapes (a lock per circuit vs a task and mpsc inbox per
//!   circuit) in this process, 10,000 of each.
//!
//! `--addr HOST:PORT --pid PID` uses an already running counter server instead of starting one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const RS: char = '\u{1e}';
const RAMP: usize = 100;

struct Args {
    command: String,
    circuits: usize,
    seconds: u64,
    addr: Option<SocketAddr>,
    pid: Option<u32>,
}

fn parse_args(raw: Vec<String>) -> Result<Args, String> {
    let mut raw = raw.into_iter();
    let command = raw.next().ok_or("usage: tether-load circuits memory|latency|shapes [--circuits N] [--seconds S] [--addr A --pid P]")?;
    let mut args = Args {
        command,
        circuits: 1000,
        seconds: 20,
        addr: None,
        pid: None,
    };
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--circuits" => {
                args.circuits = value.parse().map_err(|_| "--circuits takes a number")?
            }
            "--seconds" => args.seconds = value.parse().map_err(|_| "--seconds takes a number")?,
            "--addr" => args.addr = Some(value.parse().map_err(|_| "--addr takes HOST:PORT")?),
            "--pid" => args.pid = Some(value.parse().map_err(|_| "--pid takes a number")?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// The counter server under test: one we started (killed on drop) or one given by address and pid.
struct Server {
    addr: SocketAddr,
    pid: u32,
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_server(args: &Args) -> Result<Server, String> {
    if let (Some(addr), Some(pid)) = (args.addr, args.pid) {
        return Ok(Server {
            addr,
            pid,
            child: None,
        });
    }
    let binary = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("counter");
    let mut child = Command::new(&binary)
        .env("ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e} (build it with `cargo build --release -p counter -p tether-load`)",
                binary.display()
            )
        })?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .ok_or(format!("unexpected first line from the server: {line:?}"))?;
    Ok(Server {
        addr,
        pid: child.id(),
        child: Some(child),
    })
}

pub(crate) fn rss_bytes(pid: u32) -> usize {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0)
        * 4096
}

pub(crate) async fn get_page(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    stream
        .read_to_string(&mut body)
        .await
        .map_err(|e| e.to_string())?;
    Ok(body)
}

pub(crate) fn descriptors(page: &str) -> Vec<String> {
    page.match_indices("<!--t:r:")
        .filter_map(|(at, _)| {
            let start = at + 8;
            page[start..]
                .find("-->")
                .map(|end| page[start..start + end].to_owned())
        })
        .collect()
}

/// One hub connection (JSON protocol over WebSockets with small buffers).
struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    queued: VecDeque<Value>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Self, String> {
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = 4096;
        config.write_buffer_size = 0;
        let (ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/_tether"),
            Some(config),
            true,
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut connection = Self {
            ws,
            queued: VecDeque::new(),
        };
        connection
            .write(&json!({"protocol": "json", "version": 1}))
            .await?;
        connection.read().await?;
        Ok(connection)
    }

    async fn write(&mut self, message: &Value) -> Result<(), String> {
        let mut text = message.to_string();
        text.push(RS);
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| e.to_string())
    }

    async fn read(&mut self) -> Result<Value, String> {
        loop {
            if let Some(message) = self.queued.pop_front() {
                return Ok(message);
            }
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    for part in text.as_str().split(RS).filter(|p| !p.is_empty()) {
                        self.queued
                            .push_back(serde_json::from_str(part).map_err(|e| e.to_string())?);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("connection closed".into()),
            }
        }
    }

    /// The next `T.Batch`: (id, batch).
    async fn batch(&mut self) -> Result<(u64, Value), String> {
        loop {
            let message = self.read().await?;
            if message["type"] == 1 && message["target"] == "T.Batch" {
                return Ok((
                    message["arguments"][0].as_u64().unwrap_or(0),
                    message["arguments"][1].clone(),
                ));
            }
            if message["type"] == 1 && message["target"] == "T.Error" {
                return Err(format!("circuit error: {}", message["arguments"][0]));
            }
        }
    }
}

/// A started counter circuit: the connection and the `#increment` handler id.
struct Circuit {
    connection: Connection,
    increment: u64,
}

async fn start_circuit(addr: SocketAddr) -> Result<Circuit, String> {
    let page = get_page(addr, "/").await?;
    let mut connection = Connection::open(addr).await?;
    let base = format!("http://{addr}/");
    let start = json!({"type": 1, "invocationId": "1", "target": "StartCircuit", "arguments": [1, base, base, descriptors(&page)]});
    connection.write(&start).await?;
    let (id, batch) = connection.batch().await?;
    let text = batch.to_string();
    let increment = text
        .split("id=\\\"increment\\\" t-click=\\\"")
        .nth(1)
        .and_then(|rest| rest.split('\\').next())
        .and_then(|n| n.parse().ok())
        .ok_or(format!("no #increment handler in {text}"))?;
    connection
        .write(&json!({"type": 1, "target": "OnRenderCompleted", "arguments": [id, null]}))
        .await?;
    Ok(Circuit {
        connection,
        increment,
    })
}

async fn ramp<T: Send + 'static, F, Fut>(count: usize, open: F) -> Result<Vec<T>, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let mut opened = Vec::with_capacity(count);
    while opened.len() < count {
        let batch = (count - opened.len()).min(RAMP);
        let tasks: Vec<_> = (0..batch).map(|_| tokio::spawn(open())).collect();
        for task in tasks {
            opened.push(task.await.map_err(|e| e.to_string())??);
        }
    }
    Ok(opened)
}

async fn settle(pid: u32) -> usize {
    // Let the server finish queued work and the allocator return what it will.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rss_bytes(pid)
}

async fn memory(args: &Args) -> Result<(), String> {
    let n = args.circuits as f64;
    // Two fresh server processes, so that the second measurement does not reuse memory freed by the first.
    let connection_cost = {
        let server = start_server(args)?;
        let addr = server.addr;
        let warm = ramp(10, move || start_circuit(addr)).await?;
        let baseline = settle(server.pid).await;
        let bare = ramp(args.circuits, move || Connection::open(addr)).await?;
        let loaded = settle(server.pid).await;
        drop((bare, warm));
        println!(
            "server RSS baseline (10 warm circuits): {:.1} MiB",
            baseline as f64 / 1048576.0
        );
        loaded.saturating_sub(baseline) as f64 / n
    };
    let circuit_cost = {
        let server = start_server(args)?;
        let addr = server.addr;
        let warm = ramp(10, move || start_circuit(addr)).await?;
        let baseline = settle(server.pid).await;
        let circuits = ramp(args.circuits, move || start_circuit(addr)).await?;
        let loaded = settle(server.pid).await;
        drop((circuits, warm));
        loaded.saturating_sub(baseline) as f64 / n
    };
    println!(
        "{} idle hub connections (handshake only): {:.2} KB each",
        args.circuits,
        connection_cost / 1024.0
    );
    println!(
        "{} idle connected counter circuits: {:.2} KB each, all in",
        args.circuits,
        circuit_cost / 1024.0
    );
    println!(
        "  of which the circuit itself (difference): {:.2} KB",
        (circuit_cost - connection_cost) / 1024.0
    );
    Ok(())
}

async fn latency(args: &Args) -> Result<(), String> {
    let server = start_server(args)?;
    let addr = server.addr;
    let circuits = ramp(args.circuits, move || start_circuit(addr)).await?;
    let samples = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(
        args.circuits * args.seconds as usize,
    )));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, mut circuit) in circuits.into_iter().enumerate() {
        let samples = samples.clone();
        let seconds = args.seconds;
        let offset =
            Duration::from_micros((index as u64 * 1_000_000 / args.circuits as u64) % 1_000_000);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, Duration::from_secs(1));
            for _ in 0..seconds {
                tick.tick().await;
                let event = json!({"type": 1, "target": "DispatchEvent", "arguments": [circuit.increment, "click", {}]});
                let sent = Instant::now();
                circuit.connection.write(&event).await?;
                let (id, _) = circuit.connection.batch().await?;
                samples.lock().push(sent.elapsed());
                let ack = json!({"type": 1, "target": "OnRenderCompleted", "arguments": [id, null]});
                circuit.connection.write(&ack).await?;
            }
            Ok::<_, String>(circuit)
        }));
    }
    let cpu_before = cpu_ticks(server.pid);
    let mut kept = Vec::new();
    for task in tasks {
        kept.push(task.await.map_err(|e| e.to_string())??);
    }
    let cpu = cpu_ticks(server.pid).saturating_sub(cpu_before);
    let elapsed = started.elapsed();
    let mut samples = std::mem::take(&mut *samples.lock());
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{} circuits x 1 event/s for {} s: {} round trips in {:.1} s",
        args.circuits,
        args.seconds,
        samples.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "event -> batch: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.90).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    println!(
        "server CPU: {:.1} us per event (event + batch + ack)",
        cpu as f64 * 10_000.0 / samples.len().max(1) as f64
    );
    drop(kept);
    Ok(())
}

/// utime + stime of a process, in clock ticks (10 ms).
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Stand-ins for a circuit's state and inbound message, sized like the real ones.
struct ShapeState {
    _data: [u64; 32],
}

#[allow(dead_code)]
enum ShapeInbound {
    Event {
        handler_id: u64,
        event: String,
        args: Value,
    },
    Ack {
        batch: u64,
        error: Option<String>,
    },
}

async fn shapes() {
    let n = 10_000;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pid = std::process::id();
    let before = rss_bytes(pid);
    let locked: Vec<_> = (0..n)
        .map(|_| Arc::new(parking_lot::Mutex::new(ShapeState { _data: [1; 32] })))
        .collect();
    let after_locked = rss_bytes(pid);
    let mut inboxes = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ShapeInbound>(32);
        let state = ShapeState { _data: [1; 32] };
        tokio::spawn(async move {
            let _state = state;
            while rx.recv().await.is_some() {}
        });
        inboxes.push(tx);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_tasks = rss_bytes(pid);
    println!(
        "state stand-in: {} bytes; inbound message: {} bytes",
        std::mem::size_of::<ShapeState>(),
        std::mem::size_of::<ShapeInbound>()
    );
    println!(
        "lock per circuit: {} bytes per circuit",
        (after_locked - before) / n
    );
    println!(
        "task + mpsc inbox per circuit: {} bytes per circuit",
        (after_tasks - after_locked) / n
    );
    drop(locked);
    drop(inboxes);
}

/// Runs `tether-load circuits ARGS…`.
pub(crate) async fn run(raw: Vec<String>) {
    let args = match parse_args(raw) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let result = match args.command.as_str() {
        "memory" => memory(&args).await,
        "latency" => latency(&args).await,
        "shapes" => {
            shapes().await;
            Ok(())
        }
        other => Err(format!(
            "unknown command {other}: use memory, latency or shapes"
        )),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
