//! `POST {path}/negotiate`: hands out a connection id and token and the transports this hub offers.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::super::registry::{random_id, Slot, SlotState};
use super::cors::{add_cors, check_origin, preflight};
use super::{authorization, query_param, reject, too_many_pending, Endpoint};

pub(super) async fn negotiate<E: Endpoint>(
    State(hub): State<Arc<E>>,
    request: Request,
) -> Response {
    let (parts, _body) = request.into_parts();
    if parts.method == Method::OPTIONS {
        return preflight(&hub, &parts, "POST, OPTIONS");
    }
    if parts.method != Method::POST {
        let mut r = reject(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("negotiate accepts POST only, not {}", parts.method),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
        return r;
    }
    let origin = match check_origin(&hub, &parts) {
        Ok(o) => o,
        Err(reason) => return reject(StatusCode::FORBIDDEN, reason),
    };
    if let Some(mut refused) = authorization(&hub, &parts) {
        add_cors(&hub, &mut refused, origin);
        return refused;
    }
    let Some(ticket) = hub.registry().ticket(hub.options().max_pending_handshakes) else {
        return too_many_pending();
    };
    let query = parts.uri.query();
    let version = match query_param(query, "negotiateVersion") {
        None => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(v) => v.clamp(0, 1),
            Err(_) => {
                let mut r = axum::Json(serde_json::json!({
                    "error": format!("The negotiateVersion query parameter must be an integer, got '{v}'.")
                }))
                .into_response();
                add_cors(&hub, &mut r, origin);
                return r;
            }
        },
    };
    let stateful = hub.options().allow_stateful_reconnect
        && query_param(query, "useStatefulReconnect").as_deref() == Some("true");
    let id = random_id();
    let token = if version >= 1 {
        random_id()
    } else {
        id.clone()
    };
    let t = hub.options().transports;
    let mut transports = Vec::new();
    if t.web_sockets {
        transports.push(
            serde_json::json!({"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}),
        );
    }
    if t.server_sent_events {
        transports.push(
            serde_json::json!({"transport": "ServerSentEvents", "transferFormats": ["Text"]}),
        );
    }
    if t.long_polling {
        transports.push(
            serde_json::json!({"transport": "LongPolling", "transferFormats": ["Text", "Binary"]}),
        );
    }
    let mut body = serde_json::json!({
        "negotiateVersion": version,
        "connectionId": id,
        "availableTransports": transports,
    });
    if version >= 1 {
        body["connectionToken"] = serde_json::Value::String(token.clone());
    }
    if stateful {
        body["useStatefulReconnect"] = serde_json::Value::Bool(true);
    }
    let slot = Arc::new(Slot {
        id: Arc::from(id.as_str()),
        stateful,
        state: Mutex::new(SlotState::Negotiated),
        started: AtomicBool::new(false),
        ticket: Mutex::new(Some(ticket)),
        posting: AtomicBool::new(false),
    });
    hub.registry().insert(token.clone(), slot);
    // A negotiated connection that never starts a transport is forgotten after the disconnect timeout.
    let weak = Arc::downgrade(&hub);
    let window = hub.options().disconnect_timeout;
    tokio::spawn(async move {
        tokio::time::sleep(window).await;
        if let Some(hub) = weak.upgrade() {
            hub.registry().remove_unstarted(&token);
        }
    });
    let mut r = axum::Json(body).into_response();
    add_cors(&hub, &mut r, origin);
    r
}
