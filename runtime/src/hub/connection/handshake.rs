//! The handshake: the first record on a transport names the protocol and version; the answer is `{}` or the
//! reason for refusing, and nothing else is handled before it. Both are JSON text whatever the protocol.

use super::super::caller::ConnectionShared;
use super::super::hub::HubInner;
use super::super::protocol::{self, HandshakeRequest, HubProtocol, RECORD_SEPARATOR};
use super::super::transport::bounded_write;
use super::{Inbound, Transport};

/// Reads and answers the handshake. `None` means the connection is over (already cleaned up). On success:
/// the transport (switched to binary frames for MessagePack), the request, and the bytes that followed the
/// handshake record in its frame.
///
/// `accept` runs once the request is valid and before the client hears `{}`: it registers the connection
/// for fan-out, so a broadcast sent as soon as any client's `start()` resolves reaches this one too
/// (messages queued meanwhile are written after the response).
pub(super) async fn handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    mut transport: T,
    accept: impl FnOnce(),
) -> Option<(T, HandshakeRequest, Vec<u8>)> {
    let options = &hub.options;
    // The handshake is JSON text whatever the protocol; a binary WebSocket frame or a POST body may carry it
    // too, so bytes are gathered until the first record separator.
    let mut pending: Vec<u8> = Vec::new();
    let deadline = tokio::time::sleep(options.handshake_timeout);
    tokio::pin!(deadline);
    let end = loop {
        tokio::select! {
            _ = &mut deadline => {
                tracing::warn!(connection_id = %conn.id, "handshake not completed within {:?} (HubOptions::handshake_timeout)", options.handshake_timeout);
                finish_without_handshake(hub, conn, transport).await;
                return None;
            }
            frame = transport.recv() => match frame {
                Ok(frame @ (Inbound::Text(_) | Inbound::Binary(_))) => {
                    let before = pending.len();
                    match frame {
                        Inbound::Text(text) => pending.extend_from_slice(text.as_bytes()),
                        Inbound::Binary(bytes) => pending.extend_from_slice(&bytes),
                        Inbound::TooLarge(_) => {}
                    }
                    if let Some(at) = pending[before..].iter().position(|b| *b == RECORD_SEPARATOR) {
                        break before + at;
                    }
                    if pending.len() > options.max_receive_message_size {
                        let max = options.max_receive_message_size;
                        refuse_handshake(hub, conn, transport, &format!(
                            "Handshake request larger than the hub's maximum receive message size of {max} bytes \
                             (HubOptions::max_receive_message_size)."
                        )).await;
                        return None;
                    }
                }
                Ok(Inbound::TooLarge(_)) => {
                    let max = options.max_receive_batch_size;
                    refuse_handshake(hub, conn, transport, &format!(
                        "Handshake frame larger than {max} bytes (HubOptions::max_receive_batch_size)."
                    )).await;
                    return None;
                }
                Err(_) => {
                    tracing::debug!(connection_id = %conn.id, "transport ended before the handshake");
                    conn.close();
                    return None;
                }
            }
        }
    };
    let rest = pending.split_off(end + 1);
    pending.pop();
    let parsed = match std::str::from_utf8(&pending) {
        Ok(text) => protocol::parse_handshake(text).map_err(|e| e.0),
        Err(_) => Err("The handshake request is not UTF-8 text.".to_owned()),
    };
    let request = match parsed {
        Ok(r) => r,
        Err(why) => {
            refuse_handshake(hub, conn, transport, &why).await;
            return None;
        }
    };
    if request.protocol == HubProtocol::MessagePack {
        if !transport.carries_binary() {
            // ASP.NET Core's words; the official client never asks for this (negotiate says SSE is text only).
            refuse_handshake(
                hub,
                conn,
                transport,
                "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.",
            )
            .await;
            return None;
        }
        transport.use_binary_frames();
    }
    accept();
    let mut out = Vec::new();
    protocol::write_handshake_response(&mut out, None);
    if let Err(e) = bounded_write(options.client_timeout, transport.send_text(out)).await {
        tracing::debug!(connection_id = %conn.id, "handshake response failed: {e}");
        hub.lifetime.on_disconnected(&conn.id);
        conn.close();
        return None;
    }
    Some((transport, request, rest))
}

/// Answers a refused handshake with its reason, then ends the connection.
pub(super) async fn refuse_handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    mut transport: T,
    why: &str,
) {
    tracing::warn!(connection_id = %conn.id, "handshake refused: {why}");
    let mut out = Vec::new();
    protocol::write_handshake_response(&mut out, Some(why));
    let _ = bounded_write(hub.options.client_timeout, transport.send_text(out)).await;
    finish_without_handshake(hub, conn, transport).await;
}

pub(super) async fn finish_without_handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    transport: T,
) {
    conn.close();
    let _ = tokio::time::timeout(hub.options.client_timeout, transport.close()).await;
}
