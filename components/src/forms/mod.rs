//! Forms bound to a model struct: two-way bound inputs, validation with [`garde`], async server-side
//! checks, per-field messages and a summary, and a submit button disabled while a submission is pending.
//!
//! A component keeps a [`Form<M>`] in its state; `M` derives `garde::Validate`. In `render` it makes a
//! [`FormView`] (`Form::view`) and writes inputs with it: each input shows the model's value, writes every
//! keystroke back into the model (`t-input`), and, once the form was submitted, re-validates so messages
//! follow the typing. Submitting validates the whole model; the handler runs only with a valid one.
//!
//! # Invariants
//! - The handler given to [`FormView::on_submit`] / [`FormView::on_submit_async`] only ever sees a model
//!   that passed validation (and, for the async form, whose check did not report errors).
//! - While an async submission is pending, further submits are ignored and the submit button is disabled.
//! - Messages are shown per field in `.validation-message` elements (id `FIELD-error`), the field carries
//!   `aria-invalid="true"` and `aria-describedby`, and [`FormView::summary`] lists them all.
//! - Typing stays lossless: the input's value comes from the model, which the last input event set, and
//!   the boot script's stale-value guard keeps the DOM value while newer input is unconfirmed.
//! - Inputs keep their DOM nodes (focus, caret, typed text) while messages and the summary come and go:
//!   every element the form writes carries a `t-key` (the field name, `FIELD-error`,
//!   `validation-summary`, `submit`), so the diff matches them by key rather than by position. Keys must
//!   be unique among siblings: one form per parent element, each field written once.
//!
//! ```
//! use garde::Validate;
//! use maud::{html, Markup};
//! use tether_components::forms::{field, Form};
//! use tether_components::{testing::Harness, Component, RenderContext};
//!
//! #[derive(Clone, Default, Validate)]
//! struct Signup {
//!     #[garde(length(min = 1, max = 20))]
//!     name: String,
//!     #[garde(range(min = 18))]
//!     age: i64,
//! }
//!
//! struct Page { form: Form<Signup>, saved: Option<String> }
//!
//! impl Component for Page {
//!     type Props = ();
//!     fn create(_: &()) -> Self { Page { form: Form::new(Signup::default()), saved: None } }
//!     fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
//!         let f = self.form.view(|page: &mut Self| &mut page.form);
//!         html! {
//!             form t-submit=(f.on_submit(cx, |page: &mut Self, model: Signup| page.saved = Some(model.name))) {
//!                 (f.summary())
//!                 (f.text(cx, field!(name)))
//!                 (f.number(cx, field!(age)))
//!                 (f.submit_button("Save"))
//!             }
//!             @if let Some(name) = &self.saved { p #saved { (name) } }
//!         }
//!     }
//! }
//!
//! let mut h = Harness::mount::<Page>(());
//! h.submit("form", serde_json::json!({}));
//! assert!(h.html().contains(r#"aria-invalid="true""#));
//! h.input("input[name=name]", "Ann");
//! h.input("input[name=age]", "30");
//! h.submit("form", serde_json::json!({}));
//! assert!(h.html().contains(r#"<p id="saved">Ann</p>"#));
//! ```

mod inputs;

use std::future::Future;

use maud::{html, Markup};

use crate::{Binding, Component, RenderContext, SubmitEvent};

pub use inputs::{Field, InputValue};

/// Builds a [`Field`] for model field `name`: `field!(title)`.
#[macro_export]
macro_rules! field {
    ($name:ident) => {
        $crate::forms::Field::new(
            stringify!($name),
            |model| &model.$name,
            |model| &mut model.$name,
        )
    };
}
pub use field;

/// Messages by field name, as a check or [`garde`] reports them (`""` for the model as a whole).
pub type FieldErrors = Vec<(String, String)>;

/// A model and its validation state. Keep it in the component's state.
#[derive(Debug, Clone)]
pub struct Form<M> {
    model: M,
    errors: FieldErrors,
    submitted: bool,
    pending: bool,
}

