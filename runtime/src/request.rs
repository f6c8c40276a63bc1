//! Reading the text of HTTP requests: query strings, form bodies and cookies, parsed the same way wherever
//! they are read (prerender's `PageRequest`, the live circuit's `HubContext`, negotiate, the boot script,
//! the disconnect beacon), so that a value never reads differently in two places.
//!
//! Query strings and form bodies are `application/x-www-form-urlencoded` (`+` is a space, `%XX` escapes;
//! the `form_urlencoded` crate, as `axum::extract::Query` and `url` use). Cookies follow RFC 6265's
//! `Cookie` header: `name=value` pairs separated by `;`, whitespace around them ignored, and a value in
//! double quotes read without them.

use std::borrow::Cow;

use axum::http::{header, HeaderMap};

/// The decoded `name=value` pairs of a query string or form body, in order.
pub(crate) fn pairs(text: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(text.as_bytes())
}

/// The first decoded value of `name` in a query string or form body.
pub(crate) fn value<'a>(text: &'a str, name: &str) -> Option<Cow<'a, str>> {
    pairs(text)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// Every cookie of the request's `Cookie` headers, in order.
pub(crate) fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim(), value))
        })
}

/// The first cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers)
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn query_and_form_text_decode_alike() {
        let text = "a=1&secret=ab%2Bc+d&empty=&flag&a=2";
        assert_eq!(value(text, "secret").as_deref(), Some("ab+c d"));
        assert_eq!(value(text, "a").as_deref(), Some("1"));
        assert_eq!(value(text, "empty").as_deref(), Some(""));
        assert_eq!(value(text, "flag").as_deref(), Some(""));
        assert_eq!(value(text, "missing"), None);
        assert_eq!(pairs(text).count(), 5);
    }

    #[test]
    fn cookies_trim_whitespace_and_quotes() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; theme = \"dark\" ;b=x=y"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("c=\"unclosed"));
        assert_eq!(
            cookies(&headers).collect::<Vec<_>>(),
            [
                ("a", "1"),
                ("theme", "dark"),
                ("b", "x=y"),
                ("c", "\"unclosed")
            ]
        );
        assert_eq!(cookie(&headers, "theme"), Some("dark"));
        assert_eq!(cookie(&headers, "nope"), None);
    }
}
