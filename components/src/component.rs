//! The authoring model: [`Component`], the contexts it renders and runs with, event bindings, child
//! components, raw markup and the cross-task [`Handle`].
//!
//! A component's state is touched only by the renderer's owner: render, handlers, lifecycle hooks and queued
//! [`Handle::update`] closures all run on the task that drives the renderer, one at a time. Other tasks hold
//! a [`Handle`], which only queues closures and wakes the owner.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use maud::{Markup, Render};
use parking_lot::Mutex;
use serde_json::Value;

use crate::batch::ComponentId;
use crate::event::{
    ChangeEvent, EventArgsError, EventData, EventInput, EventKind, FocusEvent, KeyboardEvent,
    MouseEvent, ScrollEvent, SubmitEvent,
};
use crate::services::Services;
use crate::tree::{FLAG_PREVENT_DEFAULT, FLAG_STOP_PROPAGATION};
use crate::upload::UploadEvent;

/// A UI component: plain Rust state that renders maud markup.
///
/// Lifecycle, in order: [`create`](Component::create) and [`init`](Component::init) once;
/// [`render`](Component::render) whenever the component is dirty (after an event handler ran, a
/// [`Handle::update`] arrived, or its parent passed different props, which calls
/// [`props_changed`](Component::props_changed) first); [`after_render`](Component::after_render) after each
/// render pass it took part in; [`dispose`](Component::dispose) when it leaves the tree or the circuit ends.
pub trait Component: Send + Sized + 'static {
    /// Parameters passed by the parent (or, for a root, decoded from JSON). A child whose new props equal
    /// the old ones is not re-rendered.
    type Props: Clone + PartialEq + Send + 'static;

    /// Builds the state from the first props.
    fn create(props: &Self::Props) -> Self;

    /// Renders the markup. Event bindings, child components and the current props come from `cx`.
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup;

    /// Runs once after [`create`](Component::create), before the first render. Start async
    /// initialisation here with [`Context::spawn`]: the first render shows the state before it completes.
    fn init(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// The parent passed props different from the previous ones (`cx.props()` holds the new ones).
    fn props_changed(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// Runs after a render pass in which this component rendered; `first_render` is true once.
    fn after_render(&mut self, first_render: bool, cx: &mut Context<'_, Self>) {
        let _ = (first_render, cx);
    }

    /// Runs when the component leaves the tree or the renderer is dropped.
    fn dispose(&mut self) {}

    /// Opts this component's state in to persisted circuits (see [`crate::persist`]): answer
    /// `Persistence::serde()` for a state with serde's `Serialize` and `Deserialize`. Default: not
    /// persisted (the component is rebuilt from its props on resume).
    fn persistence() -> Option<crate::Persistence<Self>> {
        None
    }

    /// A descendant panicked or failed to render. Return true to handle it (this makes the component an
    /// error boundary: it is re-rendered and should show fallback content); false passes it upwards.
    fn catch_error(&mut self, message: &str) -> bool {
        let _ = message;
        false
    }
}

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
    /// The current props (borrowed for the whole hook, not from the context).
    pub fn props(&self) -> &'a C::Props {
        self.props
    }

    /// A handle for other tasks.
    pub fn handle(&self) -> Handle<C> {
        Handle {
            component: self.component,
            shared: self.shared.clone(),
            _marker: PhantomData,
        }
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

/// The handler closures of one render, grouped by closure type: the closures a `@for` loop makes share
/// one type, so a 1,000-row table's 2,000 bindings fill two vectors instead of allocating 2,000 boxes.
pub(crate) struct Handlers<C> {
    /// One vector of closures per closure type, in order of first use.
    groups: Vec<Box<dyn HandlerGroup<C>>>,
    /// By render-order index: the closure's group and its position there.
    order: Vec<(u32, u32)>,
}

impl<C: 'static> Handlers<C> {
    fn with_capacity(bindings: usize) -> Self {
        Handlers {
            groups: Vec::new(),
            order: Vec::with_capacity(bindings),
        }
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    fn push<E: EventData, F: Fn(&mut C, E) + Send + 'static>(&mut self, f: F) {
        let type_id = TypeId::of::<Group<F, E>>();
        let index = match self.groups.iter().position(|g| g.group_type() == type_id) {
            Some(index) => index,
            None => {
                self.groups.push(Box::new(Group::<F, E> {
                    closures: Vec::new(),
                    _event: PhantomData,
                }));
                self.groups.len() - 1
            }
        };
        let Some(group) = self.groups[index]
            .as_any_mut()
            .downcast_mut::<Group<F, E>>()
        else {
            unreachable!("groups are found by their type")
        };
        self.order.push((index as u32, group.closures.len() as u32));
        group.closures.push(f);
    }

    fn call(
        &self,
        index: u32,
        state: &mut C,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError> {
        match self.order.get(index as usize) {
            Some(&(group, at)) => self.groups[group as usize].call(at, state, kind, event),
            None => Ok(()),
        }
    }
}

trait HandlerGroup<C>: Send {
    fn group_type(&self) -> TypeId;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn call(
        &self,
        at: u32,
        state: &mut C,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError>;
}

struct Group<F, E> {
    closures: Vec<F>,
    _event: PhantomData<fn(E)>,
}

impl<C, E, F> HandlerGroup<C> for Group<F, E>
where
    E: EventData,
    F: Fn(&mut C, E) + Send + 'static,
{
    fn group_type(&self) -> TypeId {
        TypeId::of::<Self>()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn call(
        &self,
        at: u32,
        state: &mut C,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError> {
        let data = event.decode::<E>(kind)?;
        (self.closures[at as usize])(state, data);
        Ok(())
    }
}

/// Type-erased props of a child component, with what the renderer needs to create or update it.
pub(crate) struct ChildSpec {
    pub(crate) type_id: TypeId,
    /// Byte range of the key in [`Rendered::keys`].
    pub(crate) key: Option<(u32, u32)>,
    pub(crate) props: SpecProps,
    pub(crate) create: fn(Box<dyn Any + Send>) -> Box<dyn AnyComponent>,
}

/// A child spec's props.
pub(crate) enum SpecProps {
    /// Equal to the props of this child, which the last render placed at the same render-order index
    /// with the same type and key. They were compared in place and dropped, so nothing was boxed: a large
    /// list whose parent re-renders costs no allocation per unchanged child.
    Same(ComponentId),
    /// Props to create a child from, or to compare with and pass to the matched child.
    New(Box<dyn Any + Send>),
}

impl SpecProps {
    /// The boxed props; [`SpecProps::Same`] is turned into `New` before a tree is diffed or created.
    pub(crate) fn into_boxed(self) -> Box<dyn Any + Send> {
        match self {
            SpecProps::New(props) => props,
            SpecProps::Same(_) => unreachable!("Same props are cloned before diffing"),
        }
    }

    pub(crate) fn as_any(&self) -> &(dyn Any + Send) {
        match self {
            SpecProps::New(props) => &**props,
            SpecProps::Same(_) => unreachable!("Same props are cloned before diffing"),
        }
    }
}

/// One child component of the last render, as [`PreviousChildren::child`] finds it.
pub(crate) struct PreviousChild<'a> {
    pub(crate) key: Option<&'a str>,
    pub(crate) id: ComponentId,
    pub(crate) type_id: TypeId,
    pub(crate) component: &'a dyn AnyComponent,
}

/// The child components a component's last render placed, by render-order index, so a re-render can
/// compare each new child's props with the existing child's without boxing them.
pub(crate) trait PreviousChildren {
    /// How many children the last render placed.
    fn len(&self) -> usize;
    /// How many bytes their keys took (a capacity hint).
    fn key_bytes(&self) -> usize;
    /// The child the last render created as its `index`-th, if it is still mounted.
    fn child(&self, index: u32) -> Option<PreviousChild<'_>>;
}

/// What [`Component::render`] gets: props, and the factories for event bindings and child components.
pub struct RenderContext<'a, C: Component> {
    pub(crate) cx: Context<'a, C>,
    pub(crate) handlers: Handlers<C>,
    /// The event each handler was created for, by render-order index.
    pub(crate) kinds: Vec<EventKind>,
    pub(crate) children: Vec<ChildSpec>,
    /// The keys of `children`, back to back (one buffer rather than a string per key).
    pub(crate) keys: String,
    /// The children of the last render, when there were any.
    pub(crate) previous: Option<&'a dyn PreviousChildren>,
}

/// The key of a child component ([`RenderContext::child_keyed`]): integers, `char` and strings. Keys
/// are written into one buffer per render, so an integer key costs neither an allocation nor the
/// formatting machinery. For another type, pass its string form (`id.to_string()`).
pub trait ChildKey {
    /// Appends the key's text to `out`.
    fn write_key(&self, out: &mut String);
}

macro_rules! unsigned_keys {
    ($($t:ty),*) => {$(
        impl ChildKey for $t {
            fn write_key(&self, out: &mut String) {
                crate::number::push_u64(out, *self as u64);
            }
        }
    )*};
}

macro_rules! signed_keys {
    ($($t:ty),*) => {$(
        impl ChildKey for $t {
            fn write_key(&self, out: &mut String) {
                if *self < 0 {
                    out.push('-');
                }
                crate::number::push_u64(out, self.unsigned_abs() as u64);
            }
        }
    )*};
}

unsigned_keys!(u8, u16, u32, u64, usize);
signed_keys!(i8, i16, i32, i64, isize);

impl ChildKey for char {
    fn write_key(&self, out: &mut String) {
        out.push(*self);
    }
}

impl ChildKey for str {
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl ChildKey for String {
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl ChildKey for Box<str> {
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl ChildKey for Arc<str> {
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl ChildKey for std::borrow::Cow<'_, str> {
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl<T: ChildKey + ?Sized> ChildKey for &T {
    fn write_key(&self, out: &mut String) {
        (**self).write_key(out);
    }
}

/// An event binding, written as the value of a `t-<event>` attribute: `button t-click=(binding) {…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a binding does nothing until it is written as the value of a t-<event> attribute"]
pub struct Binding {
    index: u32,
    flags: u8,
}

impl Binding {
    /// Asks the browser to call `preventDefault()` for this event.
    pub fn prevent_default(mut self) -> Self {
        self.flags |= FLAG_PREVENT_DEFAULT;
        self
    }

    /// Asks the browser to call `stopPropagation()` for this event.
    pub fn stop_propagation(mut self) -> Self {
        self.flags |= FLAG_STOP_PROPAGATION;
        self
    }
}

impl Render for Binding {
    fn render_to(&self, buffer: &mut String) {
        // The render-order index; the renderer swaps it for a circuit-unique handler id.
        crate::tree::binding_value(self.index, self.flags, buffer);
    }
}

/// A child component's place in the parent's markup: write it as `(slot)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildSlot {
    index: u32,
}

impl Render for ChildSlot {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str("<!--t:c:");
        crate::number::push_u32(buffer, self.index);
        buffer.push_str("-->");
    }
}

/// Trusted HTML shown as is: an opaque raw region the diff replaces as a whole when it changes.
///
/// The content must be well-formed and must not contain unbalanced `<!--t:…-->` / `<!--/t-->` markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHtml<T: AsRef<str>>(pub T);

impl<T: AsRef<str>> Render for RawHtml<T> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str("<!--t:raw-->");
        buffer.push_str(self.0.as_ref());
        buffer.push_str("<!--/t-->");
    }
}

macro_rules! binders {
    ($($(#[$doc:meta])* $name:ident => $kind:ident : $data:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self, f: impl Fn(&mut C, $data) + Send + 'static) -> Binding {
                self.on(EventKind::$kind, f)
            }
        )*
    };
}

impl<'a, C: Component> RenderContext<'a, C> {
    /// The current props (borrowed for the whole render, not from the context, so bindings can be made
    /// while they are in use).
    pub fn props(&self) -> &'a C::Props {
        self.cx.props
    }

    /// A handle for other tasks.
    pub fn handle(&self) -> Handle<C> {
        self.cx.handle()
    }

    /// A clone of the service of type `T` the host provided, if any (see [`Context::service`]). Capture
    /// it in a handler closure to use it there.
    pub fn service<T: Clone + 'static>(&self) -> Option<T> {
        self.cx.service::<T>()
    }

    /// Everything the host provided (a cheap clone of the set).
    pub fn services(&self) -> Services {
        self.cx.services()
    }

    /// Binds a handler for `kind`, receiving any [`EventData`] type (use it with the matching kind).
    pub fn on<E: EventData>(
        &mut self,
        kind: EventKind,
        f: impl Fn(&mut C, E) + Send + 'static,
    ) -> Binding {
        let index = self.handlers.len() as u32;
        self.kinds.push(kind);
        self.handlers.push(f);
        Binding { index, flags: 0 }
    }

    binders! {
        /// `t-click`.
        on_click => Click: MouseEvent;
        /// `t-dblclick`.
        on_dblclick => DblClick: MouseEvent;
        /// `t-mousedown`.
        on_mousedown => MouseDown: MouseEvent;
        /// `t-mouseup`.
        on_mouseup => MouseUp: MouseEvent;
        /// `t-mouseenter`.
        on_mouseenter => MouseEnter: MouseEvent;
        /// `t-mouseleave`.
        on_mouseleave => MouseLeave: MouseEvent;
        /// `t-mousemove`.
        on_mousemove => MouseMove: MouseEvent;
        /// `t-contextmenu`.
        on_contextmenu => ContextMenu: MouseEvent;
        /// `t-input`: every edit of a field.
        on_input => Input: ChangeEvent;
        /// `t-change`: a committed change.
        on_change => Change: ChangeEvent;
        /// `t-submit`: the form's fields.
        on_submit => Submit: SubmitEvent;
        /// `t-keydown`.
        on_keydown => KeyDown: KeyboardEvent;
        /// `t-keyup`.
        on_keyup => KeyUp: KeyboardEvent;
        /// `t-keypress`.
        on_keypress => KeyPress: KeyboardEvent;
        /// `t-focus`.
        on_focus => Focus: FocusEvent;
        /// `t-blur`.
        on_blur => Blur: FocusEvent;
        /// `t-scroll`: the bound element scrolled (add `t-throttle="MS"` to limit the rate).
        on_scroll => Scroll: ScrollEvent;
        /// `t-upload` on a file input or a drop zone: the files chosen (names, sizes, types; see
        /// [`crate::upload`]). The page loads the browser's upload module when such an element appears.
        on_upload => Upload: UploadEvent;
    }

    /// Places a child component. Among unkeyed siblings children match by position.
    pub fn child<D: Component>(&mut self, props: D::Props) -> ChildSlot {
        self.push_child::<D>(None, props)
    }

    /// Places a keyed child component: it keeps its state while its key stays among its siblings.
    pub fn child_keyed<D: Component>(&mut self, key: impl ChildKey, props: D::Props) -> ChildSlot {
        let start = self.keys.len();
        key.write_key(&mut self.keys);
        self.push_child::<D>(Some((start as u32, self.keys.len() as u32)), props)
    }

    fn push_child<D: Component>(&mut self, key: Option<(u32, u32)>, props: D::Props) -> ChildSlot {
        let index = self.children.len() as u32;
        let type_id = TypeId::of::<D>();
        // The common re-render: the child at this index has the same type, key and props as last time.
        let same = self.previous.and_then(|previous| {
            let old = previous.child(index)?;
            let key = key.map(|(start, end)| &self.keys[start as usize..end as usize]);
            (old.type_id == type_id && old.key == key && old.component.props_equal(&props))
                .then_some(old.id)
        });
        let props = match same {
            Some(id) => SpecProps::Same(id),
            None => SpecProps::New(Box::new(props)),
        };
        self.children.push(ChildSpec {
            type_id,
            key,
            props,
            create: create_erased::<D>,
        });
        ChildSlot { index }
    }
}

