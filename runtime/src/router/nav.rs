//! [`nav_link`]: a link that marks itself as the current page's.

use maud::{html, Markup};

/// How [`nav_link`] decides that its link is the current page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavMatch {
    /// The current path equals the link's path.
    Exact,
    /// The current path is the link's path or below it (`/notes` for `/notes/3`).
    Prefix,
}

/// A link to browser path `href` that carries `class="active"` and `aria-current="page"` when the
/// browser path `current` (query and fragment ignored) matches it.
pub fn nav_link(current: &str, href: &str, matching: NavMatch, content: Markup) -> Markup {
    let path = |uri: &str| {
        let path = uri.split(['?', '#']).next().unwrap_or("");
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        }
    };
    let (current, target) = (path(current), path(href));
    let active = match matching {
        NavMatch::Exact => current == target,
        NavMatch::Prefix => {
            current == target
                || target == "/"
                || current
                    .strip_prefix(&target)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    };
    html! {
        a href=(href) class=[active.then_some("active")] aria-current=[active.then_some("page")] { (content) }
    }
}
