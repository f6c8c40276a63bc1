//! `tether-load compare`: the table of issue 13 from one run of one driver. Three servers, each measured by
//! the same client code with the same socket settings (4 KiB read buffer, no write buffer, TCP_NODELAY):
//!
//! - the floor: `tether-load echo-server` (a bare axum WebSocket echo, see `echo.rs`);
//! - dioxus-liveview 0.7.10's counter (`--dioxus PATH` to its release binary; how to build it is in
//!   docs/performance.md; without the flag its row says so and the run goes on);
//! - Tether's counter example (`counter` next to this binary, or `--tether PATH` to another build, with
//!   `--protocol-version N` when that build speaks an older protocol: below 3 every ack goes alone).
//!
//! For each server, in a fresh process: `--circuits N` (10,000) clients connect and idle (the floor's echo
//! one message, dioxus's receive their first render, Tether's start their circuit and acknowledge batch 1),
//! and the growth of the server's resident memory over a baseline of 10 warm clients, divided by N, is the
//! memory per idle connection; then the same N clients each send one event per second for `--seconds` S
//! (a click; the floor echoes the same text) and the round trips and the server's CPU per event are taken.
//! Then, again in a fresh process each, `--small` M (1,000) clients × 1 event/s for the CPU per event at
//! that load. Every figure is printed with its ratio to the floor's figure of this run.
//!
//! Needs `ulimit -n` above 2 × N + a few hundred (client and server run on this machine).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use crate::args::{self, Flags};
use crate::circuits::{
    measure_latency, ramp, settle, start_circuit, Client, Connection, LatencyReport,
};
use crate::server::{binary, Server};

struct Args {
    circuits: usize,
    small: usize,
    seconds: u64,
    dioxus: Option<PathBuf>,
    /// Another build of the counter example (an older commit, for a before/after from one sitting).
    tether: Option<PathBuf>,
}

pub(crate) const USAGE: &str = "usage: tether-load compare [--circuits 10000] [--small 1000] [--seconds 20] [--dioxus PATH] [--tether PATH [--protocol-version N]]";

fn parse_args(flags: &mut Flags) -> Result<Args, String> {
    let mut args = Args {
        circuits: 10_000,
        small: 1_000,
        seconds: 20,
        dioxus: None,
        tether: None,
    };
    while let Some(flag) = flags.next()? {
        match flag.name.as_str() {
            "--circuits" => args.circuits = flag.number()?,
            "--small" => args.small = flag.number()?,
            "--seconds" => args.seconds = flag.number()?,
            "--dioxus" => args.dioxus = Some(PathBuf::from(flag.value)),
            "--tether" => args.tether = Some(PathBuf::from(flag.value)),
            "--protocol-version" => crate::circuits::PROTOCOL_VERSION
                .store(flag.number()?, std::sync::atomic::Ordering::Relaxed),
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// The three servers of the comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Floor,
    Dioxus,
    Tether,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Floor => "bare echo (the floor)",
            Peer::Dioxus => "dioxus-liveview 0.7.10",
            Peer::Tether => "Tether",
        }
    }
}

fn start(peer: Peer, args: &Args) -> Result<Server, String> {
    let mut command = match peer {
        Peer::Floor => {
            let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            command.arg("echo-server");
            command
        }
        Peer::Tether => Command::new(match &args.tether {
            Some(path) => path.clone(),
            None => binary("counter")?,
        }),
        Peer::Dioxus => Command::new(args.dioxus.clone().ok_or("no --dioxus PATH")?),
    };
    command.env("RUST_LOG", "warn");
    Server::start(command)
}

/// `count` idle clients of `peer` at `addr`, ramped in batches.
async fn open(
    peer: Peer,
    addr: SocketAddr,
    count: usize,
    button: u64,
) -> Result<Vec<Client>, String> {
    Ok(match peer {
        Peer::Floor => ramp(count, move || Connection::open(addr))
            .await?
            .into_iter()
            .map(Client::Echo)
            .collect(),
        Peer::Tether => ramp(count, move || start_circuit(addr))
            .await?
            .into_iter()
            .map(Client::Circuit)
            .collect(),
        Peer::Dioxus => ramp(count, move || crate::dioxus::Client::open(addr, button))
            .await?
            .into_iter()
            .map(Client::Dioxus)
            .collect(),
    })
}