fn create_erased<D: Component>(props: Box<dyn Any + Send>) -> Box<dyn AnyComponent> {
    let props = *props
        .downcast::<D::Props>()
        .unwrap_or_else(|_| unreachable!("ChildSpec pairs props with their component type"));
    Box::new(Mounted::<D> {
        state: D::create(&props),
        props,
        handlers: Handlers::with_capacity(0),
    })
}

pub(crate) fn create_root<C: Component>(props: C::Props) -> Box<dyn AnyComponent> {
    Box::new(Mounted::<C> {
        state: C::create(&props),
        props,
        handlers: Handlers::with_capacity(0),
    })
}

/// One render's output, before parsing.
pub(crate) struct Rendered {
    pub(crate) html: String,
    pub(crate) children: Vec<ChildSpec>,
    /// The children's keys; [`ChildSpec::key`] ranges index into it.
    pub(crate) keys: String,
    pub(crate) handler_kinds: Vec<EventKind>,
}

/// The renderer's view of a component, without its type.
pub(crate) trait AnyComponent: Send {
    fn type_id(&self) -> TypeId;
    fn type_name(&self) -> &'static str;
    /// Returns whether the hook asked for a re-render.
    fn init(&mut self, id: ComponentId, shared: &Arc<Shared>) -> bool;
    fn render(
        &mut self,
        id: ComponentId,
        shared: &Arc<Shared>,
        previous: Option<&dyn PreviousChildren>,
    ) -> Rendered;
    fn props_equal(&self, props: &(dyn Any + Send)) -> bool;
    /// A boxed copy of the current props.
    fn clone_props(&self) -> Box<dyn Any + Send>;
    /// Stores new props and calls `props_changed`.
    fn set_props(&mut self, props: Box<dyn Any + Send>, id: ComponentId, shared: &Arc<Shared>);
    fn call_handler(
        &mut self,
        index: u32,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError>;
    fn apply(&mut self, apply: Apply);
    fn after_render(&mut self, first: bool, id: ComponentId, shared: &Arc<Shared>) -> bool;
    fn dispose(&mut self);
    fn catch_error(&mut self, message: &str) -> bool;
    /// The state's persisted form; `None` when the component did not opt in.
    fn save_state(&self) -> Option<Result<Value, String>>;
    /// Applies a persisted form (fails for a component that did not opt in).
    fn restore_state(&mut self, value: Value) -> Result<(), String>;
}

struct Mounted<C: Component> {
    state: C,
    props: C::Props,
    /// Closures of the latest render, by render-order index.
    handlers: Handlers<C>,
}

impl<C: Component> AnyComponent for Mounted<C> {
    fn type_id(&self) -> TypeId {
        TypeId::of::<C>()
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<C>()
    }

