//! A headless counter tab that follows its circuit across servers, as the boot script does: start, click,
//! pause, and after its server went away (`T.Persisted(true)` or a dropped socket) reconnect elsewhere with
//! `ConnectCircuit` and then `ResumeCircuit`. It acknowledges every batch it receives and keeps the count
//! the page shows, so a run can tell whether a resumed circuit lost events.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::circuits::{descriptors, get_page, Connection, PROTOCOL_VERSION};

/// How long one hub operation may take before the tab reports an error instead of waiting forever.
const OP_TIMEOUT: Duration = Duration::from_secs(30);

/// A counter page with its circuit.
pub(crate) struct CounterTab {
    connection: Connection,
    pub(crate) secret: String,
    increment: u64,
    /// The count the page shows (from the last batch that set it).
    pub(crate) count: i64,
}

/// How a tab's server let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// `T.Persisted(true)`: persisted on shutdown, resume at once.
    Persisted,
    /// The socket closed (or failed) without it.
    Dropped,
}

/// Why a resume did not give the tab its circuit back.
#[derive(Debug)]
pub(crate) enum ResumeError {
    /// `ResumeCircuit` answered `false`: nothing to resume, the page would reload (a lost circuit).
    Refused,
    /// The server answered with an error (shutting down) or could not be reached: try again elsewhere.
    Retry(String),
}

/// What a successful resume measured.
pub(crate) struct Resumed {
    pub(crate) tab: CounterTab,
    /// From opening the new connection to receiving the resumed circuit's first batch.
    pub(crate) to_first_batch: Duration,
}

impl CounterTab {
    /// Loads the page and starts its circuit; returns once the first batch is acknowledged and the secret
    /// is known.
    pub(crate) async fn start(addr: SocketAddr) -> Result<Self, String> {
        let page = get_page(addr, "/").await?;
        let connection = Connection::open(addr).await?;
        let base = format!("http://{addr}/");
        let mut tab = CounterTab {
            connection,
            secret: String::new(),
            increment: 0,
            count: 0,
        };
        let start = json!({"type": 1, "invocationId": "s", "target": "StartCircuit", "arguments": [PROTOCOL_VERSION.load(Ordering::Relaxed), base, base, descriptors(&page)]});
        tab.connection.write(&start).await?;
        // The first batch and the completion with the secret may come in either order.
        let (mut secret, mut batch) = (None, false);
        while secret.is_none() || !batch {
            match tab.next().await? {
                Event::Batch => batch = true,
                Event::Completion(id, result) if id == "s" => {
                    secret = Some(
                        result
                            .as_str()
                            .ok_or(format!("StartCircuit failed: {result}"))?
                            .to_owned(),
                    );
                }
                Event::Departed(how) => return Err(format!("{how:?} while starting")),
                Event::Completion(..) | Event::Other => {}
            }
        }
        tab.secret = secret.unwrap_or_default();
        Ok(tab)
    }

    /// One click on `#increment`; returns the round trip to its batch, which must show the next count.
    pub(crate) async fn click(&mut self) -> Result<Duration, Departure> {
        let expected = self.count + 1;
        let event = json!({"type": 1, "target": "DispatchEvent", "arguments": [self.increment, "click", {}]});
        let sent = Instant::now();
        self.connection
            .write(&event)
            .await
            .map_err(|_| Departure::Dropped)?;
        loop {
            match self.next().await {
                Ok(Event::Batch) if self.count == expected => return Ok(sent.elapsed()),
                Ok(Event::Departed(how)) => return Err(how),
                Err(_) => return Err(Departure::Dropped),
                Ok(_) => {}
            }
        }
    }

    /// A hub ping, as the official client sends every 15 s: a hub closes a connection that sent nothing
    /// for its client timeout (30 s by default).
    pub(crate) async fn ping(&mut self) -> Result<(), String> {
        self.connection.write(&json!({"type": 6})).await
    }

    /// Waits until the server lets the tab go (shutdown or a dropped socket).
    pub(crate) async fn departure(&mut self) -> Departure {
        loop {
            match self.next().await {
                Ok(Event::Departed(how)) => return how,
                Err(_) => return Departure::Dropped,
                Ok(_) => {}
            }
        }
    }

    /// `PauseCircuit`: persisted and ended; returns once the server confirmed.
    pub(crate) async fn pause(mut self) -> Result<String, String> {
        self.connection
            .write(
                &json!({"type": 1, "invocationId": "p", "target": "PauseCircuit", "arguments": []}),
            )
            .await?;
        loop {
            match self.next().await? {
                Event::Completion(id, result) if id == "p" => {
                    return if result == true {
                        Ok(self.secret)
                    } else {
                        Err(format!("PauseCircuit answered {result}"))
                    };
                }
                Event::Departed(Departure::Dropped) => return Err("dropped while pausing".into()),
                _ => {}
            }
        }
    }

