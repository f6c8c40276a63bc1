//! Origin checks and CORS answers, for negotiate and every transport request.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::super::options::AllowedOrigins;
use super::{reject, Endpoint};

/// Checks `Origin` against the policy. `Ok(Some(origin))` means a cross-origin request that is allowed
/// (CORS headers go on the answer); `Ok(None)` a same-origin or non-browser request.
pub(super) fn check_origin<E: Endpoint>(
    hub: &Arc<E>,
    parts: &axum::http::request::Parts,
) -> Result<Option<HeaderValue>, String> {
    let headers = &parts.headers;
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(None);
    };
    let origin_text = origin.to_str().unwrap_or("");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let (origin_scheme, origin_host) = origin_text.split_once("://").unwrap_or(("", ""));
    if !host.is_empty()
        && origin_host.eq_ignore_ascii_case(host)
        && origin_scheme.eq_ignore_ascii_case(request_scheme(parts))
    {
        return Ok(None);
    }
    let allowed = match &hub.options().allowed_origins {
        AllowedOrigins::SameOrigin => false,
        AllowedOrigins::Any => true,
        AllowedOrigins::List(list) => list
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin_text)),
    };
    if allowed {
        Ok(Some(origin.clone()))
    } else {
        Err(format!(
                "Origin '{origin_text}' is not allowed to use this hub; add it to HubOptions::allowed_origins \
                 (cross-origin requests are refused to prevent cross-site WebSocket hijacking)"
        ))
    }
}

/// The scheme the page of a same-origin request was served with: the request URI's when absolute, else what
/// a TLS-terminating proxy reports in `X-Forwarded-Proto`, else `http` (what [`crate::hub::serve`] speaks).
pub(super) fn request_scheme(parts: &axum::http::request::Parts) -> &str {
    if let Some(scheme) = parts.uri.scheme_str() {
        return scheme;
    }
    parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .unwrap_or("http")
}

pub(super) fn add_cors<E: Endpoint>(
    hub: &Arc<E>,
    response: &mut Response,
    origin: Option<HeaderValue>,
) {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if hub.options().allow_credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

pub(super) fn preflight<E: Endpoint>(
    hub: &Arc<E>,
    parts: &axum::http::request::Parts,
    methods: &'static str,
) -> Response {
    let headers = &parts.headers;
    let origin = match check_origin(hub, parts) {
        Ok(o) => o,
        Err(reason) => return reject(StatusCode::FORBIDDEN, reason),
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    add_cors(hub, &mut response, origin);
    response
}
