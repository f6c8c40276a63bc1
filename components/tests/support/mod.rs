//! Components shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::cell::RefCell;

use maud::{html, Markup};
use tether_components::{ChangeEvent, Component, Context, RawHtml, RenderContext};

thread_local! {
    /// What rendered on this test's thread, in order (`Row:3`, `List`, …).
    pub static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

pub fn log(entry: impl Into<String>) {
    LOG.with(|l| l.borrow_mut().push(entry.into()));
}

pub fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// The canonical counter.
pub struct Counter {
    pub count: i64,
}

impl Component for Counter {
    type Props = i64;

    fn create(start: &i64) -> Self {
        Counter { count: *start }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            p #count { "Count: " (self.count) }
            button #increment t-click=(cx.on_click(|this: &mut Self, _| this.count += 1)) { "+1" }
        }
    }
}

/// A keyed list of plain elements; rows are `(key, label)`.
pub struct KeyedList {
    pub rows: Vec<(u32, String)>,
}

impl Component for KeyedList {
    type Props = Vec<(u32, String)>;

    fn create(rows: &Self::Props) -> Self {
        KeyedList { rows: rows.clone() }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            ul {
                @for (key, label) in &self.rows {
                    @let key = *key;
                    li t-key=(key) data-k=(key) {
                        (label)
                        button t-click=(cx.on_click(move |this: &mut Self, _| this.rows.retain(|r| r.0 != key))) { "x" }
                    }
                }
            }
        }
    }
}

pub fn rows(keys: &[u32]) -> Vec<(u32, String)> {
    keys.iter().map(|&k| (k, format!("row {k}"))).collect()
}

/// One row as a child component.
pub struct Row {
    pub clicks: u32,
}

impl Component for Row {
    type Props = (u32, String);

    fn create(_: &Self::Props) -> Self {
        Row { clicks: 0 }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let (key, label) = cx.props().clone();
        log(format!("Row:{key}"));
        html! {
            li data-k=(key) {
                (label) " (" (self.clicks) ")"
                button t-click=(cx.on_click(|this: &mut Self, _| this.clicks += 1)) { "+" }
            }
        }
    }

    fn dispose(&mut self) {
        log("dispose Row");
    }
}

/// A list whose rows are keyed child components.
pub struct ChildList {
    pub rows: Vec<(u32, String)>,
}

impl Component for ChildList {
    type Props = Vec<(u32, String)>;

    fn create(rows: &Self::Props) -> Self {
        ChildList { rows: rows.clone() }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        log("ChildList");
        html! {
            ul {
                @for row in &self.rows {
                    (cx.child_keyed::<Row>(row.0, row.clone()))
                }
            }
        }
    }
}

/// Attributes that come and go.
pub struct Badge {
    pub level: u8,
    pub hidden: bool,
}

impl Component for Badge {
    type Props = ();

    fn create(_: &()) -> Self {
        Badge {
            level: 1,
            hidden: false,
        }
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            span class=(format!("badge level-{}", self.level)) hidden[self.hidden] title=[(self.level > 1).then_some("high")] { "!" }
        }
    }
}

/// A controlled text field and checkbox.
pub struct Form {
    pub name: String,
    pub agreed: bool,
    pub submitted: Option<String>,
}

impl Component for Form {
    type Props = ();

    fn create(_: &()) -> Self {
        Form {
            name: String::new(),
            agreed: false,
            submitted: None,
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            form t-submit=(cx.on_submit(|this: &mut Self, ev| this.submitted = ev.field("name").map(str::to_owned)).prevent_default()) {
                input #name value=(self.name) t-input=(cx.on_input(|this: &mut Self, ev: ChangeEvent| this.name = ev.value));
                input #agree type="checkbox" checked[self.agreed] t-change=(cx.on_change(|this: &mut Self, ev: ChangeEvent| this.agreed = ev.checked.unwrap_or(false)));
                @if let Some(s) = &self.submitted { p #result { "Hello, " (s) } }
            }
        }
    }
}

/// Trusted HTML.
pub struct Article {
    pub body: String,
}

impl Component for Article {
    type Props = String;

    fn create(body: &String) -> Self {
        Article { body: body.clone() }
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> Markup {
        html! { article { h1 { "News" } (RawHtml(&self.body)) footer { "end" } } }
    }
}

/// Logs its lifecycle.
pub struct Lifecycle {
    pub loaded: Option<String>,
}

impl Component for Lifecycle {
    type Props = String;

    fn create(_: &String) -> Self {
        log("create");
        Lifecycle { loaded: None }
    }

    fn init(&mut self, cx: &mut Context<'_, Self>) {
        log("init");
        let name = cx.props().clone();
        cx.spawn(
            async move { format!("data for {name}") },
            |this: &mut Self, data| {
                log("loaded");
                this.loaded = Some(data);
            },
        );
    }

    fn props_changed(&mut self, cx: &mut Context<'_, Self>) {
        log(format!("props {}", cx.props()));
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        log("render");
        html! { p { (cx.props()) ": " (self.loaded.as_deref().unwrap_or("loading")) } }
    }

    fn after_render(&mut self, first_render: bool, _cx: &mut Context<'_, Self>) {
        log(format!("after_render {first_render}"));
    }

    fn dispose(&mut self) {
        log("dispose");
    }
}

/// A js-framework-benchmark style table in one component.
pub struct Table {
    pub rows: Vec<(u32, String)>,
    pub selected: u32,
}

impl Component for Table {
    type Props = Vec<(u32, String)>;

    fn create(rows: &Self::Props) -> Self {
        Table {
            rows: rows.clone(),
            selected: 0,
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            table.table {
                tbody {
                    @for (id, label) in &self.rows {
                        @let id = *id;
                        tr t-key=(id) data-k=(id) class=[(id == self.selected).then_some("danger")] {
                            td.col-md-1 { (id) }
                            td.col-md-4 { a t-click=(cx.on_click(move |this: &mut Self, _| this.selected = id)) { (label) } }
                            td.col-md-1 { button t-click=(cx.on_click(move |this: &mut Self, _| this.rows.retain(|r| r.0 != id))) { "x" } }
                        }
                    }
                }
            }
        }
    }
}

/// A link whose bindings change with its state: a flag added, a binding dropped and one made anew.
pub struct Toggle {
    pub on: bool,
}

impl Component for Toggle {
    type Props = ();

    fn create(_: &()) -> Self {
        Toggle { on: false }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let flip = cx.on_click(|this: &mut Self, _| this.on = !this.on);
        html! {
            @if self.on {
                a #link href="#" t-click=(flip.prevent_default()) { "on" }
            } @else {
                a #link href="#" t-click=(flip) t-dblclick=(cx.on_dblclick(|_: &mut Self, _| {})) { "off" }
            }
        }
    }
}
