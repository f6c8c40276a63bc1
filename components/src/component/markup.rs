//! What a render writes into maud output besides plain markup: event [`Binding`]s, [`ChildSlot`]s,
//! [`RawHtml`] regions, and the [`ChildKey`]s of keyed children.
//!
//! Invariant: each renders to a form the tree parser recognises (`t-<event>` values, `<!--t:c:N-->` and
//! `<!--t:raw-->…<!--/t-->` comments). maud escapes text, so only these types write such forms; raw content
//! must not carry unbalanced markers of its own.

use std::sync::Arc;

use maud::Render;

use crate::tree::{FLAG_PREVENT_DEFAULT, FLAG_STOP_PROPAGATION};

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
    pub(super) index: u32,
    pub(super) flags: u8,
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
    pub(super) index: u32,
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
