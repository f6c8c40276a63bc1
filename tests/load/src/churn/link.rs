//! The soak's hub connection over WebSockets or long polling, with just enough HTTP/1.1 for the latter.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const RS: char = '\u{1e}';

/// One HTTP/1.1 connection kept alive across requests (enough HTTP for the hub's long-polling endpoints).
pub(super) struct Http {
    addr: SocketAddr,
    stream: BufReader<TcpStream>,
}

impl Http {
    async fn open(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self {
            addr,
            stream: BufReader::new(stream),
        })
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let stream = self.stream.get_mut();
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(body.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(format!("bad status line {line:?}"))?;
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            if self
                .stream
                .read_line(&mut line)
                .await
                .map_err(|e| e.to_string())?
                == 0
            {
                return Err("connection closed in headers".into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(|_| "bad content-length")?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream
                    .read_line(&mut line)
                    .await
                    .map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(|_| "bad chunk size")?;
                let mut chunk = vec![0; size + 2];
                self.stream
                    .read_exact(&mut chunk)
                    .await
                    .map_err(|e| e.to_string())?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            self.stream
                .read_exact(&mut body)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// A hub connection over either transport. Dropping it closes its sockets without a Close message.
pub(super) enum Link {
    WebSocket(
        Box<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>,
    ),
    LongPolling {
        sender: Http,
        path: String,
        received: mpsc::UnboundedReceiver<String>,
        poller: tokio::task::JoinHandle<()>,
    },
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Link::LongPolling { poller, .. } = self {
            // Ends the poll in flight by closing its socket: the tab went away mid-poll.
            poller.abort();
        }
    }
}

impl Link {
    pub(super) async fn open(addr: SocketAddr, long_polling: bool) -> Result<Self, String> {
        let mut link = if long_polling {
            let mut sender = Http::open(addr).await?;
            let (status, body) = sender
                .request("POST", "/_tether/negotiate?negotiateVersion=1", "")
                .await?;
            let negotiated: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            let token = negotiated["connectionToken"]
                .as_str()
                .ok_or(format!("negotiate answered {status}: {body}"))?;
            let path = format!("/_tether?id={token}");
            let mut polls = Http::open(addr).await?;
            let (first, _) = polls.request("GET", &path, "").await?;
            if first != 200 {
                return Err(format!("first poll answered {first}"));
            }
            let (tx, received) = mpsc::unbounded_channel();
            let poll_path = path.clone();
            let poller = tokio::spawn(async move {
                loop {
                    match polls.request("GET", &poll_path, "").await {
                        Ok((200, body)) => {
                            if !body.is_empty() && tx.send(body).is_err() {
                                return;
                            }
                        }
                        // 204: the connection is over.
                        _ => return,
                    }
                }
            });
            Link::LongPolling {
                sender,
                path,
                received,
                poller,
            }
        } else {
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let (ws, _) = tokio_tungstenite::connect_async_with_config(
                format!("ws://{addr}/_tether"),
                Some(config),
                true,
            )
            .await
            .map_err(|e| e.to_string())?;
            Link::WebSocket(Box::new(ws))
        };
        link.send(&json!({"protocol": "json", "version": 1}))
            .await?;
        Ok(link)
    }

    pub(super) async fn send(&mut self, message: &Value) -> Result<(), String> {
        let mut text = message.to_string();
        text.push(RS);
        match self {
            Link::WebSocket(ws) => ws
                .send(Message::text(text))
                .await
                .map_err(|e| e.to_string()),
            Link::LongPolling { sender, path, .. } => {
                match sender.request("POST", path, &text).await? {
                    (200, _) => Ok(()),
                    (status, body) => Err(format!("send answered {status}: {body}")),
                }
            }
        }
    }

    /// The next frame's text (one or more records).
    pub(super) async fn receive(&mut self) -> Result<String, String> {
        match self {
            Link::WebSocket(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                    Some(Ok(Message::Close(_))) | None => return Err("connection closed".into()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                }
            },
            Link::LongPolling { received, .. } => {
                received.recv().await.ok_or("connection closed".to_owned())
            }
        }
    }
}
