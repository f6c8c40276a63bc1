//! Errors at the renderer's public boundary.

use std::fmt;

use crate::event::{EventArgsError, EventKind};

/// A component failed (panicked, or rendered markup that cannot be diffed) and no error boundary caught it:
/// the renderer (the circuit) is finished. Other renderers are unaffected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    message: String,
}

impl RenderError {
    pub(crate) fn new(message: String) -> Self {
        RenderError { message }
    }

    /// What failed, naming the component type.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "component failed: {}", self.message)
    }
}

impl std::error::Error for RenderError {}

/// Why an event was not run. Nothing ran and no state changed, except for [`EventError::Failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// No handler with this id is in the latest render (disposed, never issued, or from another circuit).
    UnknownHandler {
        /// The id the client sent.
        handler_id: u64,
    },
    /// The handler is bound to another event.
    WrongEvent {
        /// The id the client sent.
        handler_id: u64,
        /// The event the handler is bound to.
        bound: EventKind,
        /// The event name the client sent.
        received: String,
    },
    /// The event arguments do not have the documented shape.
    InvalidArgs {
        /// The id the client sent.
        handler_id: u64,
        /// What was wrong.
        error: EventArgsError,
    },
    /// The handler panicked and no error boundary caught it: the renderer is finished.
    Failed(RenderError),
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::UnknownHandler { handler_id } => {
                write!(
                    f,
                    "event handler {handler_id} is not in the latest render (stale or unknown)"
                )
            }
            EventError::WrongEvent {
                handler_id,
                bound,
                received,
            } => write!(
                f,
                "event handler {handler_id} handles `{bound}`, not `{received}`"
            ),
            EventError::InvalidArgs { handler_id, error } => {
                write!(f, "event for handler {handler_id}: {error}")
            }
            EventError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EventError {}

/// Why a root component could not be mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountError {
    /// No component is registered under this name.
    UnknownType(String),
    /// The JSON props do not decode into the component's props.
    InvalidProps {
        /// The registered name.
        type_name: String,
        /// The decoder's message.
        reason: String,
    },
    /// Creating or first rendering the component failed.
    Failed(RenderError),
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountError::UnknownType(name) => write!(f, "no component is registered as `{name}`"),
            MountError::InvalidProps { type_name, reason } => {
                write!(f, "invalid props for `{type_name}`: {reason}")
            }
            MountError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MountError {}
