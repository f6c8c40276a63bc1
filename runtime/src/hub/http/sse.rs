//! `GET` with `Accept: text/event-stream`: opens the event stream of a negotiated connection.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::super::caller::TransportKind;
use super::super::registry::SlotState;
use super::super::transport::SseTransport;
use super::{
    reject, start_connection, switching, transport_disabled, unknown_connection, Endpoint,
};

pub(super) fn server_sent_events<E: Endpoint>(
    hub: &Arc<E>,
    parts: &axum::http::request::Parts,
    token: &str,
) -> Response {
    if !hub.options().transports.server_sent_events {
        return transport_disabled(TransportKind::ServerSentEvents);
    }
    let Some(slot) = hub.registry().get(token) else {
        return unknown_connection();
    };
    let mut state = slot.state.lock();
    match &mut *state {
        SlotState::Negotiated => {}
        SlotState::ServerSentEvents {
            streaming: true, ..
        } => {
            return reject(
                StatusCode::CONFLICT,
                "An event stream is already open for this connection",
            )
        }
        other => {
            return switching(
                other.transport().unwrap_or(TransportKind::ServerSentEvents),
                TransportKind::ServerSentEvents,
            )
        }
    }
    // One POST body at a time reaches the connection (see `post`).
    let (inbound_tx, inbound_rx) = mpsc::channel(1);
    let (events_tx, mut events_rx) = mpsc::channel(8);
    *state = SlotState::ServerSentEvents {
        inbound: inbound_tx,
        streaming: true,
    };
    drop(state);
    let transport = SseTransport::new(inbound_rx, events_tx);
    start_connection(
        hub,
        &slot,
        token,
        parts,
        TransportKind::ServerSentEvents,
        transport,
    );
    let first =
        futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b":\r\n")) });
    let rest = futures_util::stream::poll_fn(move |cx| events_rx.poll_recv(cx));
    let body = Body::from_stream(futures_util::StreamExt::chain(first, rest));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}
