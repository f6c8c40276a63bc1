//! `tether-load circuits …`: the counter example under load, beside a floor. Build with
//! `cargo build --release -p counter -p tether-load`, then `ulimit -n 20000` and
//! `target/release/tether-load circuits memory --circuits 10000` (or `latency`, `shapes`).
//!
//! Every figure is printed beside the same figure for a bare WebSocket echo server with the hub's socket
//! settings (`tether-load echo-server`, see `echo.rs`), measured in the same run, and as a ratio to it: a
//! machine busy with other work slows both, so the ratio shows a regression that the raw figure would hide.
//!
//! - `memory --circuits N`: in a fresh server process each, opens N WebSocket connections to the echo
//!   floor (one message echoed), N bare hub connections to the counter example (handshake only), and N
//!   counter circuits (page, WebSocket, `StartCircuit`, first batch acknowledged); reports resident memory
//!   per connection. Connections ramp in batches of at most 100 (the accept backlog is 128).
//! - `latency --circuits N --seconds S`: N clients each send one event per second for S seconds, first to
//!   the echo floor (the event frame, echoed), then as clicks on N counter circuits (event → batch, then the
//!   ack); reports the round trip p50/p90/p99/max and the server's CPU per event.
//! - `shapes`: measures the two circuit execution shapes (a lock per circuit vs a task and mpsc inbox per
//!   circuit) in this process, 10,000 of each.
//!
//! `--addr HOST:PORT --pid PID` uses an already running counter server instead of starting one;
//! `--protocol-version 1` lets it be an older build (docs/performance.md compares builds this way).
//!
//! Acknowledgements: like the boot script since protocol version 3, a circuit client owes the ack of the
//! batch it received and sends it in the frame of its next event (alone first if that comes more than
//! `ACK_DELAY` later). `--acks alone` (and any `--protocol-version` below 3) sends each ack alone right
//! after its batch, as the boot script did before, to measure what deferring saves on the same server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::args::{self, Flags};
use crate::server::{binary, cpu_ticks, rss_bytes, Server};

const RS: char = '\u{1e}';
/// The Tether protocol version `StartCircuit` names (docs/protocol.md): the current one, or the one
/// `--protocol-version` gives to measure an older server (`--addr`, `--pid`) beside this run's floor.
pub(crate) static PROTOCOL_VERSION: AtomicU32 = AtomicU32::new(3);
/// `--acks alone`: every ack goes alone, right after its batch (the boot script before version 3).
static ACKS_ALONE: AtomicBool = AtomicBool::new(false);
/// The boot script's `ACK_DELAY_MS`: an owed ack waits at most this long for an event to ride with.
const ACK_DELAY: Duration = Duration::from_secs(2);
const RAMP: usize = 100;

struct Args {
    command: String,
    circuits: usize,
    seconds: u64,
    addr: Option<SocketAddr>,
    pid: Option<u32>,
}

pub(crate) const USAGE: &str = "usage: tether-load circuits memory|latency|shapes [--circuits N] [--seconds S] [--addr A --pid P] [--protocol-version N] [--acks alone|with-next]";

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let command = flags.command()?;
    let mut args = Args {
        command,
        circuits: 1000,
        seconds: 20,
        addr: None,
        pid: None,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--circuits" => args.circuits = flag.number()?,
            "--seconds" => args.seconds = flag.number()?,
            "--addr" => args.addr = Some(flag.parse("HOST:PORT")?),
            "--pid" => args.pid = Some(flag.number()?),
            "--protocol-version" => PROTOCOL_VERSION.store(flag.number()?, Ordering::Relaxed),
            "--acks" => ACKS_ALONE.store(
                match flag.value.as_str() {
                    "alone" => true,
                    "with-next" => false,
                    _ => return Err("--acks takes alone or with-next".into()),
                },
                Ordering::Relaxed,
            ),
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// The servers a run measures: the counter example, and the bare echo floor (`echo.rs`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Echo,
}

fn start_server(args: &Args, kind: Kind) -> Result<Server, String> {
    if let (Kind::Counter, Some(addr), Some(pid)) = (kind, args.addr, args.pid) {
        return Ok(Server::external(addr, pid));
    }
    let mut command = match kind {
        Kind::Counter => Command::new(binary("counter")?),
        Kind::Echo => {
            let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            command.arg("echo-server");
            command
        }
    };
    command.env("RUST_LOG", "warn");
    Server::start(command)
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
pub(crate) struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    queued: VecDeque<Value>,
}

impl Connection {
    pub(crate) async fn open(addr: SocketAddr) -> Result<Self, String> {
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

    pub(crate) async fn write(&mut self, message: &Value) -> Result<(), String> {
        self.write_all(std::slice::from_ref(message)).await
    }

    /// Writes `messages` in one WebSocket frame.
    async fn write_all(&mut self, messages: &[Value]) -> Result<(), String> {
        let mut text = String::new();
        for message in messages {
            text.push_str(&message.to_string());
            text.push(RS);
        }
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| e.to_string())
    }