impl<M: garde::Validate<Context = ()> + Clone + Send + 'static> Form<M> {
    /// A form editing `model`; nothing is validated until the first submit.
    pub fn new(model: M) -> Self {
        Form {
            model,
            errors: Vec::new(),
            submitted: false,
            pending: false,
        }
    }

    /// The model as edited so far.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, to change it from code (messages are brought up to date at the next validation).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Every current message.
    pub fn errors(&self) -> &FieldErrors {
        &self.errors
    }

    /// The messages of field `name`.
    pub fn errors_for<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.errors
            .iter()
            .filter(move |(field, _)| field == name)
            .map(|(_, message)| message.as_str())
    }

    /// Whether a submission waits for its async check.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// Adds a message (from a server-side check) to field `name`.
    pub fn add_error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push((name.to_owned(), message.into()));
    }

    /// Validates the model with [`garde`], replacing the messages; returns whether it is valid.
    pub fn validate(&mut self) -> bool {
        self.errors = match self.model.validate() {
            Ok(()) => Vec::new(),
            Err(report) => report
                .iter()
                .map(|(path, error)| (path.to_string(), error.message().to_owned()))
                .collect(),
        };
        self.errors.is_empty()
    }

    /// Starts over with `model`: no messages, not submitted.
    pub fn reset(&mut self, model: M) {
        *self = Form::new(model);
    }

    /// The renderer-side helper for component `C`, which holds this form at `access`.
    pub fn view<C: Component>(&self, access: fn(&mut C) -> &mut Form<M>) -> FormView<'_, C, M> {
        FormView { form: self, access }
    }

    /// Runs a submit: validates, and hands out a valid model (marking the form pending when `pend`).
    /// The model already holds every field: each input event wrote its value, and the boot script
    /// sends pending input before the submit.
    fn submit(&mut self, pend: bool) -> Option<M> {
        if self.pending {
            return None;
        }
        self.submitted = true;
        if !self.validate() {
            return None;
        }
        self.pending = pend;
        Some(self.model.clone())
    }

    fn input<T: InputValue>(&mut self, field: Field<M, T>, text: &str, checked: Option<bool>) {
        if let Some(value) = T::from_input(text, checked) {
            *(field.get_mut)(&mut self.model) = value;
        } else {
            T::clear((field.get_mut)(&mut self.model));
        }
        if self.submitted {
            self.validate();
        }
    }
}

/// Writes a [`Form`]'s inputs, messages, summary and submit button, and binds its submit handler.
pub struct FormView<'f, C, M> {
    form: &'f Form<M>,
    access: fn(&mut C) -> &mut Form<M>,
}

impl<C: Component, M: garde::Validate<Context = ()> + Clone + Send + 'static> FormView<'_, C, M> {
    /// The `t-submit` binding: validates, then runs `handler` with the valid model.
    pub fn on_submit(
        &self,
        cx: &mut RenderContext<'_, C>,
        handler: impl Fn(&mut C, M) + Send + 'static,
    ) -> Binding {
        let access = self.access;
        cx.on_submit(move |component: &mut C, _: SubmitEvent| {
            if let Some(model) = access(component).submit(false) {
                handler(component, model);
            }
        })
        .prevent_default()
    }

    /// The `t-submit` binding with an async server-side step: validates, marks the form pending (the
    /// submit button is disabled), runs `check(model)` on the executor, then either shows the messages it
    /// returned or runs `done` with its result.
    pub fn on_submit_async<R, Fut>(
        &self,
        cx: &mut RenderContext<'_, C>,
        check: impl Fn(M) -> Fut + Send + Sync + 'static,
        done: impl Fn(&mut C, R) + Send + Sync + 'static,
    ) -> Binding
    where
        R: Send + 'static,
        Fut: Future<Output = Result<R, FieldErrors>> + Send + 'static,
    {
        let access = self.access;
        let handle = cx.handle();
        let (check, done) = (std::sync::Arc::new(check), std::sync::Arc::new(done));
        cx.on_submit(move |component: &mut C, _: SubmitEvent| {
            let Some(model) = access(component).submit(true) else {
                return;
            };
            let done = done.clone();
            handle.spawn(check(model), move |component: &mut C, outcome| {
                let form = access(component);
                form.pending = false;
                match outcome {
                    Ok(result) => done(component, result),
                    Err(errors) => form.errors = errors,
                }
            });
        })
        .prevent_default()
    }

    fn bind<T: InputValue>(&self, cx: &mut RenderContext<'_, C>, field: Field<M, T>) -> Binding {
        let access = self.access;
        cx.on_input(move |component: &mut C, event| {
            access(component).input(field, &event.value, event.checked);
        })
    }

    fn invalid(&self, name: &str) -> bool {
        self.form.errors_for(name).next().is_some()
    }

