//! Typed event data, decoded from the `eventArgs` JSON of `DispatchEvent` (docs/protocol.md section 7).
//!
//! Every event name the client may bind is an [`EventKind`]; each kind decodes into one payload type. Missing
//! optional fields take their zero value (the browser omits nothing, but hand-written test input may), while a
//! field of the wrong JSON type is an [`EventArgsError`], so malformed client input is always answered.
//!
//! - `kind`: [`EventKind`], the event names and attributes.
//! - `payload`: the data types handlers take ([`MouseEvent`], [`ChangeEvent`], …).
//! - `fields`: the field readers every payload decodes with, so all share one rule for absent and
//!   mistyped fields.

mod fields;
mod kind;
mod payload;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

pub use kind::EventKind;
pub use payload::{
    ChangeEvent, FieldValue, FocusEvent, KeyboardEvent, Modifiers, MouseEvent, ScrollEvent,
    SubmitEvent,
};

/// `eventArgs` that do not have the shape docs/protocol.md section 7 gives for the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventArgsError {
    /// Which field (or `eventArgs` itself) was wrong.
    pub field: &'static str,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for EventArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event argument `{}` must be {}",
            self.field, self.expected
        )
    }
}

impl std::error::Error for EventArgsError {}

/// An event's arguments on their way to a handler: the client's JSON, and for `input` and `change` the
/// [`ChangeEvent`] the renderer already decoded to record the field's value. A handler that takes a
/// `ChangeEvent` gets that one rather than decoding the JSON again.
pub(crate) struct EventInput<'a> {
    pub(crate) args: &'a Value,
    pub(crate) change: Option<ChangeEvent>,
}

impl EventInput<'_> {
    /// The handler's event data: the decoded change when it is what the handler takes, else from the JSON.
    pub(crate) fn decode<E: EventData>(&mut self, kind: EventKind) -> Result<E, EventArgsError> {
        let decoded = (&mut self.change as &mut dyn std::any::Any)
            .downcast_mut::<Option<E>>()
            .and_then(Option::take);
        match decoded {
            Some(data) => Ok(data),
            None => E::decode(kind, self.args),
        }
    }
}

/// Event data a handler can receive: decoded from the JSON `eventArgs` of its event kind.
pub trait EventData: Sized + 'static {
    /// Decodes the payload. `kind` is the bound event (one payload type serves several kinds).
    fn decode(kind: EventKind, args: &Value) -> Result<Self, EventArgsError>;
}

/// The raw JSON arguments, for handlers that want them undecoded.
impl EventData for Value {
    fn decode(_kind: EventKind, args: &Value) -> Result<Self, EventArgsError> {
        Ok(args.clone())
    }
}
