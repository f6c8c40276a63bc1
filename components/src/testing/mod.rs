//! A headless harness: mount components, fire events at elements, run their async work, and apply every
//! render batch (in its JSON wire form) to an in-memory [`Dom`], so each test checks the diff end to end.
//!
//! The harness plays the browser: events are fired at DOM elements and reach the server through the
//! `t-<event>` attributes the batches wrote, bubbling to ancestors unless a binding stops propagation.
//! Async work spawned by components runs on a small single-threaded executor inside
//! [`Harness::run_pending`].

mod dom;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use serde_json::{json, Value};

pub use dom::{Dom, DomError, NodeRef};

use crate::component::{Component, Handle, Task};
use crate::error::EventError;
use crate::event::EventKind;
use crate::renderer::{ComponentRegistry, Renderer};
use crate::services::Services;

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

struct Spawned {
    task: Task,
    woken: Arc<Flag>,
}

/// A mounted root component with its in-memory DOM. Methods panic on misuse (it is a test tool); the
/// `try_` variants return errors instead.
pub struct Harness {
    renderer: Renderer,
    dom: Dom,
    batches: Vec<String>,
    tasks: Vec<Spawned>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("renderer", &self.renderer)
            .field("batches", &self.batches.len())
            .finish()
    }
}

impl Harness {
    /// Mounts `C` as root 0 in a fresh renderer and applies the first batch (op 11).
    pub fn mount<C: Component>(props: C::Props) -> Harness {
        Self::mount_with::<C>(props, &Services::new())
    }

    /// [`mount`](Self::mount) with `services` provided to the renderer first, as a host would (for
    /// example a stand-in for a circuit service, or the application's own).
    pub fn mount_with<C: Component>(props: C::Props, services: &Services) -> Harness {
        let mut renderer = Renderer::new(Arc::new(ComponentRegistry::new()));
        renderer.provide_all(services);
        if let Err(e) = renderer.mount_root_component::<C>(props) {
            panic!("mount failed: {e}");
        }
        Self::start(renderer)
    }

    /// Mounts a registered root from JSON props.
    pub fn mount_registered(
        registry: Arc<ComponentRegistry>,
        name: &str,
        props: &Value,
    ) -> Harness {
        let mut renderer = Renderer::new(registry);
        if let Err(e) = renderer.mount_root(name, props) {
            panic!("mount failed: {e}");
        }
        Self::start(renderer)
    }

    fn start(renderer: Renderer) -> Harness {
        let mut h = Harness {
            renderer,
            dom: Dom::with_regions(&["fixture"]),
            batches: Vec::new(),
            tasks: Vec::new(),
        };
        h.flush();
        h
    }

    /// The region content as the browser's `innerHTML` would show it.
    pub fn html(&self) -> String {
        self.dom.region_html(0)
    }

    /// The in-memory DOM.
    pub fn dom(&self) -> &Dom {
        &self.dom
    }

    /// The renderer.
    pub fn renderer(&mut self) -> &mut Renderer {
        &mut self.renderer
    }

    /// A handle to the root component.
    pub fn handle<C: Component>(&self) -> Handle<C> {
        self.renderer
            .root_handle::<C>(0)
            .expect("the root is not of this type")
    }

    /// Every batch applied so far, as sent on the wire.
    pub fn batches(&self) -> &[String] {
        &self.batches
    }

    /// The last batch applied.
    pub fn last_batch(&self) -> Option<&str> {
        self.batches.last().map(String::as_str)
    }

    /// The first element matching `selector` (see [`Dom::select_all`]); panics when there is none.
    pub fn find(&self, selector: &str) -> NodeRef {
        self.dom
            .select(selector)
            .unwrap_or_else(|| panic!("no element matches `{selector}` in {}", self.html()))
    }

    /// Processes queued updates, renders, and applies the batch; returns its JSON if there was one.
    /// Panics when the renderer failed or the batch does not apply.
    pub fn flush(&mut self) -> Option<String> {
        self.try_flush().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`flush`](Self::flush), returning failures.
    pub fn try_flush(&mut self) -> Result<Option<String>, Box<dyn std::error::Error>> {
        self.renderer.process_messages()?;
        self.collect_tasks();
        let Some(batch) = self.renderer.render()? else {
            return Ok(None);
        };
        self.collect_tasks();
        let json = batch.to_json();
        self.dom.apply_json(batch.id, &json)?;
        self.batches.push(json.clone());
        Ok(Some(json))
    }