    pub(crate) async fn read(&mut self) -> Result<Value, String> {
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
pub(crate) struct Circuit {
    connection: Connection,
    increment: u64,
    /// The batch whose ack is owed, and when it arrived.
    owed_ack: Option<(u64, Instant)>,
}

fn ack(batch: u64) -> Value {
    json!({"type": 1, "target": "OnRenderCompleted", "arguments": [batch, null]})
}

pub(crate) async fn start_circuit(addr: SocketAddr) -> Result<Circuit, String> {
    let page = get_page(addr, "/").await?;
    let mut connection = Connection::open(addr).await?;
    let base = format!("http://{addr}/");
    let start = json!({"type": 1, "invocationId": "1", "target": "StartCircuit", "arguments": [PROTOCOL_VERSION.load(Ordering::Relaxed), base, base, descriptors(&page)]});
    connection.write(&start).await?;
    let (id, batch) = connection.batch().await?;
    let text = batch.to_string();
    let increment = text
        .split("id=\\\"increment\\\" t-click=\\\"")
        .nth(1)
        .and_then(|rest| rest.split('\\').next())
        .and_then(|n| n.parse().ok())
        .ok_or(format!("no #increment handler in {text}"))?;
    // Acked at once (the boot script would defer it up to ACK_DELAY): idle memory is measured after that.
    connection.write(&ack(id)).await?;
    Ok(Circuit {
        connection,
        increment,
        owed_ack: None,
    })
}

pub(crate) async fn ramp<T: Send + 'static, F, Fut>(count: usize, open: F) -> Result<Vec<T>, String>
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

pub(crate) async fn settle(pid: u32) -> usize {
    // Let the server finish queued work and the allocator return what it will.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rss_bytes(pid)
}

/// Resident memory per connection that `open` makes to a fresh `kind` server, after 10 warm circuits
/// (counter) or connections (echo) so that one-time allocations are in the baseline.
async fn memory_per<T, F, Fut>(args: &Args, kind: Kind, open: F) -> Result<f64, String>
where
    T: Send + 'static,
    F: Fn(SocketAddr) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let server = start_server(args, kind)?;
    let addr = server.addr;
    let warm = match kind {
        Kind::Counter => ramp(10, move || start_circuit(addr)).await?.len(),
        Kind::Echo => ramp(10, move || Connection::open(addr)).await?.len(),
    };
    let baseline = settle(server.pid).await;
    let opened = ramp(args.circuits, move || open(addr)).await?;
    let loaded = settle(server.pid).await;
    drop((opened, warm));
    Ok(loaded.saturating_sub(baseline) as f64 / args.circuits as f64)
}

async fn memory(args: &Args) -> Result<(), String> {
    // A fresh server process for each figure, so that one does not reuse memory another freed.
    let floor = memory_per(args, Kind::Echo, Connection::open).await?;
    let connection = memory_per(args, Kind::Counter, Connection::open).await?;
    let circuit = memory_per(args, Kind::Counter, start_circuit).await?;
    let kb = |bytes: f64| bytes / 1024.0;
    println!(
        "{} idle connections each; ratios are to the echo floor of this run",
        args.circuits
    );
    println!(
        "echo floor (WebSocket, one message echoed): {:.2} KB each",
        kb(floor)
    );
    println!(
        "tether hub connection (handshake only): {:.2} KB each ({:.2}x floor)",
        kb(connection),
        connection / floor
    );
    println!(
        "tether counter circuit, connected and idle: {:.2} KB each ({:.2}x floor); the circuit itself {:.2} KB",
        kb(circuit),
        circuit / floor,
        kb(circuit - connection)
    );
    Ok(())
}

/// A load-driving client: a counter circuit (click, batch, ack) or a connection to the echo floor
/// (the same `DispatchEvent` text, echoed).
pub(crate) enum Client {
    Circuit(Circuit),
    Echo(Connection),
    Dioxus(crate::dioxus::Client),
}

impl Client {
    /// One event; returns its round trip (event sent to batch, or echo, received).
    async fn event(&mut self) -> Result<Duration, String> {
        match self {
            Client::Circuit(circuit) => {
                let event = json!({"type": 1, "target": "DispatchEvent", "arguments": [circuit.increment, "click", {}]});
                let mut frame = Vec::with_capacity(2);
                match circuit.owed_ack.take() {
                    Some((id, at)) if at.elapsed() < ACK_DELAY => frame.push(ack(id)),
                    Some((id, _)) => circuit.connection.write(&ack(id)).await?,
                    None => {}
                }
                frame.push(event);
                let sent = Instant::now();
                circuit.connection.write_all(&frame).await?;
                let (id, _) = circuit.connection.batch().await?;
                let elapsed = sent.elapsed();
                if ACKS_ALONE.load(Ordering::Relaxed)
                    || PROTOCOL_VERSION.load(Ordering::Relaxed) < 3
                {
                    circuit.connection.write(&ack(id)).await?;
                } else {
                    circuit.owed_ack = Some((id, Instant::now()));
                }
                Ok(elapsed)
            }
            Client::Dioxus(client) => client.event().await,
            Client::Echo(connection) => {
                let event =
                    json!({"type": 1, "target": "DispatchEvent", "arguments": [1, "click", {}]});
                let sent = Instant::now();
                connection.write(&event).await?;
                connection.read().await?;
                Ok(sent.elapsed())
            }
        }
    }
}

/// What one latency run measured.
pub(crate) struct LatencyReport {
    samples: Vec<Duration>,
    elapsed: Duration,
    /// Server CPU (user + system) per event, in microseconds.
    pub(crate) cpu_per_event: f64,
    /// Context switches of the server's threads per event: its wake-ups, which a busy machine does not
    /// inflate the way it inflates CPU time.
    pub(crate) switches_per_event: f64,
}

impl LatencyReport {
    pub(crate) fn at(&self, q: f64) -> Duration {
        let n = self.samples.len();
        self.samples[((n as f64 * q) as usize).min(n.max(1) - 1)]
    }

