//! The handshake: the first record on a transport names the protocol and version; the answer is `{}` or the
//! reason for refusing, and nothing else is handled before it.

use std::future::Future;
use std::time::Duration;

use super::super::caller::ConnectionShared;
use super::super::hub::HubInner;
use super::super::protocol::{self, RecordBuffer};
use super::{Inbound, Transport};

/// Reads and answers the handshake. `None` means the connection is over (already cleaned up).
pub(super) async fn handshake<T: Transport>(
    hub: &HubInner,
    conn: &ConnectionShared,
    mut transport: T,
) -> Option<(T, RecordBuffer, Vec<String>, u32)> {
    let options = &hub.options;
    let mut records = RecordBuffer::default();
    let deadline = tokio::time::sleep(options.handshake_timeout);
    tokio::pin!(deadline);
    let handshake_records = loop {
        tokio::select! {
            _ = &mut deadline => {
                tracing::warn!(connection_id = %conn.id, "handshake not completed within {:?} (HubOptions::handshake_timeout)", options.handshake_timeout);
                finish_without_handshake(hub, conn, transport).await;
                return None;
            }
            frame = transport.recv() => match frame {
                Ok(Inbound::Text(text)) => {
                    let recs = records.push(&text);
                    if !recs.is_empty() {
                        break recs;
                    }
                    if records.pending_len() > options.max_receive_message_size {
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
                Ok(Inbound::Malformed(why)) => {
                    refuse_handshake(hub, conn, transport, &why).await;
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
    let mut handshake_records = handshake_records.into_iter();
    let first = handshake_records.next().expect("at least one record");
    let request = match protocol::parse_handshake(&first) {
        Ok(r) => r,
        Err(e) => {
            refuse_handshake(hub, conn, transport, &e.0).await;
            return None;
        }
    };
    let mut out = Vec::new();
    protocol::write_handshake_response(&mut out, None);
    if let Err(e) = bounded_write(options.client_timeout, transport.send(out)).await {
        tracing::debug!(connection_id = %conn.id, "handshake response failed: {e}");
        conn.close();
        return None;
    }
    let leftover: Vec<String> = handshake_records.collect();
    Some((transport, records, leftover, request.version))
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
    let _ = bounded_write(hub.options.client_timeout, transport.send(out)).await;
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

/// A write bounded by `client_timeout`: a client that stops reading cannot hold the connection task (and so
/// its timers) forever.
pub(super) async fn bounded_write(
    timeout: Duration,
    write: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, write).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the client took nothing written to it for {timeout:?} (HubOptions::client_timeout)"
        )),
    }
}
