//! Run alone with `cargo run -p todo`, or see it at `/todo` in the showcase (`cargo run --release -p showcase`).
//!
//! A todo list as one component: a keyed list (`t-key` keeps each row's DOM node when rows move), add with
//! validation messages, edit in place, toggle, remove, and move up or down.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::{CircuitHub, PageRequest};
use tether_components::{Component, Persistence, RenderContext, SubmitEvent};

/// The name [`TodoList`] is registered under.
pub const TODO_LIST: &str = "TodoList";

/// The longest title the form accepts.
pub const MAX_TITLE: usize = 80;

/// The list's props: the items it starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TodoProps {
    /// Titles of the first items.
    pub initial: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    id: u64,
    title: String,
    done: bool,
}

/// The todo list component. Its items are persisted (docs/persistence.md); drafts and edits in progress
/// are not.
pub struct TodoList {
    items: Vec<Item>,
    next_id: u64,
    draft: String,
    error: Option<String>,
    /// The item being edited, with its draft title and validation message.
    editing: Option<(u64, String, Option<String>)>,
}

/// Why a title is refused, or the trimmed title.
pub fn validate(title: &str, existing: &[&str]) -> Result<String, String> {
    let title = title.trim();
    if title.is_empty() {
        return Err("Write something first.".into());
    }
    if title.chars().count() > MAX_TITLE {
        return Err(format!("Keep it under {MAX_TITLE} characters."));
    }
    if existing.iter().any(|t| t.eq_ignore_ascii_case(title)) {
        return Err("That todo is already on the list.".into());
    }
    Ok(title.to_owned())
}

impl TodoList {
    fn titles_except(&self, id: Option<u64>) -> Vec<&str> {
        self.items
            .iter()
            .filter(|i| Some(i.id) != id)
            .map(|i| i.title.as_str())
            .collect()
    }

    fn add(&mut self, event: SubmitEvent) {
        let title = event.field("title").unwrap_or(&self.draft).to_owned();
        match validate(&title, &self.titles_except(None)) {
            Ok(title) => {
                self.items.push(Item {
                    id: self.next_id,
                    title,
                    done: false,
                });
                self.next_id += 1;
                self.draft.clear();
                self.error = None;
            }
            Err(message) => {
                self.draft = title;
                self.error = Some(message);
            }
        }
    }

    fn save_edit(&mut self, event: SubmitEvent) {
        let Some((id, draft, _)) = self.editing.take() else {
            return;
        };
        let title = event.field("title").map(str::to_owned).unwrap_or(draft);
        match validate(&title, &self.titles_except(Some(id))) {
            Ok(title) => {
                if let Some(item) = self.items.iter_mut().find(|i| i.id == id) {
                    item.title = title;
                }
            }
            Err(message) => self.editing = Some((id, title, Some(message))),
        }
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    fn move_by(&mut self, id: u64, up: bool) {
        if let Some(at) = self.position(id) {
            let to = if up { at.checked_sub(1) } else { Some(at + 1) };
            if let Some(to) = to.filter(|&to| to < self.items.len()) {
                self.items.swap(at, to);
            }
        }
    }

    fn row(&self, cx: &mut RenderContext<'_, Self>, index: usize, item: &Item) -> Markup {
        let id = item.id;
        let last = index + 1 == self.items.len();
        if let Some((_, draft, error)) = self.editing.as_ref().filter(|(e, _, _)| *e == id) {
            return html! {
                li t-key=(id) data-id=(id) {
                    form.row t-submit=(cx.on_submit(|this: &mut Self, e| this.save_edit(e)).prevent_default()) {
                        input type="text" name="title" value=(draft) aria-label="Title"
                            t-input=(cx.on_input(|this: &mut Self, e| {
                                if let Some((_, draft, _)) = &mut this.editing { draft.clone_from(&e.value) }
                            }));
                        button type="submit" { "Save" }
                        button.quiet type="button" t-click=(cx.on_click(|this: &mut Self, _| this.editing = None)) { "Cancel" }
                    }
                    @if let Some(error) = error { span.error { (error) } }
                }
            };
        }
        html! {
            li.done[item.done] t-key=(id) data-id=(id) {
                input type="checkbox" checked[item.done] aria-label="Done"
                    t-change=(cx.on_change(move |this: &mut Self, e| {
                        if let Some(item) = this.items.iter_mut().find(|i| i.id == id) {
                            item.done = e.checked.unwrap_or(!item.done);
                        }
                    }));
                span.title { (item.title) }
                button.quiet.up type="button" title="Move up" disabled[index == 0]
                    t-click=(cx.on_click(move |this: &mut Self, _| this.move_by(id, true))) { "↑" }
                button.quiet.down type="button" title="Move down" disabled[last]
                    t-click=(cx.on_click(move |this: &mut Self, _| this.move_by(id, false))) { "↓" }
                button.quiet.edit type="button"
                    t-click=(cx.on_click(move |this: &mut Self, _| {
                        let title = this.items.iter().find(|i| i.id == id).map(|i| i.title.clone());
                        this.editing = title.map(|t| (id, t, None));
                    })) { "Edit" }
                button.quiet.remove type="button"
                    t-click=(cx.on_click(move |this: &mut Self, _| this.items.retain(|i| i.id != id))) { "Remove" }
            }
        }
    }
}

/// What a persisted todo list keeps.
#[derive(Serialize, Deserialize)]
struct SavedList {
    items: Vec<Item>,
    next_id: u64,
}

impl Component for TodoList {
    type Props = TodoProps;