/// What one server measured.
struct Row {
    peer: Peer,
    kb_idle: f64,
    large: LatencyReport,
    small: LatencyReport,
}

async fn measure(peer: Peer, args: &Args) -> Result<Row, String> {
    let (kb_idle, large) = {
        let server = start(peer, args)?;
        let pid = server.pid;
        let button = match peer {
            Peer::Dioxus => crate::dioxus::find_button(server.addr).await?,
            _ => 0,
        };
        let warm = open(peer, server.addr, 10, button).await?;
        let baseline = settle(pid).await;
        let clients = open(peer, server.addr, args.circuits, button).await?;
        let loaded = settle(pid).await;
        let kb_idle = loaded.saturating_sub(baseline) as f64 / args.circuits as f64 / 1024.0;
        eprintln!(
            "{}: {kb_idle:.2} KB per idle connection; events…",
            peer.name()
        );
        let large = measure_latency(clients, args.seconds, pid).await?;
        drop(warm);
        (kb_idle, large)
    };
    let small = {
        let server = start(peer, args)?;
        let button = match peer {
            Peer::Dioxus => crate::dioxus::find_button(server.addr).await?,
            _ => 0,
        };
        let clients = open(peer, server.addr, args.small, button).await?;
        measure_latency(clients, args.seconds, server.pid).await?
    };
    Ok(Row {
        peer,
        kb_idle,
        large,
        small,
    })
}

fn print(rows: &[Row], args: &Args) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let floor = &rows[0];
    let ratio = |mine: f64, floor: f64| {
        if floor == 0.0 {
            String::new()
        } else {
            format!(" ({:.2}×)", mine / floor)
        }
    };
    println!(
        "| {} connections | KB per idle connection | 1 event/s each: p50 | p99 | server CPU per event | {} × 1 event/s: CPU per event | context switches per event ({}; {}) |",
        args.circuits, args.small, args.circuits, args.small
    );
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        let (p50, p99) = (ms(row.large.at(0.50)), ms(row.large.at(0.99)));
        let (f50, f99) = (ms(floor.large.at(0.50)), ms(floor.large.at(0.99)));
        let first = row.peer == Peer::Floor;
        let r = |mine: f64, floor: f64| {
            if first {
                String::new()
            } else {
                ratio(mine, floor)
            }
        };
        println!(
            "| {} | {:.2}{} | {p50:.3} ms{} | {p99:.3} ms{} | {:.1} µs{} | {:.1} µs{} | {:.2}; {:.2} |",
            row.peer.name(),
            row.kb_idle,
            r(row.kb_idle, floor.kb_idle),
            r(p50, f50),
            r(p99, f99),
            row.large.cpu_per_event,
            r(row.large.cpu_per_event, floor.large.cpu_per_event),
            row.small.cpu_per_event,
            r(row.small.cpu_per_event, floor.small.cpu_per_event),
            row.large.switches_per_event,
            row.small.switches_per_event,
        );
    }
}

/// Runs `tether-load compare ARGS…`.
pub(crate) async fn run(raw: Vec<String>) {
    let args = args::parse_or_exit(raw, USAGE, parse_args);
    let mut rows = Vec::new();
    for peer in [Peer::Floor, Peer::Dioxus, Peer::Tether] {
        if peer == Peer::Dioxus && args.dioxus.is_none() {
            eprintln!("dioxus-liveview: not measured (pass --dioxus PATH; docs/performance.md says how to build it)");
            continue;
        }
        match measure(peer, &args).await {
            Ok(row) => rows.push(row),
            Err(message) => {
                eprintln!("error measuring {}: {message}", peer.name());
                std::process::exit(1);
            }
        }
    }
    print(&rows, &args);
}