    fn init(&mut self, id: ComponentId, shared: &Arc<Shared>) -> bool {
        let mut cx = Context {
            component: id,
            props: &self.props,
            shared,
            render_requested: false,
        };
        self.state.init(&mut cx);
        cx.render_requested
    }

    fn render(
        &mut self,
        id: ComponentId,
        shared: &Arc<Shared>,
        previous: Option<&dyn PreviousChildren>,
    ) -> Rendered {
        // A re-render usually binds as many handlers and places as many children as the last one.
        let bound = self.handlers.len();
        let mut rcx = RenderContext {
            cx: Context {
                component: id,
                props: &self.props,
                shared,
                render_requested: false,
            },
            handlers: Handlers::with_capacity(bound),
            kinds: Vec::with_capacity(bound),
            children: Vec::with_capacity(previous.map_or(0, |p| p.len())),
            keys: String::with_capacity(previous.map_or(0, |p| p.key_bytes())),
            previous,
        };
        let html = self.state.render(&mut rcx).into_string();
        self.handlers = rcx.handlers;
        Rendered {
            html,
            children: rcx.children,
            keys: rcx.keys,
            handler_kinds: rcx.kinds,
        }
    }

    fn props_equal(&self, props: &(dyn Any + Send)) -> bool {
        (props as &dyn Any)
            .downcast_ref::<C::Props>()
            .is_some_and(|p| *p == self.props)
    }