    fn persistence() -> Option<Persistence<Self>> {
        Persistence::custom(
            |list| {
                serde_json::to_value(SavedList {
                    items: list.items.clone(),
                    next_id: list.next_id,
                })
                .map_err(|e| e.to_string())
            },
            |list, value| {
                let saved: SavedList = serde_json::from_value(value).map_err(|e| e.to_string())?;
                list.items = saved.items;
                list.next_id = saved.next_id;
                Ok(())
            },
        )
    }

    fn create(props: &TodoProps) -> Self {
        let items: Vec<Item> = props
            .initial
            .iter()
            .enumerate()
            .map(|(i, title)| Item {
                id: i as u64 + 1,
                title: title.clone(),
                done: false,
            })
            .collect();
        TodoList {
            next_id: items.len() as u64 + 1,
            items,
            draft: String::new(),
            error: None,
            editing: None,
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let left = self.items.iter().filter(|i| !i.done).count();
        let rows: Vec<Markup> = self
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| self.row(cx, index, item))
            .collect();
        html! {
            form #add.row t-submit=(cx.on_submit(|this: &mut Self, e| this.add(e)).prevent_default()) {
                input #new-title type="text" name="title" value=(self.draft) placeholder="What needs doing?"
                    aria-label="New todo" t-input=(cx.on_input(|this: &mut Self, e| {
                        this.draft = e.value;
                        this.error = None;
                    }));
                button #add-button type="submit" { "Add" }
            }
            @if let Some(error) = &self.error { p #add-error.error { (error) } }
            ul #todos.todos { @for row in rows { (row) } }
            p #todo-summary.muted { (left) " of " (self.items.len()) " left" }
        }
    }
}

async fn page(State(hub): State<CircuitHub>, _request: PageRequest) -> Response {
    let mut page = hub.page();
    let props = TodoProps {
        initial: vec!["Read docs/protocol.md".into(), "Run the showcase".into()],
    };
    let list = match page.root(TODO_LIST, &props) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Todo",
        html! {
            "One component holds the list. Rows carry a " code { "t-key" } ", so moving a row moves its DOM \
             node; the form validates on the server and shows the message under the field."
        },
        list,
        tether_scripts(&hub, "", "{}"),
    ))
}

/// Registers [`TodoList`] and returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<TodoList>(TODO_LIST);
    Router::new().route("/", get(page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_components::testing::Harness;

    #[test]
    fn validation_messages() {
        assert_eq!(validate("  milk ", &[]), Ok("milk".into()));
        assert!(validate("   ", &[]).is_err());
        assert!(validate(&"x".repeat(MAX_TITLE + 1), &[]).is_err());
        assert!(validate("Milk", &["milk"]).is_err());
    }

    #[test]
    fn add_toggle_reorder_remove() {
        let mut h = Harness::mount::<TodoList>(TodoProps {
            initial: vec!["a".into(), "b".into()],
        });
        h.submit("#add", serde_json::json!({ "title": "c" }));
        assert!(h.html().contains("3 of 3 left"), "{}", h.html());
        h.submit("#add", serde_json::json!({ "title": " " }));
        assert!(h.html().contains("Write something first."));
        h.check("li[data-id=\"1\"] input", true);
        assert!(h.html().contains("2 of 3 left"));
        h.click("li[data-id=\"3\"] .up");
        let html = h.html();
        assert!(
            html.find("data-id=\"3\"") < html.find("data-id=\"2\""),
            "{html}"
        );
        h.click("li[data-id=\"1\"] .remove");
        assert!(!h.html().contains("data-id=\"1\""));
    }
}
