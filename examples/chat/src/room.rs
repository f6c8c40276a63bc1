//! The chat room page (the `chat` crate's library; `cargo run -p chat` serves it at `/` next to the SignalR
//! hub at `/chathub`; the showcase serves it at `/chat`).
//!
//! One [`Room`] per process: a `tokio::sync::broadcast` channel plus the recent history, given to the
//! page's components as an application service. Each page's [`ChatRoom`] component subscribes in a task and appends every message through its [`Handle`], so every
//! tab sees every message live. [`post`] is also how the SignalR hub's `SendMessage` joins the room, and
//! [`subscribe`] how the hub hears what pages said.

use std::sync::{Arc, LazyLock, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use showcase_kit::{layout, tether_scripts, Server};
use tether::circuit::{CircuitHandle, CircuitHub};
use tether_components::{Component, Context, Handle, RenderContext, SubmitEvent};
use tokio::sync::broadcast;

/// The name [`ChatRoom`] is registered under.
pub const CHAT_ROOM: &str = "ChatRoom";
/// Messages kept for new pages.
pub const HISTORY: usize = 50;
/// The longest message accepted, in characters.
pub const MAX_MESSAGE: usize = 500;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A chat page (a circuit).
    Page,
    /// The SignalR hub's `SendMessage`.
    Hub,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
    /// Where it came from.
    pub origin: Origin,
}

/// A chat room: a broadcast channel plus the recent history. Cheap to clone (clones share the room).
///
/// The page gives it to its components as an application service (`Server::service`, read with
/// `cx.service::<Room>()`), so a test can mount [`ChatRoom`] with a room of its own.
#[derive(Clone)]
pub struct Room {
    state: Arc<RoomState>,
}

struct RoomState {
    sender: broadcast::Sender<Message>,
    history: Mutex<Vec<Message>>,
}

static ROOM: LazyLock<Room> = LazyLock::new(Room::new);

impl Default for Room {
    fn default() -> Self {
        Self::new()
    }
}

