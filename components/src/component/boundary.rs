//! [`ErrorBoundary`]: a plain component that catches its child's failures.
//!
//! Invariant: once the child failed, the boundary shows the fallback until its props change; new props
//! clear the error and retry the child.

use std::marker::PhantomData;

use maud::Markup;

use super::{Component, Context, RenderContext};

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
