//! [`Handle`] and [`Context`]: the two ways code reaches a component, and the inbox they share with the
//! renderer.
//!
//! Invariant: neither touches component state directly. A handle (any task) pushes a closure or a render
//! request onto the inbox and wakes the renderer's owner; a context (the owner, inside a hook) only flags a
//! re-render or queues work the same way. Messages run in the order they were posted.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::Mutex;

use super::Component;
use crate::batch::ComponentId;
use crate::services::Services;

/// A future the host must run on its executor: spawned async work whose result comes back as a queued
/// update.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub(crate) type Apply = Box<dyn FnOnce(&mut dyn Any) + Send>;

pub(crate) struct Message {
    pub(crate) component: ComponentId,
    /// `None` only asks for a re-render.
    pub(crate) apply: Option<Apply>,
}

#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) messages: VecDeque<Message>,
    pub(crate) tasks: Vec<Task>,
}

/// State shared between the renderer and its handles.
pub(crate) struct Shared {
    pub(crate) inbox: Mutex<Inbox>,
    pub(crate) notify: Option<Box<dyn Fn() + Send + Sync>>,
    /// What the host provided ([`crate::Renderer::provide`]); read by contexts.
    pub(crate) services: parking_lot::RwLock<Services>,
}

impl Shared {
    fn post(&self, message: Message) {
        self.inbox.lock().messages.push_back(message);
        if let Some(notify) = &self.notify {
            notify();
        }
    }

    pub(crate) fn spawn(&self, task: Task) {
        self.inbox.lock().tasks.push(task);
        if let Some(notify) = &self.notify {
            notify();
        }
    }
}

/// A `Send + Clone` reference to a mounted component, for other tasks (timers, broadcasts, data loads).
///
/// Updates are queued for the renderer's owner and run there, never on the calling thread. Updates to a
/// component that has been disposed are dropped.
pub struct Handle<C> {
    component: ComponentId,
    shared: Arc<Shared>,
    _marker: PhantomData<fn() -> C>,
}

impl<C> Clone for Handle<C> {
    fn clone(&self) -> Self {
        Handle {
            component: self.component,
            shared: self.shared.clone(),
            _marker: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for Handle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("component", &self.component)
            .finish()
    }
}

impl<C: Component> Handle<C> {
    pub(crate) fn new(component: ComponentId, shared: Arc<Shared>) -> Self {
        Handle {
            component,
            shared,
            _marker: PhantomData,
        }
    }

    /// The component this handle points at.
    pub fn component(&self) -> ComponentId {
        self.component
    }

    /// Queues `f` to run on the component's state, followed by a re-render.
    pub fn update(&self, f: impl FnOnce(&mut C) + Send + 'static) {
        self.shared.post(Message {
            component: self.component,
            apply: Some(Box::new(move |state: &mut dyn Any| {
                if let Some(state) = state.downcast_mut::<C>() {
                    f(state);
                }
            })),
        });
    }

    /// Asks for a re-render without changing state.
    pub fn request_render(&self) {
        self.shared.post(Message {
            component: self.component,
            apply: None,
        });
    }

    /// Starts `work` on the host's executor; when it completes, `apply` runs on the state (as
    /// [`update`](Handle::update) does).
    pub fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
        apply: impl FnOnce(&mut C, T) + Send + 'static,
    ) {
        let handle = self.clone();
        self.shared.spawn(Box::pin(async move {
            let value = work.await;
            handle.update(move |state| apply(state, value));
        }));
    }
}

/// What lifecycle hooks get: props, a handle, async work, the host's [`Services`], and a way to ask for a
/// re-render.
pub struct Context<'a, C: Component> {
    pub(crate) component: ComponentId,
    pub(crate) props: &'a C::Props,
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) render_requested: bool,
}

impl<'a, C: Component> Context<'a, C> {
    pub(crate) fn new(
        component: ComponentId,
        props: &'a C::Props,
        shared: &'a Arc<Shared>,
    ) -> Self {
        Context {
            component,
            props,
            shared,
            render_requested: false,
        }
    }

    /// The current props (borrowed for the whole hook, not from the context).
    pub fn props(&self) -> &'a C::Props {
        self.props
    }

    /// A handle for other tasks.
    pub fn handle(&self) -> Handle<C> {
        Handle::new(self.component, self.shared.clone())
    }

    /// Marks the component dirty: it re-renders in the next render pass.
    pub fn request_render(&mut self) {
        self.render_requested = true;
    }

    /// Starts async work; see [`Handle::spawn`].
    pub fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
        apply: impl FnOnce(&mut C, T) + Send + 'static,
    ) {
        self.handle().spawn(work, apply);
    }

    /// A clone of the service of type `T` the host provided to this renderer, if any. Under the circuit
    /// runtime, `cx.service::<tether::circuit::CircuitHandle>()` is `None` exactly while a page is being
    /// prerendered (there is no circuit yet).
    pub fn service<T: Clone + 'static>(&self) -> Option<T> {
        self.shared.services.read().get::<T>()
    }

    /// Everything the host provided (a cheap clone of the set).
    pub fn services(&self) -> Services {
        self.shared.services.read().clone()
    }
}
