//! `tether-load echo-server`: the floor every circuit figure is reported against. A bare axum WebSocket
//! server that answers each text message with itself, with the hub's socket settings (4 KiB read buffer,
//! no write buffer, TCP_NODELAY, the same Tokio runtime), so that the ratio of a circuit figure to this one,
//! measured in the same run, is what Tether's own work costs; a busy machine moves both.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::io::Write;

/// The socket settings of `runtime/src/hub/http.rs`.
const READ_BUFFER: usize = 4 * 1024;
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// Serves `/_tether` until killed; prints `listening on http://ADDR` first, as the examples do.
pub(crate) async fn serve() -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route("/_tether", get(upgrade));
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn upgrade(upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Text(_)) && socket.send(message).await.is_err() {
            return;
        }
    }
}
