//! Long polling's requests: `GET` polls, `POST` sends (for SSE too), `DELETE` ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::super::caller::TransportKind;
use super::super::registry::SlotState;
use super::super::transport::{ActivePoll, Inbound, LongPollTransport, PollAnswer, PollState};
use super::{
    reject, start_connection, switching, transport_disabled, unknown_connection, Endpoint,
};

pub(super) async fn long_poll<E: Endpoint>(
    hub: &Arc<E>,
    parts: &axum::http::request::Parts,
    token: &str,
) -> Response {
    if !hub.options().transports.long_polling {
        return transport_disabled(TransportKind::LongPolling);
    }
    let Some(slot) = hub.registry().get(token) else {
        return unknown_connection();
    };
    let polls = {
        let mut state = slot.state.lock();
        match &*state {
            SlotState::Negotiated => {
                // One POST body at a time reaches the connection (see `post`).
                let (inbound_tx, inbound_rx) = mpsc::channel(1);
                let polls = Arc::new(PollState::new());
                *state = SlotState::LongPolling {
                    inbound: inbound_tx,
                    polls: polls.clone(),
                };
                drop(state);
                let transport = LongPollTransport::new(inbound_rx, polls, hub.options());
                start_connection(
                    hub,
                    &slot,
                    token,
                    parts,
                    TransportKind::LongPolling,
                    transport,
                );
                // The first poll answers at once: the connection is established.
                return StatusCode::OK.into_response();
            }
            SlotState::LongPolling { polls, .. } => polls.clone(),
            other => {
                return switching(
                    other.transport().expect("started"),
                    TransportKind::LongPolling,
                )
            }
        }
    };
    let active = ActivePoll::start(polls);
    match active.answer(hub.options().long_poll_timeout).await {
        PollAnswer::Data(data) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            data,
        )
            .into_response(),
        PollAnswer::Ended => StatusCode::NO_CONTENT.into_response(),
        PollAnswer::Empty => StatusCode::OK.into_response(),
    }
}

/// Marks a slot's `POST` as in progress until dropped.
struct Posting<'a>(&'a AtomicBool);

impl Drop for Posting<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

pub(super) async fn post<E: Endpoint>(
    hub: &Arc<E>,
    token: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Some(slot) = hub.registry().get(token) else {
        return unknown_connection();
    };
    // Event streams carry text only; long polling carries MessagePack too, so its bodies may be binary.
    let inbound = match &*slot.state.lock() {
        SlotState::ServerSentEvents { inbound, .. } => Ok((inbound.clone(), true)),
        SlotState::LongPolling { inbound, .. } => Ok((inbound.clone(), false)),
        SlotState::Negotiated => Err(
            "This connection has no transport yet: start the event stream or the first poll before sending",
        ),
        SlotState::WebSockets { .. } => {
            Err("This connection uses WebSockets: send over the socket, not with POST")
        }
    };
    let (inbound, text_only) = match inbound {
        Ok(i) => i,
        Err(reason) => return reject(StatusCode::BAD_REQUEST, reason),
    };
    // Bodies wait for the connection one at a time, so a client cannot make the server hold many at once.
    if slot.posting.swap(true, Ordering::AcqRel) {
        return reject(
            StatusCode::CONFLICT,
            "Another POST is still being handled for this connection; send one at a time",
        );
    }
    let _posting = Posting(&slot.posting);
    // A body may carry any number of messages; the message limit applies to each of them.
    let limit = hub.options().max_receive_batch_size;
    let bytes = match read_capped(body, limit).await {
        Some(b) => b,
        None => {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body larger than {limit} bytes (HubOptions::max_receive_batch_size); send fewer messages per request"
                ),
            )
        }
    };
    // The official clients send strings as `text/plain` and ArrayBuffers as `application/octet-stream`; a raw
    // connection handler sees the difference (a hub reads both the same way).
    let sent_as_text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/"));
    let frame = match String::from_utf8(bytes.into()) {
        Ok(text) if sent_as_text || text_only => Inbound::Text(text),
        Ok(text) => Inbound::Binary(text.into_bytes()),
        Err(_) if text_only => {
            return reject(StatusCode::BAD_REQUEST, "Request body is not UTF-8 text")
        }
        Err(e) => Inbound::Binary(e.into_bytes()),
    };
    match inbound.send(frame).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => unknown_connection(),
    }
}

pub(super) fn delete<E: Endpoint>(hub: &Arc<E>, token: &str) -> Response {
    let Some(slot) = hub.registry().get(token) else {
        return unknown_connection();
    };
    let state = slot.state.lock();
    match &*state {
        SlotState::LongPolling { polls, .. } => {
            polls.delete();
            StatusCode::ACCEPTED.into_response()
        }
        _ => reject(
            StatusCode::BAD_REQUEST,
            "DELETE ends long-polling connections only",
        ),
    }
}

/// How much of an oversized body is read (and thrown away) before the 413 answer: a server that answers
/// while the client is still sending closes a socket with unread input, which resets it, and the reset can
/// reach the client before the answer does (it then sees a failed request instead of 413 and its reason).
const OVERSIZED_BODY_DRAIN: usize = 16 * 1024 * 1024;

/// Reads `body` whole when it is at most `limit` bytes; `None` when it is larger, after reading (and
/// discarding) up to [`OVERSIZED_BODY_DRAIN`] bytes of it. Never holds more than `limit` bytes.
async fn read_capped(body: Body, limit: usize) -> Option<axum::body::Bytes> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return None;
        };
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            kept = Vec::new();
            if seen > OVERSIZED_BODY_DRAIN {
                return None;
            }
            continue;
        }
        kept.extend_from_slice(&chunk);
    }
    (seen <= limit).then(|| kept.into())
}
