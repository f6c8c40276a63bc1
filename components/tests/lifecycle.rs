//! Lifecycle hooks, async work and cross-thread handles.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::*;
use tether_components::testing::Harness;
use tether_components::{ComponentRegistry, Handle, Renderer};

#[test]
fn hooks_run_in_order_and_async_init_renders_again() {
    let mut h = Harness::mount::<Lifecycle>("feed".into());
    assert_eq!(
        take_log(),
        ["create", "init", "render", "after_render true"]
    );
    assert_eq!(h.html(), "<p>feed: loading</p>");
    assert_eq!(h.run_pending(), 1);
    assert_eq!(take_log(), ["loaded", "render", "after_render false"]);
    assert_eq!(h.html(), "<p>feed: data for feed</p>");
}

struct Host {
    name: String,
    shown: bool,
}

impl tether_components::Component for Host {
    type Props = ();

    fn create(_: &()) -> Self {
        Host {
            name: "a".into(),
            shown: true,
        }
    }

    fn render(&self, cx: &mut tether_components::RenderContext<'_, Self>) -> maud::Markup {
        maud::html! { @if self.shown { (cx.child::<Lifecycle>(self.name.clone())) } }
    }
}

#[test]
fn props_changed_and_dispose() {
    let mut h = Harness::mount::<Host>(());
    take_log();
    h.handle::<Host>().update(|s| s.name = "b".into());
    h.flush();
    assert_eq!(take_log(), ["props b", "render", "after_render false"]);
    h.handle::<Host>().update(|s| s.shown = false);
    h.flush();
    assert_eq!(take_log(), ["dispose"]);
    assert_eq!(h.html(), "");
    // The load finishes after the component is gone: its update is dropped.
    h.run_pending();
    assert_eq!(take_log(), Vec::<String>::new());
}

#[test]
fn handles_from_other_threads_queue_updates_for_the_owner() {
    let wakeups = Arc::new(AtomicUsize::new(0));
    let w = wakeups.clone();
    let mut r = Renderer::with_notify(Arc::new(ComponentRegistry::new()), move || {
        w.fetch_add(1, Ordering::SeqCst);
    });
    r.mount_root_component::<Counter>(0).unwrap();
    r.render().unwrap().unwrap();
    let handle: Handle<Counter> = r.root_handle(0).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || handle.update(|c| c.count += 10))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(wakeups.load(Ordering::SeqCst), 4);
    // Nothing ran yet: the owner applies the queue.
    assert!(r.has_messages());
    assert_eq!(r.process_messages().unwrap(), 4);
    let batch = r.render().unwrap().unwrap();
    assert_eq!(batch.id, 2);
    assert_eq!(batch.to_json(), r#"[[8,3,"Count: 40"]]"#);
    assert_eq!(r.render().unwrap(), None);
}

#[test]
fn spawned_tasks_go_to_the_host() {
    let mut r = Renderer::new(Arc::new(ComponentRegistry::new()));
    r.mount_root_component::<Lifecycle>("x".into()).unwrap();
    assert_eq!(r.take_tasks().len(), 1);
    assert!(r.take_tasks().is_empty());
}

#[test]
fn renderer_and_handles_are_send() {
    fn send<T: Send>() {}
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    send::<Renderer>();
    send_sync_clone::<Handle<Counter>>();
    send::<tether_components::Task>();
    send_sync_clone::<Arc<ComponentRegistry>>();
}

/// A future that is pending once (waking itself), so a task yields to the executor between updates.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

struct Ticker {
    ticks: Vec<u32>,
    loaded: Option<String>,
}

impl tether_components::Component for Ticker {
    type Props = ();

    fn create(_: &()) -> Self {
        Ticker {
            ticks: Vec::new(),
            loaded: None,
        }
    }

    fn render(&self, cx: &mut tether_components::RenderContext<'_, Self>) -> maud::Markup {
        let handle = cx.handle();
        let load = handle.clone();
        maud::html! {
            button #stream t-click=(cx.on_click(move |_: &mut Self, _| {
                // A stream: a task that pushes several updates, yielding in between.
                let h = handle.clone();
                handle.spawn(async move {
                    for i in 1..=3 {
                        h.update(move |t: &mut Ticker| t.ticks.push(i));
                        YieldOnce(false).await;
                    }
                }, |_, ()| {});
            })) { "stream" }
            button #load t-click=(cx.on_click(move |_: &mut Self, _| {
                load.spawn(async { "data".to_owned() }, |t: &mut Ticker, d| t.loaded = Some(d));
            })) { "load" }
            p #ticks { (format!("{:?}", self.ticks)) }
            p #loaded { (self.loaded.as_deref().unwrap_or("-")) }
        }
    }
}

#[test]
fn handlers_start_async_work_that_comes_back_as_updates() {
    let mut h = Harness::mount::<Ticker>(());
    h.click("#load");
    h.click("#stream");
    assert_eq!(
        h.dom().text(h.find("#loaded")),
        "-",
        "nothing runs before the host polls"
    );
    assert_eq!(h.run_pending(), 2);
    assert_eq!(h.pending_tasks(), 0);
    assert_eq!(h.dom().text(h.find("#loaded")), "data");
    assert_eq!(h.dom().text(h.find("#ticks")), "[1, 2, 3]");
}

#[test]
fn dropping_the_renderer_disposes_components() {
    let h = Harness::mount::<Host>(());
    take_log();
    drop(h);
    assert_eq!(take_log(), ["dispose"]);
}
