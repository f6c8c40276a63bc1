//! Streamed rendering: a value a component shows as loading first and as data once its async load finishes.
//!
//! [`Load::start`] sets the value to [`Load::Loading`] and spawns the load on the host's executor through the
//! component's [`Handle`]; the result comes back as a queued update (so component state is still touched
//! only by the renderer's owner) and the component re-renders with it.
//!
//! Started from [`Component::init`], this streams a page: a prerender runs `init`, renders the loading state
//! into the first HTML and drops the renderer with the unfinished load; the circuit mounts the component
//! again, its `init` starts the load again, and the data arrives as a render batch. Started from an event
//! handler, the same value shows loading and then the new data.
//!
//! Overtaken loads: a `Loading` value holds its load's [`Pending`]. A result lands only while the value
//! still holds the `Pending` of the load that produced it; starting again (or setting the value by hand)
//! replaces the `Pending`, and the last clone of a `Pending` to go aborts its future. So the newest start
//! wins whatever order the loads would finish in, and an overtaken load stops at its next await instead of
//! running on for nothing.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::{AbortHandle, Abortable};

use crate::component::{Component, Handle};

/// A value being loaded, loaded, or failed to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load<T> {
    /// The load has not finished: [`Pending`] names the load the value waits for.
    Loading(Pending),
    /// The loaded value.
    Ready(T),
    /// Why the load failed.
    Failed(String),
}

impl<T> Default for Load<T> {
    /// Loading, with no load started yet.
    fn default() -> Self {
        Load::Loading(Pending::not_started())
    }
}

/// The load a [`Load::Loading`] value waits for. Dropping the last clone aborts the load's future.
#[derive(Clone)]
pub struct Pending {
    /// Unique per started load; 0 for a value no load was started for.
    id: u64,
    /// Held for its `Drop`: the last clone to go aborts the load.
    _abort: Option<Arc<AbortOnDrop>>,
}

impl Pending {
    /// No load started yet (what `Load::default()` holds, for the state a component is created with).
    pub fn not_started() -> Self {
        Pending {
            id: 0,
            _abort: None,
        }
    }

    fn started(abort: AbortHandle) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Pending {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            _abort: Some(Arc::new(AbortOnDrop(abort))),
        }
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pending").field(&self.id).finish()
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Pending {}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T: Send + 'static> Load<T> {
    /// Shows [`Load::Loading`] and starts `work`; its result replaces the value that `slot` picks out of
    /// the component's state (this one), unless the value was replaced meanwhile: a later start overtakes
    /// this one, whose future is then aborted and whose result is dropped (see the module docs).
    pub fn start<C, W, E>(&mut self, handle: &Handle<C>, work: W, slot: fn(&mut C) -> &mut Load<T>)
    where
        C: Component,
        W: Future<Output = Result<T, E>> + Send + 'static,
        E: fmt::Display,
    {
        let (abort, registration) = AbortHandle::new_pair();
        let pending = Pending::started(abort);
        let id = pending.id;
        // Replacing the value drops an earlier load's `Pending`, which aborts that load.
        *self = Load::Loading(pending);
        let work = Abortable::new(
            async move { work.await.map_err(|e| e.to_string()) },
            registration,
        );
        handle.spawn(work, move |state, result| {
            let Ok(result) = result else {
                return; // Aborted: overtaken.
            };
            let value = slot(state);
            if !matches!(value, Load::Loading(current) if current.id == id) {
                return; // Overtaken after it finished, before its result was applied.
            }
            *value = match result {
                Ok(value) => Load::Ready(value),
                Err(reason) => Load::Failed(reason),
            };
        });
    }

