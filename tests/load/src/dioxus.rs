//! A load client for a dioxus-liveview 0.7.10 counter (the peer of the three-way comparison in
//! `compare.rs`; how to build that server is in docs/performance.md). It speaks what dioxus-liveview's
//! browser script speaks over its WebSocket (`/ws`, small buffers like every other client here):
//!
//! - on connect the server sends the initial render (a binary frame whose first byte is 1: edits in dioxus's
//!   binary interpreter format), then a text frame (first byte 0) with a script the page evaluates (its
//!   document bridge), then a binary frame of no edits (a render pass after that query); the client sends
//!   nothing first;
//! - an event is a text frame `{"method":"user_event","params":{"name","element","data","bubbles"}}`, with
//!   the element id the edits gave the node and the serialized DOM event as `data` (for a click, the mouse
//!   event's fields and, like the browser script, the form fields `values` and `value`);
//! - the server answers every event with one binary frame (edits, or none when nothing changed) and expects
//!   no acknowledgement: one message each way per event.
//!
//! The button's element id is found once per run: the probe clicks ids 1, 2, 3… on one connection until an
//! answer carries the count `1` as text (a node without a listener is answered with a frame of no edits);
//! every connection renders the same tree, so the id is the same on all of them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a connection may take to deliver its first render.
const OPEN_WAIT: Duration = Duration::from_secs(10);
/// Element ids the probe tries: the counter has a handful of nodes.
const PROBE_IDS: std::ops::RangeInclusive<u64> = 1..=16;

/// One connected dioxus-liveview counter, its initial render received.
pub(crate) struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `user_event` text of a click on the counter's button.
    click: String,
}

/// The text frame of a click on `element`, as dioxus-liveview's browser script writes it.
fn click_text(element: u64) -> String {
    format!(
        concat!(
            r#"{{"method":"user_event","params":{{"name":"click","element":{},"data":{{"#,
            r#""alt_key":false,"button":0,"buttons":0,"client_x":10,"client_y":10,"ctrl_key":false,"#,
            r#""meta_key":false,"offset_x":5,"offset_y":5,"page_x":10,"page_y":10,"screen_x":10,"#,
            r#""screen_y":10,"shift_key":false,"values":[],"value":""}},"bubbles":true}}}}"#
        ),
        element
    )
}

impl Client {
    /// Connects and waits for the initial render, the query after it and that query's render pass.
    /// `element` is the button's id (see [`find_button`]).
    pub(crate) async fn open(addr: SocketAddr, element: u64) -> Result<Self, String> {
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = 4096;
        config.write_buffer_size = 0;
        let (ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/ws"),
            Some(config),
            true,
        )
        .await
        .map_err(|e| format!("dioxus counter at {addr}: {e}"))?;
        let mut client = Client {
            ws,
            click: click_text(element),
        };
        let first = async {
            client.edits().await?;
            while client.next_frame().await?.first() != Some(&0) {}
            client.edits().await
        };
        tokio::time::timeout(OPEN_WAIT, first)
            .await
            .map_err(|_| format!("the dioxus counter at {addr} sent no first render, query and render pass within {OPEN_WAIT:?}"))??;
        Ok(client)
    }

    /// The next text or binary frame's bytes.
    async fn next_frame(&mut self) -> Result<Vec<u8>, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(bytes))) => return Ok(bytes.to_vec()),
                Some(Ok(Message::Text(text))) => return Ok(text.as_bytes().to_vec()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the dioxus counter closed the connection".into()),
            }
        }
    }

    /// The next frame of edits (first byte 1); other frames (pongs, queries) are skipped.
    async fn edits(&mut self) -> Result<Vec<u8>, String> {
        loop {
            let frame = self.next_frame().await?;
            if frame.first() == Some(&1) {
                return Ok(frame);
            }
        }
    }

    /// One click; returns its round trip (event sent to edits received).
    pub(crate) async fn event(&mut self) -> Result<Duration, String> {
        let sent = Instant::now();
        self.click_for_edits().await?;
        Ok(sent.elapsed())
    }

    /// Sends the click and returns the frame of edits that answers it.
    async fn click_for_edits(&mut self) -> Result<Vec<u8>, String> {
        self.ws
            .send(Message::text(self.click.clone()))
            .await
            .map_err(|e| e.to_string())?;
        self.edits().await
    }
}

/// The element id of the counter's button: the first id whose click is answered with the count `1`, checked
/// by a second click answered with `2`.
pub(crate) async fn find_button(addr: SocketAddr) -> Result<u64, String> {
    let mut probe = Client::open(addr, 0).await?;
    for element in PROBE_IDS {
        probe.click = click_text(element);
        if probe.click_for_edits().await?[1..].contains(&b'1') {
            return if probe.click_for_edits().await?[1..].contains(&b'2') {
                Ok(element)
            } else {
                Err(format!("element {element} of the dioxus counter at {addr} answered one click with the count, not a second"))
            };
        }
    }
    Err(format!(
        "no element with ids {PROBE_IDS:?} of the dioxus counter at {addr} answered a click with the count"
    ))
}
