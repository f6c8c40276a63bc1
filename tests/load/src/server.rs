//! The server processes a run measures: the examples (`counter`, `chat`) and the echo floor, started from
//! the directory of this binary, or one already running given by address and pid.
//!
//! Invariant: a server this tool started never outlives the run. Dropping a [`Server`] kills its process and
//! waits for it; [`Server::terminate`] is the graceful way (SIGTERM, as a deploy sends).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// A server under test.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    child: Option<Child>,
}

/// The path of `name` (a release binary) next to this one.
pub(crate) fn binary(name: &str) -> Result<PathBuf, String> {
    Ok(std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name(name))
}

impl Server {
    /// One that is already running (not ours to stop).
    pub(crate) fn external(addr: SocketAddr, pid: u32) -> Self {
        Server {
            addr,
            pid,
            child: None,
        }
    }

    /// Starts `command` on a free loopback port.
    pub(crate) fn start(command: Command) -> Result<Self, String> {
        Self::start_at(command, "127.0.0.1:0")
    }

    /// Starts `command` (a Tether server binary) listening on `addr` (`ADDR` in its environment) and
    /// returns once it printed the `listening on http://ADDR` line every Tether server prints first.
    /// Its stderr is inherited unless the command says otherwise.
    pub(crate) fn start_at(mut command: Command, addr: &str) -> Result<Self, String> {
        let program = command.get_program().to_owned();
        let mut child = command
            .env("ADDR", addr)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (build it with `cargo build --release -p counter -p chat -p tether-load`)",
                    program.to_string_lossy()
                )
            })?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .map_err(|e| e.to_string())?;
        let Some(addr) = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("unexpected first line from the server: {line:?}"));
        };
        Ok(Server {
            addr,
            pid: child.id(),
            child: Some(child),
        })
    }

    /// The server's stderr, when the command piped it.
    pub(crate) fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.as_mut()?.stderr.take()
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit (a graceful shutdown); returns how
    /// long it took. Killed when it does not exit in time.
    pub(crate) async fn terminate(&mut self, limit: Duration) -> Result<Duration, String> {
        let child = self
            .child
            .as_mut()
            .ok_or("not a server this tool started")?;
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .map_err(|e| format!("kill -TERM: {e}"))?;
        if !status.success() {
            return Err(format!("kill -TERM {} failed", child.id()));
        }
        while started.elapsed() < limit {
            if child.try_wait().map_err(|e| e.to_string())?.is_some() {
                self.child = None;
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!(
            "the server did not exit within {limit:?} of SIGTERM"
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Resident memory of a process, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> usize {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0)
        * 4096
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

/// The machine's load averages (1, 5, 15 minutes), as `uptime` shows them, for the record beside a figure.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
