//! [`LongPollClient`]: a hub connection over long polling, for showing that circuits do not depend on the
//! transport.

use std::collections::VecDeque;
use std::net::SocketAddr;

use serde_json::{json, Value};

use super::{http, RS};

/// A hub connection over long polling (negotiate, then `POST` to send and `GET` to poll), for showing that
/// circuits do not depend on the transport.
pub struct LongPollClient {
    addr: SocketAddr,
    url: String,
    pending: VecDeque<Value>,
}

impl LongPollClient {
    /// Negotiates, sends the handshake and reads its answer.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let negotiate = http(
            addr,
            "POST",
            &format!("{path}/negotiate?negotiateVersion=1"),
            &[],
            "",
        )
        .await;
        assert_eq!(negotiate.status, 200, "{}", negotiate.body);
        let body: Value = serde_json::from_str(&negotiate.body).expect("negotiate JSON");
        let token = body["connectionToken"]
            .as_str()
            .expect("a connection token")
            .to_owned();
        let mut client = Self {
            addr,
            url: format!("{path}?id={token}"),
            pending: VecDeque::new(),
        };
        // The first poll starts the transport and answers at once.
        let first = http(addr, "GET", &client.url, &[], "").await;
        assert_eq!(first.status, 200, "{}", first.body);
        client.send(json!({"protocol": "json", "version": 1})).await;
        assert_eq!(client.next().await, json!({}), "handshake answer");
        client
    }

    /// Sends one hub message.
    pub async fn send(&mut self, message: Value) {
        let body = format!("{message}{RS}");
        let response = http(
            self.addr,
            "POST",
            &self.url,
            &[("Content-Type", "text/plain")],
            &body,
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }

    /// The next hub message (polling as needed; pings skipped).
    pub async fn next(&mut self) -> Value {
        loop {
            if let Some(message) = self.pending.pop_front() {
                if message["type"] != 6 {
                    return message;
                }
                continue;
            }
            let poll = http(self.addr, "GET", &self.url, &[], "").await;
            assert_eq!(poll.status, 200, "{}", poll.body);
            for part in poll.body.split(RS).filter(|p| !p.is_empty()) {
                self.pending
                    .push_back(serde_json::from_str(part).expect("JSON hub message"));
            }
        }
    }
}