    fn clone_props(&self) -> Box<dyn Any + Send> {
        Box::new(self.props.clone())
    }

    fn set_props(&mut self, props: Box<dyn Any + Send>, id: ComponentId, shared: &Arc<Shared>) {
        if let Ok(props) = props.downcast::<C::Props>() {
            self.props = *props;
            let mut cx = Context {
                component: id,
                props: &self.props,
                shared,
                render_requested: false,
            };
            self.state.props_changed(&mut cx);
        }
    }

    fn call_handler(
        &mut self,
        index: u32,
        kind: EventKind,
        event: &mut EventInput<'_>,
    ) -> Result<(), EventArgsError> {
        self.handlers.call(index, &mut self.state, kind, event)
    }

    fn apply(&mut self, apply: Apply) {
        apply(&mut self.state);
    }

    fn after_render(&mut self, first: bool, id: ComponentId, shared: &Arc<Shared>) -> bool {
        let mut cx = Context {
            component: id,
            props: &self.props,
            shared,
            render_requested: false,
        };
        self.state.after_render(first, &mut cx);
        cx.render_requested
    }

    fn dispose(&mut self) {
        self.state.dispose();
    }

    fn catch_error(&mut self, message: &str) -> bool {
        self.state.catch_error(message)
    }

    fn save_state(&self) -> Option<Result<Value, String>> {
        C::persistence().map(|p| (p.save)(&self.state))
    }