    /// The loaded value, if there is one.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(value) => Some(value),
            _ => None,
        }
    }

    /// Whether the load has not finished.
    pub fn is_loading(&self) -> bool {
        matches!(self, Load::Loading(_))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::{Context as TaskContext, Poll, Waker};

    use maud::{html, Markup};
    use parking_lot::Mutex;

    use super::Load;
    use crate::testing::Harness;
    use crate::{Component, Context, RenderContext};

    struct Page {
        value: Load<u32>,
    }

    impl Component for Page {
        type Props = ();
        fn create(_: &()) -> Self {
            Page {
                value: Load::default(),
            }
        }
        fn init(&mut self, cx: &mut Context<'_, Self>) {
            self.value.start(
                &cx.handle(),
                async { Ok::<_, String>(7) },
                |p: &mut Self| &mut p.value,
            );
        }
        fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
            let handle = cx.handle();
            let fail = cx.on_click(move |page: &mut Self, _| {
                let work = async { Err::<u32, _>("offline") };
                page.value.start(&handle, work, |p: &mut Self| &mut p.value);
            });
            html! {
                @match &self.value {
                    Load::Loading(_) => p { "loading" },
                    Load::Ready(v) => p { "value " (v) },
                    Load::Failed(e) => p { "failed: " (e) },
                }
                button #fail t-click=(fail) { "x" }
            }
        }
    }

    #[test]
    fn renders_loading_then_the_result() {
        let mut h = Harness::mount::<Page>(());
        assert!(h.html().starts_with("<p>loading</p>"));
        assert_eq!(h.pending_tasks(), 1);
        h.run_pending();
        assert!(h.html().starts_with("<p>value 7</p>"), "{}", h.html());
        h.click("#fail");
        assert!(h.html().starts_with("<p>loading</p>"));
        h.run_pending();
        assert!(
            h.html().starts_with("<p>failed: offline</p>"),
            "{}",
            h.html()
        );
    }

    /// A future that waits for a value set from the test, and records whether it was dropped unfinished.
    #[derive(Default)]
    struct Gate {
        value: Mutex<Option<u32>>,
        waker: Mutex<Option<Waker>>,
        dropped_waiting: AtomicBool,
    }

    impl Gate {
        fn open(&self, value: u32) {
            *self.value.lock() = Some(value);
            if let Some(waker) = self.waker.lock().take() {
                waker.wake();
            }
        }

        fn wait(gate: Arc<Gate>) -> impl Future<Output = Result<u32, String>> + Send {
            struct Wait(Arc<Gate>, bool);
            impl Future for Wait {
                type Output = Result<u32, String>;
                fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
                    let value = *self.0.value.lock();
                    match value {
                        Some(value) => {
                            self.1 = true;
                            Poll::Ready(Ok(value))
                        }
                        None => {
                            *self.0.waker.lock() = Some(cx.waker().clone());
                            Poll::Pending
                        }
                    }
                }
            }
            impl Drop for Wait {
                fn drop(&mut self) {
                    if !self.1 {
                        self.0.dropped_waiting.store(true, Ordering::SeqCst);
                    }
                }
            }
            Wait(gate, false)
        }
    }

    #[derive(Clone)]
    struct Gates([Arc<Gate>; 2]);

    impl PartialEq for Gates {
        fn eq(&self, other: &Self) -> bool {
            Arc::ptr_eq(&self.0[0], &other.0[0]) && Arc::ptr_eq(&self.0[1], &other.0[1])
        }
    }

    struct Search {
        results: Load<u32>,
        gates: [Arc<Gate>; 2],
    }

    impl Component for Search {
        type Props = Gates;
        fn create(gates: &Gates) -> Self {
            Search {
                results: Load::default(),
                gates: gates.0.clone(),
            }
        }
        fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
            let buttons = [0, 1].map(|n| {
                let handle = cx.handle();
                cx.on_click(move |page: &mut Self, _| {
                    let work = Gate::wait(page.gates[n].clone());
                    page.results
                        .start(&handle, work, |p: &mut Self| &mut p.results);
                })
            });
            html! {
                @match &self.results {
                    Load::Loading(_) => p { "loading" },
                    Load::Ready(v) => p { "results " (v) },
                    Load::Failed(e) => p { "failed: " (e) },
                }
                button #first t-click=(buttons[0]) { "1" }
                button #second t-click=(buttons[1]) { "2" }
            }
        }
    }

    #[test]
    fn a_newer_start_cancels_the_older_load_and_drops_its_result() {
        let gates = [Arc::new(Gate::default()), Arc::new(Gate::default())];
        let mut h = Harness::mount::<Search>(Gates(gates.clone()));
        h.click("#first");
        h.run_pending();
        assert!(h.html().starts_with("<p>loading</p>"));
        assert!(!gates[0].dropped_waiting.load(Ordering::SeqCst));

        // The second search overtakes the first: the first's future is aborted (dropped while waiting).
        h.click("#second");
        h.run_pending();
        assert!(gates[0].dropped_waiting.load(Ordering::SeqCst));
        assert_eq!(h.pending_tasks(), 1, "only the newer load runs");

        gates[1].open(2);
        h.run_pending();
        assert!(h.html().starts_with("<p>results 2</p>"), "{}", h.html());
        // The older answer coming in late changes nothing.
        gates[0].open(1);
        h.run_pending();
        assert!(h.html().starts_with("<p>results 2</p>"), "{}", h.html());
        assert_eq!(h.pending_tasks(), 0);
    }
}
