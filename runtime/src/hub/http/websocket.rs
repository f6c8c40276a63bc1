//! WebSocket upgrades: a new connection, a resumed one (stateful reconnect), or a refusal.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::super::caller::TransportKind;
use super::super::registry::{random_id, SlotState};
use super::super::transport::WsTransport;
use super::{
    reject, request_info, switching, too_many_pending, transport_disabled, unknown_connection,
    Endpoint, Start,
};

/// Socket buffer sizes: small on purpose, see `docs/performance.md` (an idle connection must stay under 8 KB).
const WS_READ_BUFFER: usize = 4 * 1024;

/// The cap on bytes waiting in tungstenite's write buffer. Above the 64 KiB the design notes suggest, because
/// one outbound message (a large render batch) must fit in one frame; it is a cap, not an allocation.
const WS_MAX_WRITE_BUFFER: usize = 1024 * 1024;

pub(super) async fn websocket<E: Endpoint>(
    hub: &Arc<E>,
    parts: &mut axum::http::request::Parts,
    token: Option<String>,
) -> Response {
    if !hub.options().transports.web_sockets {
        return transport_disabled(TransportKind::WebSockets);
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(parts, &()).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let max = hub.options().max_receive_batch_size;
    let upgrade = upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max);
    let hub = hub.clone();
    let Some(token) = token else {
        // No negotiate (`skipNegotiation`): a fresh connection without stateful reconnect.
        let Some(ticket) = hub.registry().ticket(hub.options().max_pending_handshakes) else {
            return too_many_pending();
        };
        let info = request_info(&hub, parts, TransportKind::WebSockets);
        return upgrade.on_upgrade(move |socket| async move {
            hub.start(Start {
                id: Arc::from(random_id().as_str()),
                request: info,
                transport: WsTransport::new(socket),
                stateful: false,
                reconnects: None,
                slot: None,
                ticket: Some(ticket),
            });
        });
    };
    let info = request_info(&hub, parts, TransportKind::WebSockets);
    let Some(slot) = hub.registry().get(&token) else {
        return unknown_connection();
    };
    let mut state = slot.state.lock();
    match &*state {
        SlotState::Negotiated => {
            let (reconnect_tx, reconnect_rx) = if slot.stateful {
                let (tx, rx) = mpsc::channel(1);
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            *state = SlotState::WebSockets {
                reconnect: reconnect_tx,
            };
            drop(state);
            let stateful = slot.stateful;
            let id = slot.id.clone();
            let slot = slot.clone();
            let ticket = slot.ticket.lock().take();
            let guard = hub.registry().guard(&token);
            upgrade.on_upgrade(move |socket| async move {
                slot.started.store(true, Ordering::Release);
                hub.start(Start {
                    id,
                    request: info,
                    transport: WsTransport::new(socket),
                    stateful,
                    reconnects: reconnect_rx,
                    slot: Some(guard),
                    ticket,
                });
            })
        }
        // The connection settled on a version-1 handshake (no stateful reconnect), or ended: no second socket.
        SlotState::WebSockets {
            reconnect: Some(tx),
        } if tx.is_closed() => reject(
            StatusCode::CONFLICT,
            "A WebSocket is already active for this connection",
        ),
        SlotState::WebSockets {
            reconnect: Some(tx),
        } => {
            let tx = tx.clone();
            drop(state);
            upgrade.on_upgrade(move |socket| async move {
                // The connection task may have ended meanwhile; then the socket is simply dropped.
                let _ = tx.send(Box::new(WsTransport::new(socket))).await;
            })
        }
        SlotState::WebSockets { reconnect: None } => reject(
            StatusCode::CONFLICT,
            "A WebSocket is already active for this connection",
        ),
        other => switching(
            other.transport().expect("started"),
            TransportKind::WebSockets,
        ),
    }
}
