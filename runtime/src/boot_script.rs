//! Serving the boot script: the browser side of Tether, built from `client-js/src` into the committed bundle
//! `client-js/dist/tether.js` and embedded here with `include_str!`, so building the crate needs no Node.
//!
//! The bundle is served at [`BOOT_SCRIPT_PATH`] with a strong `ETag` derived from its content (computed once).
//! Page templates link it with [`boot_script_url`], which carries the content version as `?v=`: that URL
//! never changes meaning, so it is cached for a year as `immutable`. A request without the current version
//! (a bare link, or a page rendered by an older build) gets `Cache-Control: no-cache` and revalidates with
//! `If-None-Match`, answered by `304 Not Modified` while the content is unchanged.
//!
//! The built-in reconnect dialog's CSS (`assets/tether-reconnect.css`) is inlined in the bundle rather than
//! served separately: the dialog appears exactly when the network is failing, when a stylesheet fetched on
//! demand might not load.
//!
//! ```no_run
//! use axum::Router;
//! let app: Router = Router::new().merge(tether::boot_script::boot_script_router());
//! let tag = format!(r#"<script src="{}"></script>"#, tether::boot_script::boot_script_url());
//! ```
use std::sync::OnceLock;

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use sha2::{Digest, Sha256};

/// The minified boot script (`client-js/dist/tether.js`).
pub const BOOT_SCRIPT: &str = include_str!("../../client-js/dist/tether.js");

/// The path the boot script is served at.
pub const BOOT_SCRIPT_PATH: &str = "/_tether/tether.js";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

struct Fingerprint {
    version: String,
    url: String,
    etag: HeaderValue,
}

fn fingerprint() -> &'static Fingerprint {
    static FINGERPRINT: OnceLock<Fingerprint> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let digest = Sha256::digest(BOOT_SCRIPT.as_bytes());
        let version: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{version}\""))
            .expect("hex digits make a valid header value");
        Fingerprint {
            url: format!("{BOOT_SCRIPT_PATH}?v={version}"),
            version,
            etag,
        }
    })
}

/// The content version of the boot script: 24 hex digits of its SHA-256.
pub fn boot_script_version() -> &'static str {
    &fingerprint().version
}

/// The URL page templates put in `<script src>`: [`BOOT_SCRIPT_PATH`] with `?v=` the content version.
pub fn boot_script_url() -> &'static str {
    &fingerprint().url
}

/// A router serving the boot script at [`BOOT_SCRIPT_PATH`] (GET and HEAD); merge it into the app's router.
pub fn boot_script_router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(BOOT_SCRIPT_PATH, get(serve_boot_script))
}

/// A router serving the boot script at `{hub_path}/tether.js`, for a circuit hub mapped at another path. A
/// script served next to its hub finds the hub by itself, so the page needs no `configureSignalR`.
pub fn boot_script_router_for_hub<S>(hub_path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(&script_path_for_hub(hub_path), get(serve_boot_script))
}

/// The versioned URL of the boot script served by [`boot_script_router_for_hub`].
pub fn boot_script_url_for_hub(hub_path: &str) -> String {
    format!(
        "{}?v={}",
        script_path_for_hub(hub_path),
        boot_script_version()
    )
}

fn script_path_for_hub(hub_path: &str) -> String {
    format!("/{}/tether.js", hub_path.trim_matches('/'))
}

/// The handler behind [`boot_script_router`]: the script with its `ETag`, long-lived caching for the
/// versioned URL, `no-cache` otherwise, and `304 Not Modified` when `If-None-Match` names the current `ETag`.
pub async fn serve_boot_script(uri: Uri, headers: HeaderMap) -> Response {
    let fingerprint = fingerprint();
    let versioned = uri.query().is_some_and(|query| {
        crate::request::pairs(query).any(|(k, v)| k == "v" && v == fingerprint.version.as_str())
    });
    let cache_control = HeaderValue::from_static(if versioned { IMMUTABLE } else { REVALIDATE });
    if if_none_match_hits(&headers, &fingerprint.etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, fingerprint.etag.clone()),
                (header::CACHE_CONTROL, cache_control),
            ],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::ETAG, fingerprint.etag.clone()),
            (header::CACHE_CONTROL, cache_control),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        BOOT_SCRIPT,
    )
        .into_response()
}

/// Whether `If-None-Match` lists `etag` (weak comparison, as RFC 9110 asks for this header) or is `*`.
fn if_none_match_hits(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: &str, if_none_match: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(tag) = if_none_match {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        serve_boot_script(uri.parse().unwrap(), headers).await
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn the_version_is_a_content_hash_in_the_url_and_etag() {
        assert_eq!(boot_script_version().len(), 24);
        assert!(boot_script_version().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            boot_script_url(),
            format!("/_tether/tether.js?v={}", boot_script_version())
        );
        assert!(
            BOOT_SCRIPT.contains("Tether"),
            "the embedded file is the bundle"
        );
    }

    #[test]
    fn a_hub_at_another_path_gets_its_script_beside_it() {
        assert_eq!(
            boot_script_url_for_hub("/custom-hub/"),
            format!("/custom-hub/tether.js?v={}", boot_script_version())
        );
        assert_eq!(
            boot_script_url_for_hub("/_tether"),
            boot_script_url(),
            "the default hub path gives the default URL"
        );
    }

    #[tokio::test]
    async fn the_versioned_url_is_cached_for_a_year() {
        let response = get(boot_script_url(), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            header_of(&response, header::ETAG),
            format!("\"{}\"", boot_script_version())
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body, BOOT_SCRIPT.as_bytes());
    }

    #[tokio::test]
    async fn other_urls_must_revalidate() {
        for uri in [
            "/_tether/tether.js",
            "/_tether/tether.js?v=0123456789abcdef01234567",
            "/_tether/tether.js?x=1",
        ] {
            let response = get(uri, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            assert_eq!(
                header_of(&response, header::CACHE_CONTROL),
                REVALIDATE,
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn a_matching_if_none_match_gets_304() {
        let etag = format!("\"{}\"", boot_script_version());
        for tag in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"old\", {etag}"),
            "*".to_owned(),
        ] {
            let response = get("/_tether/tether.js", Some(&tag)).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(header_of(&response, header::ETAG), etag);
        }
        let stale = get("/_tether/tether.js", Some("\"old\"")).await;
        assert_eq!(stale.status(), StatusCode::OK);
    }
}
