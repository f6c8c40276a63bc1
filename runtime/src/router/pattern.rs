//! Route patterns: `/notes/{id}`, `/files/{*rest}`, and matching a request path against them.
//!
//! A pattern is a list of segments: literals, `{name}` (one path segment) and a final `{*name}` (the rest
//! of the path, possibly empty). Matching compares percent-decoded segments; a trailing slash is ignored
//! (`/notes/` matches `/notes`). Among the patterns that match a path, the most specific wins: at the first
//! segment where two patterns differ, a literal beats a parameter, which beats a catch-all; so the order in
//! which routes are added never decides which one answers.

use std::cmp::Ordering;
use std::fmt;

/// Why a route pattern was refused when the route table was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid route pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    CatchAll(String),
}

impl Segment {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::CatchAll(_) => 2,
        }
    }
}

/// A parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

impl Pattern {
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let error = |reason| PatternError {
            pattern: text.to_owned(),
            reason,
        };
        if !text.starts_with('/') {
            return Err(error("a pattern starts with `/`"));
        }
        let mut segments = Vec::new();
        let parts: Vec<&str> = split_path(text).collect();
        for (index, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_prefix('*') {
                    Some(rest) if index + 1 != parts.len() => {
                        let _ = rest;
                        return Err(error("a catch-all `{*name}` must be the last segment"));
                    }
                    Some(rest) => Segment::CatchAll(rest.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None if part.contains(['{', '}']) => {
                    return Err(error("a parameter takes a whole segment: `/{name}/`"))
                }
                None => Segment::Literal((*part).to_owned()),
            };
            if let Segment::Param(name) | Segment::CatchAll(name) = &segment {
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(error("a parameter name is letters, digits and `_`"));
                }
                let taken = segments
                    .iter()
                    .any(|s| matches!(s, Segment::Param(n) | Segment::CatchAll(n) if n == name));
                if taken {
                    return Err(error("a parameter name appears twice"));
                }
            }
            segments.push(segment);
        }
        Ok(Pattern {
            text: text.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The parameters of `path` (a path without query or fragment), or `None` when it does not match. A
    /// segment that is not valid percent-encoded UTF-8 does not match.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut parts = split_path(path);
        let mut params = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if percent_decode(parts.next()?)? != *literal {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    params.push((name.clone(), percent_decode(parts.next()?)?));
                }
                Segment::CatchAll(name) => {
                    let rest: Vec<String> =
                        parts.by_ref().map(percent_decode).collect::<Option<_>>()?;
                    params.push((name.clone(), rest.join("/")));
                }
            }
        }
        parts.next().is_none().then_some(params)
    }

    /// Orders patterns most specific first (see the module docs).
    pub(crate) fn specificity(&self, other: &Pattern) -> Ordering {
        for (a, b) in self.segments.iter().zip(&other.segments) {
            match a.rank().cmp(&b.rank()) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        // Same shape so far: the longer pattern is more specific.
        other.segments.len().cmp(&self.segments.len())
    }
}

/// The non-empty segments of a path.
fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// Decodes `%XX` escapes (not `+`: in a path it is a plus sign). `None` for a bad escape or non-UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits `path?query#fragment` into the path and the decoded query pairs (`+` is a space there).
pub(crate) fn split_query(target: &str) -> (&str, Vec<(String, String)>) {
    let target = target.split('#').next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let pairs = crate::request::pairs(query)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (path, pairs)
}

/// Percent-encodes `text` for use as a query value.
pub fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn literals_parameters_and_catch_alls_match() {
        assert_eq!(p("/").matches("/"), Some(vec![]));
        assert_eq!(p("/notes").matches("/notes/"), Some(vec![]));
        assert_eq!(p("/notes").matches("/notes/1"), None);
        assert_eq!(
            p("/notes/{id}").matches("/notes/42"),
            Some(vec![("id".into(), "42".into())])
        );
        assert_eq!(
            p("/notes/{id}").matches("/notes/a%20b"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(p("/notes/{id}").matches("/notes"), None);
        assert_eq!(p("/notes/{id}").matches("/notes/%ZZ"), None);
        assert_eq!(
            p("/files/{*rest}").matches("/files/a/b"),
            Some(vec![("rest".into(), "a/b".into())])
        );
        assert_eq!(
            p("/files/{*rest}").matches("/files"),
            Some(vec![("rest".into(), String::new())])
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["notes", "/a/{*x}/b", "/a{id}", "/{}", "/{a}/{a}", "/{a-b}"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_most_specific_pattern_sorts_first() {
        let mut patterns = [p("/{*all}"), p("/notes/{id}"), p("/notes/new"), p("/notes")];
        patterns.sort_by(Pattern::specificity);
        let order: Vec<&str> = patterns.iter().map(Pattern::text).collect();
        assert_eq!(order, ["/notes/new", "/notes/{id}", "/notes", "/{*all}"]);
    }

    #[test]
    fn queries_are_split_and_decoded() {
        let (path, query) = split_query("/login?return=%2Fnotes%2Fnew&x=a+b#top");
        assert_eq!(path, "/login");
        assert_eq!(
            query,
            vec![
                ("return".into(), "/notes/new".into()),
                ("x".into(), "a b".into())
            ]
        );
        assert_eq!(encode_query_value("/notes/new?x=1"), "/notes/new%3Fx%3D1");
    }
}
