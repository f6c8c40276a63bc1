//! [`Field`] (a model field's name and accessors) and [`InputValue`] (how a field's type reads and writes
//! an input's text).

/// One field of model `M` of type `T`: its input name and accessors. Made by [`field!`](crate::forms::field).
pub struct Field<M, T> {
    pub(crate) name: &'static str,
    pub(crate) get: fn(&M) -> &T,
    pub(crate) get_mut: fn(&mut M) -> &mut T,
}

impl<M, T> Clone for Field<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Field<M, T> {}

impl<M, T> Field<M, T> {
    /// Field `name` read through `get` and written through `get_mut`.
    pub fn new(name: &'static str, get: fn(&M) -> &T, get_mut: fn(&mut M) -> &mut T) -> Self {
        Field { name, get, get_mut }
    }

    /// The input name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A type an input edits.
pub trait InputValue: Sized + Send + 'static {
    /// The input's text for this value.
    fn to_input(&self) -> String;
    /// The value of an input's text (and `checked` for a checkbox); `None` when the text is not one
    /// (then [`clear`](Self::clear) runs, so validation sees an empty field rather than a stale one).
    fn from_input(text: &str, checked: Option<bool>) -> Option<Self>;
    /// Sets the value to its empty state.
    fn clear(value: &mut Self);
}

impl InputValue for String {
    fn to_input(&self) -> String {
        self.clone()
    }
    fn from_input(text: &str, _: Option<bool>) -> Option<Self> {
        Some(text.to_owned())
    }
    fn clear(value: &mut Self) {
        value.clear();
    }
}

impl InputValue for bool {
    fn to_input(&self) -> String {
        self.to_string()
    }
    fn from_input(text: &str, checked: Option<bool>) -> Option<Self> {
        checked.or_else(|| text.parse().ok())
    }
    fn clear(value: &mut Self) {
        *value = false;
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl InputValue for $t {
            fn to_input(&self) -> String {
                self.to_string()
            }
            fn from_input(text: &str, _: Option<bool>) -> Option<Self> {
                text.trim().parse().ok()
            }
            fn clear(value: &mut Self) {
                *value = <$t>::default();
            }
        }

        impl InputValue for Option<$t> {
            fn to_input(&self) -> String {
                self.map(|v| v.to_string()).unwrap_or_default()
            }
            fn from_input(text: &str, _: Option<bool>) -> Option<Self> {
                let text = text.trim();
                if text.is_empty() { Some(None) } else { text.parse().ok().map(Some) }
            }
            fn clear(value: &mut Self) {
                *value = None;
            }
        }
    )*};
}

numbers!(i32, i64, u32, u64, f64);
