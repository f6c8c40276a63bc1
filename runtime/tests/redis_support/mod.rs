//! Redis for tests: the shared server `tests/run` starts (its URL in `TETHER_TEST_REDIS_URL`), and private
//! `redis-server` processes a test may kill and restart.
//!
//! Without `TETHER_TEST_REDIS_URL` (a bare `cargo test`) the Redis tests print why and pass without running;
//! `tests/run` always sets it, and there a Redis that cannot be reached fails the test.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The shared test Redis, or `None` (with a printed note) when the suite did not set one up.
pub fn shared_redis_url(test: &str) -> Option<String> {
    match std::env::var("TETHER_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED {test}: TETHER_TEST_REDIS_URL is not set (tests/run starts a redis-server and sets it)"
            );
            None
        }
    }
}

/// A free loopback port (the listener is closed before the port is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A `redis-server` of this test's own, on a fixed port so it can be restarted where clients reconnect.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port; waits until it accepts connections.
    pub fn start() -> Self {
        let mut redis = PrivateRedis {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL): every client connection is cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and waits for its ready line.
    pub fn restart(&mut self) {
        self.kill();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &std::env::temp_dir().to_string_lossy(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server is installed (tests/run installs it)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                log.push_str(&line);
                log.push('\n');
                if line.contains("Ready to accept connections") {
                    let _ = ready_tx.send(Ok(()));
                }
            }
            let _ = ready_tx.send(Err(log));
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(log)) => panic!("redis-server exited before it was ready:\n{log}"),
            Err(_) => panic!("redis-server was not ready within 10 s"),
        }
        self.child = Some(child);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