    /// Reconnects to `addr` as the boot script does after its server went away: `ConnectCircuit` (which
    /// answers `false` on a server that never had the circuit), then `ResumeCircuit`.
    pub(crate) async fn resume(
        secret: String,
        addr: SocketAddr,
        expected_count: i64,
    ) -> Result<Resumed, ResumeError> {
        let opened = Instant::now();
        let connection = Connection::open(addr).await.map_err(ResumeError::Retry)?;
        let mut tab = CounterTab {
            connection,
            secret,
            increment: 0,
            count: i64::MIN,
        };
        let retry = |e: String| ResumeError::Retry(e);
        let connect = json!({"type": 1, "invocationId": "c", "target": "ConnectCircuit", "arguments": [tab.secret]});
        tab.connection.write(&connect).await.map_err(retry)?;
        loop {
            match tab.next().await.map_err(retry)? {
                Event::Completion(id, result) if id == "c" => {
                    if result == true {
                        // Still live there (it was never persisted): the tab carries on.
                        return Ok(Resumed {
                            to_first_batch: opened.elapsed(),
                            tab,
                        });
                    }
                    if result != false {
                        return Err(ResumeError::Retry(format!("ConnectCircuit: {result}")));
                    }
                    break;
                }
                Event::Departed(how) => {
                    return Err(ResumeError::Retry(format!("{how:?} in ConnectCircuit")))
                }
                _ => {}
            }
        }
        let resume = json!({"type": 1, "invocationId": "r", "target": "ResumeCircuit", "arguments": [tab.secret]});
        tab.connection.write(&resume).await.map_err(retry)?;
        let (mut to_first_batch, mut answered) = (None, false);
        while to_first_batch.is_none() || !answered {
            match tab.next().await.map_err(retry)? {
                Event::Batch => {
                    to_first_batch.get_or_insert_with(|| opened.elapsed());
                }
                Event::Completion(id, result) if id == "r" => {
                    if result == false {
                        return Err(ResumeError::Refused);
                    }
                    if result != true {
                        return Err(ResumeError::Retry(format!("ResumeCircuit: {result}")));
                    }
                    answered = true;
                }
                Event::Departed(how) => {
                    return Err(ResumeError::Retry(format!("{how:?} in ResumeCircuit")))
                }
                _ => {}
            }
        }
        if tab.count != expected_count {
            eprintln!(
                "resumed circuit shows {} where {expected_count} was expected",
                tab.count
            );
        }
        Ok(Resumed {
            to_first_batch: to_first_batch.unwrap_or_default(),
            tab,
        })
    }

    /// The next message, with batches acknowledged and applied to the count.
    async fn next(&mut self) -> Result<Event, String> {
        let message = tokio::time::timeout(OP_TIMEOUT, self.connection.read())
            .await
            .map_err(|_| "no answer within 30 s".to_owned())?;
        let message = match message {
            Ok(message) => message,
            Err(_) => return Ok(Event::Departed(Departure::Dropped)),
        };
        Ok(match (&message["type"], message["target"].as_str()) {
            (t, Some("T.Batch")) if t == 1 => {
                let id = message["arguments"][0].clone();
                self.apply(&message["arguments"][1]);
                self.connection
                    .write(
                        &json!({"type": 1, "target": "OnRenderCompleted", "arguments": [id, null]}),
                    )
                    .await?;
                Event::Batch
            }
            (t, Some("T.Persisted")) if t == 1 && message["arguments"][0] == true => {
                Event::Departed(Departure::Persisted)
            }
            (t, Some("T.Error")) if t == 1 => {
                return Err(format!("circuit error: {}", message["arguments"][0]))
            }
            (t, _) if t == 3 => Event::Completion(
                message["invocationId"].as_str().unwrap_or("").to_owned(),
                match message.get("error") {
                    Some(error) => json!({ "error": error }),
                    None => message["result"].clone(),
                },
            ),
            (t, _) if t == 7 => Event::Departed(Departure::Dropped),
            _ => Event::Other,
        })
    }

    /// Follows `#count` and `#increment` through a batch: an attach or insert carries the markup; a click's
    /// batch sets the count's text node.
    fn apply(&mut self, batch: &Value) {
        for edit in batch.as_array().into_iter().flatten() {
            match edit[0].as_u64() {
                Some(1 | 2 | 11) => {
                    let html = edit[2].as_str().unwrap_or("");
                    if let Some(count) = after(html, "id=\"count\">").and_then(leading_number) {
                        self.count = count;
                    }
                    if let Some(id) =
                        after(html, "id=\"increment\" t-click=\"").and_then(leading_number)
                    {
                        self.increment = id as u64;
                    }
                }
                Some(8) => {
                    if let Some(count) = edit[2].as_str().and_then(|t| t.parse().ok()) {
                        self.count = count;
                    }
                }
                _ => {}
            }
        }
    }
}

/// What `next` read.
enum Event {
    Batch,
    Completion(String, Value),
    Departed(Departure),
    Other,
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

fn leading_number(text: &str) -> Option<i64> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    text[..end].parse().ok()
}