    /// The messages of field `name`, each in a `.validation-message`.
    pub fn messages(&self, name: &str) -> Markup {
        html! {
            @if self.invalid(name) {
                div.validation-message id={ (name) "-error" } t-key={ (name) "-error" } {
                    @for (i, message) in self.form.errors_for(name).enumerate() {
                        @if i > 0 { br; } (message)
                    }
                }
            }
        }
    }

    /// Every message in a list (`ul.validation-summary`), or nothing when the form has none.
    pub fn summary(&self) -> Markup {
        html! {
            @if !self.form.errors.is_empty() {
                ul.validation-summary role="alert" t-key="validation-summary" {
                    @for (field, message) in &self.form.errors {
                        li { @if !field.is_empty() { (field) ": " } (message) }
                    }
                }
            }
        }
    }

    fn input(
        &self,
        cx: &mut RenderContext<'_, C>,
        field: Field<M, impl InputValue>,
        kind: &str,
    ) -> Markup {
        let name = field.name;
        let invalid = self.invalid(name);
        let value = (field.get)(&self.form.model).to_input();
        html! {
            input type=(kind) id=(name) name=(name) value=(value) t-key=(name)
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[invalid.then(|| format!("{name}-error"))]
                t-input=(self.bind(cx, field));
            (self.messages(name))
        }
    }

    /// A text input bound to a `String` field, with its messages.
    pub fn text(&self, cx: &mut RenderContext<'_, C>, field: Field<M, String>) -> Markup {
        self.input(cx, field, "text")
    }

    /// A password input bound to a `String` field.
    pub fn password(&self, cx: &mut RenderContext<'_, C>, field: Field<M, String>) -> Markup {
        self.input(cx, field, "password")
    }

    /// A number input bound to a number field (`i64`, `u32`, `f64`, `Option<i64>`, …).
    pub fn number<T: InputValue>(
        &self,
        cx: &mut RenderContext<'_, C>,
        field: Field<M, T>,
    ) -> Markup {
        self.input(cx, field, "number")
    }

    /// A date input bound to a `String` field holding `YYYY-MM-DD` (empty when unset).
    pub fn date(&self, cx: &mut RenderContext<'_, C>, field: Field<M, String>) -> Markup {
        self.input(cx, field, "date")
    }

    /// A textarea bound to a `String` field.
    pub fn textarea(&self, cx: &mut RenderContext<'_, C>, field: Field<M, String>) -> Markup {
        let name = field.name;
        let invalid = self.invalid(name);
        let value = (field.get)(&self.form.model).clone();
        html! {
            textarea id=(name) name=(name) t-key=(name)
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[invalid.then(|| format!("{name}-error"))]
                t-input=(self.bind(cx, field)) { (value) }
            (self.messages(name))
        }
    }

    /// A checkbox bound to a `bool` field.
    pub fn checkbox(&self, cx: &mut RenderContext<'_, C>, field: Field<M, bool>) -> Markup {
        let name = field.name;
        let checked = *(field.get)(&self.form.model);
        let access = self.access;
        let binding = cx.on_change(move |component: &mut C, event| {
            access(component).input(field, &event.value, event.checked);
        });
        html! {
            input type="checkbox" id=(name) name=(name) value="true" checked[checked] t-key=(name) t-change=(binding);
            (self.messages(name))
        }
    }

    /// A select bound to a `String` field, with `(value, label)` options.
    pub fn select(
        &self,
        cx: &mut RenderContext<'_, C>,
        field: Field<M, String>,
        options: &[(&str, &str)],
    ) -> Markup {
        let name = field.name;
        let invalid = self.invalid(name);
        let current = (field.get)(&self.form.model).clone();
        let access = self.access;
        let binding = cx.on_change(move |component: &mut C, event| {
            access(component).input(field, &event.value, None);
        });
        html! {
            select id=(name) name=(name) t-key=(name) aria-invalid=[invalid.then_some("true")] t-change=(binding) {
                @for (value, label) in options {
                    option value=(value) selected[*value == current] { (label) }
                }
            }
            (self.messages(name))
        }
    }

    /// The submit button, disabled while a submission is pending.
    pub fn submit_button(&self, label: &str) -> Markup {
        html! {
            button type="submit" t-key="submit" disabled[self.form.pending] aria-busy=[self.form.pending.then_some("true")] { (label) }
        }
    }
}

#[cfg(test)]
mod tests;