    fn collect_tasks(&mut self) {
        for task in self.renderer.take_tasks() {
            self.tasks.push(Spawned {
                task,
                woken: Arc::new(Flag(AtomicBool::new(true))),
            });
        }
    }

    /// Runs spawned async work until every task is finished or waiting on something outside the harness,
    /// applying the updates (and batches) it produces. Returns how many tasks completed.
    pub fn run_pending(&mut self) -> usize {
        let mut completed = 0;
        loop {
            self.collect_tasks();
            let mut progressed = false;
            let mut i = 0;
            while i < self.tasks.len() {
                if !self.tasks[i].woken.0.swap(false, Ordering::SeqCst) {
                    i += 1;
                    continue;
                }
                progressed = true;
                let waker = Waker::from(self.tasks[i].woken.clone());
                let mut cx = TaskContext::from_waker(&waker);
                if let Poll::Ready(()) = self.tasks[i].task.as_mut().poll(&mut cx) {
                    self.tasks.swap_remove(i);
                    completed += 1;
                } else {
                    i += 1;
                }
            }
            let had_messages = self.renderer.has_messages();
            self.flush();
            if !progressed && !had_messages {
                return completed;
            }
        }
    }

    /// Number of spawned tasks not finished yet.
    pub fn pending_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Fires `event` at the first element matching `selector`, then flushes. Panics on failure.
    pub fn fire(&mut self, selector: &str, event: &str, args: Value) {
        if let Err(e) = self.try_fire(selector, event, args) {
            panic!("{event} at `{selector}` failed: {e}");
        }
    }

    /// Fires `event` at an element: dispatches to the element's binding and those of its ancestors
    /// (bubbling, unless a binding has the `s` flag), then flushes. Returns the renderer's answer to a
    /// rejected event; panics when nothing matches `selector` or nothing on the path binds `event`.
    pub fn try_fire(&mut self, selector: &str, event: &str, args: Value) -> Result<(), EventError> {
        let target = self.find(selector);
        let attr = format!("t-{event}");
        let mut handlers = Vec::new();
        let mut node = Some(target);
        while let Some(n) = node {
            if let Some(value) = self.dom.attribute(n, &attr) {
                let (id, flags) = value.split_once(':').unwrap_or((value, ""));
                let id: u64 = id.parse().expect("handler ids are numbers");
                handlers.push(id);
                if flags.contains('s') {
                    break;
                }
            }
            node = self.dom.parent(n);
        }
        if handlers.is_empty() {
            panic!("no `{attr}` binding on `{selector}` or its ancestors");
        }
        for id in handlers {
            self.renderer.dispatch_event(id, event, &args)?;
        }
        self.flush();
        Ok(())
    }

    /// Dispatches straight to a handler id (to test stale or forged ids).
    pub fn dispatch(
        &mut self,
        handler_id: u64,
        event: &str,
        args: Value,
    ) -> Result<(), EventError> {
        self.renderer.dispatch_event(handler_id, event, &args)?;
        self.flush();
        Ok(())
    }

    /// Clicks an element.
    pub fn click(&mut self, selector: &str) {
        self.fire(
            selector,
            EventKind::Click.name(),
            json!({"clientX": 0, "clientY": 0, "button": 0, "buttons": 0, "detail": 1}),
        );
    }

    /// Types `value` into a field: sets its live value and fires `input`.
    pub fn input(&mut self, selector: &str, value: &str) {
        let node = self.find(selector);
        self.dom.set_property(node, "value", json!(value));
        self.fire(selector, "input", json!({ "value": value }));
    }

    /// Commits `value` in a field: sets its live value and fires `change`.
    pub fn change(&mut self, selector: &str, value: &str) {
        let node = self.find(selector);
        self.dom.set_property(node, "value", json!(value));
        self.fire(selector, "change", json!({ "value": value }));
    }

    /// Sets a checkbox or radio and fires `change`.
    pub fn check(&mut self, selector: &str, checked: bool) {
        let node = self.find(selector);
        self.dom.set_property(node, "checked", json!(checked));
        let value = self.dom.value(node).unwrap_or_else(|| "on".into());
        self.fire(
            selector,
            "change",
            json!({ "value": value, "checked": checked }),
        );
    }

    /// Submits a form with the given fields.
    pub fn submit(&mut self, selector: &str, fields: Value) {
        self.fire(selector, "submit", json!({ "fields": fields }));
    }

    /// Presses a key on an element (`keydown`).
    pub fn keydown(&mut self, selector: &str, key: &str) {
        self.fire(selector, "keydown", json!({ "key": key, "code": key }));
    }
}
