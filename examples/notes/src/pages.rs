//! The pages (each a component routed in [`crate::routes`]): the notes list, one note, the new-note form, the login page, not found; and the layout.

use garde::Validate;
use maud::{html, Markup};
use tether::auth::{authorized, CurrentUser};
use tether::circuit::Location;
use tether::router::{LayoutContext, Reject, RouteMatch, RouteProps, Routes};
use tether_components::forms::{field, FieldErrors, Form};
use tether_components::{Component, Context, RenderContext};

use crate::store::{Note, NoteStore};

/// The shell around every page: the nav bar with NavLinks and the signed-in user.
pub fn layout(cx: &mut LayoutContext<'_, '_>, page: Markup) -> Markup {
    let user = cx.user();
    let login = cx.href(&format!(
        "/login?return={}",
        tether::router::encode_query_value(cx.uri())
    ));
    html! {
        header.site {
            span.brand { "Tether notes" }
            nav.notes-nav {
                (cx.nav_link("/notes", html! { "All notes" }))
                (cx.nav_link("/notes/new", html! { "New note" }))
                span.account {
                    (authorized(Some(&user), None,
                        |user| html! {
                            span #user { (user.name) }
                            " " a href=(cx.href("/logout")) data-t-reload { "Sign out" }
                        },
                        || html! { a #sign-in href=(login) { "Sign in" } }))
                }
            }
        }
        main { (page) }
    }
}

fn routes_of(cx_routes: Option<Routes>) -> Routes {
    cx_routes.unwrap_or_default()
}

/// `/notes`: every note as a link.
pub struct NotesList {
    notes: Vec<Note>,
    routes: Routes,
}

impl Component for NotesList {
    type Props = ();
    fn create(_: &()) -> Self {
        NotesList {
            notes: Vec::new(),
            routes: Routes::new(),
        }
    }
    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.notes = cx
            .service::<NoteStore>()
            .map(|s| s.all())
            .unwrap_or_default();
        self.routes = routes_of(cx.service());
    }
    fn render(&self, _: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            h1 { "Notes" }
            ul.notes {
                @for note in &self.notes {
                    li { a href=(self.routes.href(&format!("/notes/{}", note.id))) { (note.title) } }
                }
            }
        }
    }
}

/// `/notes/{id}`: the note, loaded while the route resolves (an unknown id is not found).
#[derive(Debug, Clone, PartialEq)]
pub struct NoteProps(Note);

impl RouteProps for NoteProps {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        let id: u64 = route.param("id")?;
        let store = route.service::<NoteStore>().ok_or(Reject::NotFound)?;
        store.get(id).map(NoteProps).ok_or(Reject::NotFound)
    }
}

/// One note.
pub struct NoteView;

impl Component for NoteView {
    type Props = NoteProps;
    fn create(_: &NoteProps) -> Self {
        NoteView
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let NoteProps(note) = cx.props();
        let attachments = cx.child::<crate::attach::Attachments>(note.id);
        html! {
            h1 { (note.title) }
            p.note-body { (note.body) }
            p.muted { "by " (note.author) }
            (attachments)
        }
    }
}

/// The new-note model.
#[derive(Debug, Clone, Default, Validate)]
pub struct NewNoteModel {
    /// Required, at most 80 characters.
    #[garde(custom(title_rules))]
    pub title: String,
    /// Free text.
    #[garde(skip)]
    pub body: String,
}

/// The longest title.
pub const MAX_TITLE: usize = 80;

fn title_rules(title: &str, _: &()) -> garde::Result {
    if title.trim().is_empty() {
        Err(garde::Error::new("Give the note a title."))
    } else if title.chars().count() > MAX_TITLE {
        Err(garde::Error::new(format!(
            "Keep the title to {MAX_TITLE} characters or fewer."
        )))
    } else {
        Ok(())
    }
}

/// `/notes/new`'s props: the signed-in user's name (anonymous users are sent to the login page).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn(String);

impl RouteProps for SignedIn {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        Ok(SignedIn(route.require_user()?.name.clone()))
    }
}