impl Room {
    /// An empty room.
    pub fn new() -> Self {
        Room {
            state: Arc::new(RoomState {
                sender: broadcast::channel(256).0,
                history: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The process-wide room the pages and the SignalR hub share.
    pub fn shared() -> Room {
        ROOM.clone()
    }

    /// Posts a message to everyone in the room.
    pub fn post(&self, user: &str, text: &str, origin: Origin) {
        let message = Message {
            user: user.to_owned(),
            text: text.to_owned(),
            origin,
        };
        let mut history = self.state.history.lock().unwrap();
        history.push(message.clone());
        if history.len() > HISTORY {
            history.remove(0);
        }
        // Sent under the history lock, so a new subscriber never misses or repeats a message.
        let _ = self.state.sender.send(message);
    }

    /// A receiver of every message posted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.state.sender.subscribe()
    }

    /// The recent history and a receiver of what comes after it, taken together under the history lock:
    /// nothing is missed or repeated.
    pub fn join(&self) -> (Vec<Message>, broadcast::Receiver<Message>) {
        let history = self.state.history.lock().unwrap();
        (history.clone(), self.state.sender.subscribe())
    }
}

/// Posts a message to the shared room ([`Room::shared`]).
pub fn post(user: &str, text: &str, origin: Origin) {
    ROOM.post(user, text, origin);
}

/// A receiver of every message posted to the shared room from now on.
pub fn subscribe() -> broadcast::Receiver<Message> {
    ROOM.subscribe()
}

/// One tab's view of the room.
pub struct ChatRoom {
    /// The room service; `None` only when mounted without one.
    room: Option<Room>,
    messages: Vec<Message>,
    user: String,
    draft: String,
    error: Option<String>,
}

impl ChatRoom {
    fn send(&mut self, event: SubmitEvent) {
        let user = event.field("user").unwrap_or(&self.user).trim().to_owned();
        let text = event.field("text").unwrap_or(&self.draft).trim().to_owned();
        self.error = if user.is_empty() {
            Some("Say who you are first.".into())
        } else if text.is_empty() {
            Some("Write a message.".into())
        } else if text.chars().count() > MAX_MESSAGE {
            Some(format!("Keep it under {MAX_MESSAGE} characters."))
        } else {
            None
        };
        self.user = user;
        if self.error.is_none() && self.room.is_none() {
            self.error = Some("This page has no chat room.".into());
        }
        if let (None, Some(room)) = (&self.error, &self.room) {
            room.post(&self.user, &text, Origin::Page);
            self.draft.clear();
        } else {
            self.draft = text;
        }
    }
}

impl Component for ChatRoom {
    type Props = ();

    fn create(_: &()) -> Self {
        ChatRoom {
            room: None,
            messages: Vec::new(),
            user: String::new(),
            draft: String::new(),
            error: None,
        }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        let Some(room) = cx.service::<Room>() else {
            return;
        };
        let (history, mut messages) = room.join();
        self.messages = history;
        self.room = Some(room);
        // Only a live circuit listens; a prerender has no circuit and renders once.
        let Some(circuit) = cx.service::<CircuitHandle>() else {
            return;
        };
        let handle: Handle<ChatRoom> = cx.handle();
        tokio::spawn(async move {
            loop {
                let message = match messages.recv().await {
                    Ok(message) => message,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if !circuit.is_alive() {
                    return;
                }
                handle.update(move |this: &mut ChatRoom| {
                    this.messages.push(message);
                    if this.messages.len() > HISTORY {
                        this.messages.remove(0);
                    }
                });
            }
        });
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            ul #messages.messages {
                @if self.messages.is_empty() { li.muted { "No messages yet." } }
                @for message in &self.messages {
                    li { span.who { (message.user) } span.text { (message.text) } }
                }
            }
            form #chat-form.row t-submit=(cx.on_submit(|this: &mut Self, e| this.send(e)).prevent_default()) {
                input #chat-user type="text" name="user" value=(self.user) placeholder="Your name" size="10"
                    aria-label="Your name" t-input=(cx.on_input(|this: &mut Self, e| this.user = e.value));
                input #chat-text type="text" name="text" value=(self.draft) placeholder="Say something"
                    aria-label="Message" t-input=(cx.on_input(|this: &mut Self, e| this.draft = e.value));
                button #chat-send type="submit" { "Send" }
            }
            @if let Some(error) = &self.error { p #chat-error.error { (error) } }
        }
    }
}

async fn page(State(hub): State<CircuitHub>) -> Response {
    let mut page = hub.page();
    let room = match page.root(CHAT_ROOM, &()) {
        Ok(markup) => markup,
        Err(error) => return error.into_response(),
    };
    page.respond(layout(
        "Chat",
        html! {
            "Server components in a shared room: each tab's component listens on a broadcast channel and \
             updates itself through its " code { "Handle" } ". Open a second tab and talk to yourself."
        },
        room,
        tether_scripts(&hub, "", "{}"),
    ))
}

/// Registers [`ChatRoom`] and provides the shared [`Room`] as a service; returns the page routes (`/`).
pub fn install(server: &mut Server) -> Router<CircuitHub> {
    server.components().register::<ChatRoom>(CHAT_ROOM);
    server.service(Room::shared());
    Router::new().route("/", get(page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tether_components::testing::Harness;
    use tether_components::Services;

    #[test]
    fn the_form_validates_and_posts_to_the_room() {
        let room = Room::new();
        let mut said = room.subscribe();
        let mut h = Harness::mount_with::<ChatRoom>((), &Services::new().with(room.clone()));
        h.submit("#chat-form", json!({ "user": "", "text": "hi" }));
        assert!(h.html().contains("Say who you are first."));
        h.submit("#chat-form", json!({ "user": "Ann", "text": "  " }));
        assert!(h.html().contains("Write a message."));
        h.submit("#chat-form", json!({ "user": "Ann", "text": "hi there" }));
        assert!(!h.html().contains("chat-error"));
        let message = said.try_recv().expect("the message was posted");
        assert_eq!(
            (message.user.as_str(), message.text.as_str()),
            ("Ann", "hi there")
        );
        assert_eq!(message.origin, Origin::Page);
        // The room is the test's own: the shared one heard nothing.
        assert!(Room::shared().join().0.is_empty());
    }

    #[test]
    fn a_new_page_shows_the_rooms_history() {
        let room = Room::new();
        room.post("Bob", "earlier", Origin::Hub);
        let h = Harness::mount_with::<ChatRoom>((), &Services::new().with(room));
        assert!(h.html().contains("earlier"), "{}", h.html());
    }

    #[test]
    fn without_a_room_the_page_says_so() {
        let mut h = Harness::mount::<ChatRoom>(());
        h.submit("#chat-form", json!({ "user": "Ann", "text": "hi" }));
        assert!(h.html().contains("This page has no chat room."));
    }
}