    fn print(&self, name: &str, floor: Option<&LatencyReport>) {
        fn ms(d: Duration) -> f64 {
            d.as_secs_f64() * 1e3
        }
        let ratio = |mine: f64, theirs: fn(&LatencyReport) -> f64| {
            floor.map_or(String::new(), |f| {
                format!(" ({:.2}x floor)", mine / theirs(f))
            })
        };
        let (p50, p99) = (ms(self.at(0.50)), ms(self.at(0.99)));
        println!(
            "{name}: {} round trips in {:.1} s; p50 {p50:.3} ms{}, p90 {:.3} ms, p99 {p99:.3} ms{}, max {:.3} ms; server CPU {:.1} us per event{}, {:.2} context switches per event{}",
            self.samples.len(),
            self.elapsed.as_secs_f64(),
            ratio(p50, |f| ms(f.at(0.50))),
            ms(self.at(0.90)),
            ratio(p99, |f| ms(f.at(0.99))),
            self.samples.last().map_or(0.0, |d| ms(*d)),
            self.cpu_per_event,
            ratio(self.cpu_per_event, |f| f.cpu_per_event),
            self.switches_per_event,
            ratio(self.switches_per_event, |f| f.switches_per_event),
        );
    }
}

/// Every client sends one event per second for `seconds` seconds, spread evenly over the second.
pub(crate) async fn measure_latency(
    clients: Vec<Client>,
    seconds: u64,
    pid: u32,
) -> Result<LatencyReport, String> {
    let count = clients.len() as u64;
    let samples = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(
        clients.len() * seconds as usize,
    )));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, mut client) in clients.into_iter().enumerate() {
        let samples = samples.clone();
        let offset = Duration::from_micros((index as u64 * 1_000_000 / count) % 1_000_000);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + offset,
                Duration::from_secs(1),
            );
            for _ in 0..seconds {
                tick.tick().await;
                let round_trip = client.event().await?;
                samples.lock().push(round_trip);
            }
            Ok::<_, String>(client)
        }));
    }
    let cpu_before = cpu_ticks(pid);
    let switches_before = context_switches(pid);
    let mut kept = Vec::new();
    for task in tasks {
        kept.push(task.await.map_err(|e| e.to_string())??);
    }
    let cpu = cpu_ticks(pid).saturating_sub(cpu_before);
    let switches = context_switches(pid).saturating_sub(switches_before);
    let elapsed = started.elapsed();
    let mut samples = std::mem::take(&mut *samples.lock());
    samples.sort();
    let cpu_per_event = cpu as f64 * 10_000.0 / samples.len().max(1) as f64;
    let switches_per_event = switches as f64 / samples.len().max(1) as f64;
    drop(kept);
    Ok(LatencyReport {
        samples,
        elapsed,
        cpu_per_event,
        switches_per_event,
    })
}

async fn latency(args: &Args) -> Result<(), String> {
    println!(
        "{} clients x 1 event/s for {} s; ratios are to the echo floor of this run",
        args.circuits, args.seconds
    );
    let floor = {
        let server = start_server(args, Kind::Echo)?;
        let addr = server.addr;
        let clients = ramp(args.circuits, move || Connection::open(addr)).await?;
        let clients = clients.into_iter().map(Client::Echo).collect();
        measure_latency(clients, args.seconds, server.pid).await?
    };
    floor.print("echo floor", None);
    let server = start_server(args, Kind::Counter)?;
    let addr = server.addr;
    let circuits = ramp(args.circuits, move || start_circuit(addr)).await?;
    let clients = circuits.into_iter().map(Client::Circuit).collect();
    let tether = measure_latency(clients, args.seconds, server.pid).await?;
    tether.print("tether counter (event -> batch, then ack)", Some(&floor));
    Ok(())
}

/// Voluntary and involuntary context switches of all of a process's threads so far.
pub(crate) fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
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
    let args = args::parse_or_exit(raw, USAGE, parse_args);
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