/// `/notes/new`: the form.
pub struct NewNote {
    form: Form<NewNoteModel>,
    store: Option<NoteStore>,
    location: Option<Location>,
    routes: Routes,
}

impl Component for NewNote {
    type Props = SignedIn;
    fn create(_: &SignedIn) -> Self {
        NewNote {
            form: Form::new(NewNoteModel::default()),
            store: None,
            location: None,
            routes: Routes::new(),
        }
    }
    fn init(&mut self, cx: &mut Context<'_, Self>) {
        self.store = cx.service();
        self.location = cx.service();
        self.routes = routes_of(cx.service());
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let f = self.form.view(|page: &mut Self| &mut page.form);
        let store = self.store.clone();
        let author = cx.props().0.clone();
        // The server-side step: the title must be new, then the note is stored.
        let submit = f.on_submit_async(
            cx,
            move |model: NewNoteModel| {
                let (store, author) = (store.clone(), author.clone());
                async move {
                    let store =
                        store.ok_or_else(|| vec![(String::new(), "No store.".to_owned())])?;
                    if store.title_taken(&model.title) {
                        let errors: FieldErrors = vec![(
                            "title".to_owned(),
                            "A note with this title exists already.".to_owned(),
                        )];
                        return Err(errors);
                    }
                    Ok(store.add(&model.title, &model.body, &author))
                }
            },
            |page: &mut Self, id| {
                page.form.reset(NewNoteModel::default());
                if let Some(location) = &page.location {
                    location.navigate(&page.routes.href(&format!("/notes/{id}")), false);
                }
            },
        );
        html! {
            h1 { "New note" }
            form #new-note.stack t-submit=(submit) novalidate {
                (f.summary())
                label for="title" { "Title" }
                (f.text(cx, field!(title)))
                label for="body" { "Text" }
                (f.textarea(cx, field!(body)))
                (f.submit_button("Save note"))
            }
        }
    }
}

/// `/login`'s props: where to go after signing in, and the last attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginProps {
    back: String,
    user: String,
    failed: bool,
    action: String,
}

impl RouteProps for LoginProps {
    fn from_route(route: &RouteMatch<'_>) -> Result<Self, Reject> {
        let routes = route.service::<Routes>().unwrap_or_default();
        Ok(LoginProps {
            back: route.query_str("return").unwrap_or("").to_owned(),
            user: route.query_str("user").unwrap_or("").to_owned(),
            failed: route.query_str("failed").is_some(),
            action: routes.href("/login"),
        })
    }
}

/// `/login`: a plain form posted to the server (a cookie can only be set by an HTTP response).
pub struct Login;

impl Component for Login {
    type Props = LoginProps;
    fn create(_: &LoginProps) -> Self {
        Login
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let props = cx.props();
        let signed_in = cx.service::<CurrentUser>().and_then(|u| u.get());
        let invalid = props.failed.then_some("true");
        html! {
            h1 { "Sign in" }
            @if let Some(user) = signed_in { p.muted { "You are signed in as " (user.name) "." } }
            p.demo { "Demo account: user " code { "demo" } ", password " code { "demo" } " (also " code { "ann" } " / " code { "ann" } ")." }
            form #login.stack method="post" action=(props.action) {
                input type="hidden" name="return" value=(props.back);
                label for="login-user" { "User" }
                input #login-user type="text" name="user" value=(props.user) autocomplete="username" aria-invalid=[invalid];
                label for="login-password" { "Password" }
                input #login-password type="password" name="password" autocomplete="current-password" aria-invalid=[invalid];
                @if props.failed { div.validation-message { "Wrong user name or password." } }
                button type="submit" { "Sign in" }
            }
        }
    }
}

/// The not-found page.
pub struct NotFoundPage;

impl Component for NotFoundPage {
    type Props = ();
    fn create(_: &()) -> Self {
        NotFoundPage
    }
    fn render(&self, _: &mut RenderContext<'_, Self>) -> Markup {
        html! { h1 { "Not found" } p { "There is no note or page at this address." } }
    }
}
