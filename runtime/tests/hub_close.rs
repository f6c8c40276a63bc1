//! The WebSocket closing handshake: a client that closes the socket gets the close frame echoed, so a browser
//! sees its own close code instead of 1006 (abnormal closure).

mod raw;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tether::hub::HubOptions;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

async fn echo_hub_url() -> String {
    raw::serve(raw::echo_hub(HubOptions::default()).0).await
}

async fn client_close_is_echoed(code: u16) {
    let url = echo_hub_url().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let handshake = format!("{}\u{1e}", json!({"protocol": "json", "version": 1}));
    ws.send(Message::text(handshake)).await.unwrap();
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let echoed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(frame)) => return Some(frame),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the hub neither echoed the close frame nor closed the socket");
    let frame = echoed.expect("the socket ended without an echoed close frame");
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(code));
}

#[tokio::test]
async fn a_normal_client_close_is_echoed() {
    client_close_is_echoed(1000).await;
}

#[tokio::test]
async fn an_application_close_code_is_echoed() {
    client_close_is_echoed(4000).await;
}
