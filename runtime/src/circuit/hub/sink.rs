//! A circuit's connection seen from the circuit: its outbound messages become hub invocations.

use crate::hub::{Caller, EncodedInvocation};

use crate::circuit::core::{CircuitSink, Outbound};
use crate::circuit::protocol::target;

/// A circuit's connection: outbound messages become hub invocations on the caller's queue.
pub(super) struct HubSink {
    pub(super) caller: Caller,
}

impl CircuitSink for HubSink {
    fn send(&self, message: Outbound<'_>) {
        let batch = match message {
            Outbound::Batch { id, .. } => Some(id),
            _ => None,
        };
        let result = match message {
            Outbound::Batch { frame, .. } => self
                .caller
                .send_encoded(&EncodedInvocation::from_bytes(frame.clone())),
            Outbound::Error { message } => self.caller.send(target::ERROR, (message,)),
            Outbound::InvokeJs {
                call_id,
                identifier,
                args,
            } => self
                .caller
                .send(target::INVOKE_JS, (call_id, identifier, args)),
            Outbound::EndInvokeServer {
                call_id,
                succeeded,
                value,
            } => self
                .caller
                .send(target::END_INVOKE_SERVER, (call_id, succeeded, value)),
            Outbound::Navigate { uri, replace } => {
                self.caller.send(target::NAVIGATE, (uri, replace))
            }
            Outbound::Persisted { resume_now } => {
                self.caller.send(target::PERSISTED, (resume_now,))
            }
        };
        if let Err(error) = result {
            // A closed connection is normal (the browser went away); batches stay buffered until acked.
            if !error.is_closed() {
                tracing::warn!(
                    connection_id = self.caller.connection_id(),
                    batch,
                    "could not queue a message: {error}"
                );
            }
        }
    }

    fn close(&self) {
        self.caller.close(None);
    }

    fn abort(&self) {
        self.caller.abort();
    }

    fn connection_id(&self) -> &str {
        self.caller.connection_id()
    }
}
