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
//! Loads are not cancelled: starting again while a load runs lets both finish, and the value shows
//! whichever finished last. Disable the trigger while [`Load::is_loading`] (as the notes app's `/stats`
//! page does) when that matters.

use std::future::Future;

use crate::component::{Component, Handle};

/// A value being loaded, loaded, or failed to load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Load<T> {
    /// The load has not finished.
    #[default]
    Loading,
    /// The loaded value.
    Ready(T),
    /// Why the load failed.
    Failed(String),
}

impl<T: Send + 'static> Load<T> {
    /// Shows [`Load::Loading`] and starts `work`; its result replaces the value that `slot` picks out of
    /// the component's state (this one), unless another start came after it.
    pub fn start<C, W, E>(&mut self, handle: &Handle<C>, work: W, slot: fn(&mut C) -> &mut Load<T>)
    where
        C: Component,
        W: Future<Output = Result<T, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        *self = Load::Loading;
        handle.spawn(
            async move { work.await.map_err(|e| e.to_string()) },
            move |state, result| {
                *slot(state) = match result {
                    Ok(value) => Load::Ready(value),
                    Err(reason) => Load::Failed(reason),
                };
            },
        );
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
        matches!(self, Load::Loading)
    }
}

#[cfg(test)]
mod tests {
    use maud::{html, Markup};

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
                value: Load::Loading,
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
                    Load::Loading => p { "loading" },
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
}