    fn restore_state(&mut self, value: Value) -> Result<(), String> {
        match C::persistence() {
            Some(p) => (p.restore)(&mut self.state, value),
            None => Err("this component type does not persist its state".into()),
        }
    }
}

/// Props of an [`ErrorBoundary`]: the wrapped component's props and the fallback to show after it failed.
pub struct BoundaryProps<C: Component> {
    /// Props of the wrapped component.
    pub props: C::Props,
    /// Renders the fallback from the error message.
    pub fallback: fn(&str) -> Markup,
}

impl<C: Component> Clone for BoundaryProps<C> {
    fn clone(&self) -> Self {
        BoundaryProps {
            props: self.props.clone(),
            fallback: self.fallback,
        }
    }
}

impl<C: Component> PartialEq for BoundaryProps<C> {
    fn eq(&self, other: &Self) -> bool {
        self.props == other.props && std::ptr::fn_addr_eq(self.fallback, other.fallback)
    }
}

/// Shows component `C`, or `fallback` once `C` (or anything inside it) panicked or failed to render.
///
/// After a failure the boundary keeps showing the fallback until new props arrive, which retry `C`.
pub struct ErrorBoundary<C: Component> {
    error: Option<String>,
    _marker: PhantomData<fn() -> C>,
}

impl<C: Component> Component for ErrorBoundary<C> {
    type Props = BoundaryProps<C>;

    fn create(_props: &Self::Props) -> Self {
        ErrorBoundary {
            error: None,
            _marker: PhantomData,
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        match &self.error {
            Some(message) => (cx.props().fallback)(message),
            None => {
                let props = cx.props().props.clone();
                let slot = cx.child::<C>(props);
                maud::html! { (slot) }
            }
        }
    }

    fn props_changed(&mut self, _cx: &mut Context<'_, Self>) {
        self.error = None;
    }

    fn catch_error(&mut self, message: &str) -> bool {
        self.error = Some(message.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::ChildKey;

    #[test]
    fn keys_write_as_display_does() {
        let mut out = String::new();
        for key in [
            &-5i32 as &dyn ChildKey,
            &i64::MIN,
            &0u8,
            &usize::MAX,
            &'k',
            &"s",
            &String::from("t"),
        ] {
            key.write_key(&mut out);
            out.push('|');
        }
        assert_eq!(out, format!("-5|{}|0|{}|k|s|t|", i64::MIN, usize::MAX));
    }
}
