//! Client-to-server streams and their backpressure: a stream input that finds its stream's buffer full is
//! parked with the records read after it, and the transport is not read until the method makes room (see
//! the module docs of the connection task for the stateful-reconnect exception).

use std::collections::HashMap;
use std::future::Future;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::super::error::DisconnectReason;
use super::super::protocol::{self, CompletionOutcome, HubMessage, Payload};
use super::rare::Rare;
use super::{Connection, Record, Step, Transport};

/// Client-to-server streams of the connection.
#[derive(Default)]
pub(super) struct Uploads {
    /// Open streams by stream id, feeding their methods.
    pub(super) streams: HashMap<String, mpsc::Sender<StreamInput>>,
    /// A stream input waiting for room; the transport is not read meanwhile.
    pub(super) stalled: Option<Box<Stalled>>,
}

impl Uploads {
    /// Whether no stream is open and nothing is stalled.
    pub(super) fn is_unused(&self) -> bool {
        self.streams.is_empty() && self.stalled.is_none()
    }
}

/// What a client-to-server stream carries: an item, or the error the client completed it with.
pub(super) type StreamInput = Result<Payload, String>;

/// A waiting-for-room future of a full upload stream buffer.
pub(super) type RoomFuture =
    BoxFuture<'static, Result<mpsc::OwnedPermit<StreamInput>, mpsc::error::SendError<()>>>;

/// A stream input that found its stream's buffer full, and the records read after it. While one exists the
/// transport is not read; it is delivered when the method consuming the stream makes room.
pub(super) struct Stalled {
    stream_id: String,
    room: RoomFuture,
    input: StreamInput,
    pub(super) rest: Vec<Record>,
    /// Bytes of records read while stalled (see the module docs on stateful reconnect).
    parked_bytes: usize,
}

/// Resolves when the stalled stream has room (or its consumer is gone); never while nothing is stalled.
/// A plain poll function rather than an async block keeps the idle task's select state small.
pub(super) fn stalled_room(
    rare: &mut Option<Box<Rare>>,
) -> impl Future<Output = Result<mpsc::OwnedPermit<StreamInput>, mpsc::error::SendError<()>>> + '_ {
    std::future::poll_fn(
        move |cx| match rare.as_mut().and_then(|r| r.uploads.stalled.as_mut()) {
            Some(s) => s.room.as_mut().poll(cx),
            None => std::task::Poll::Pending,
        },
    )
}

impl<T: Transport> Connection<T> {
    /// Parks a stream input whose buffer is full; see the module docs.
    pub(super) fn stall(
        &mut self,
        stream_id: String,
        tx: mpsc::Sender<StreamInput>,
        input: StreamInput,
    ) {
        tracing::trace!(connection_id = %self.conn.id, "stream '{stream_id}' buffer full; pausing reads");
        self.rare_mut().uploads.stalled = Some(Box::new(Stalled {
            stream_id,
            room: tx.reserve_owned().boxed(),
            input,
            rest: Vec::new(),
            parked_bytes: 0,
        }));
    }

    /// Records read while stalled under stateful reconnect: Acks are handled now (they carry no sequence id
    /// and free the replay buffer), the rest wait behind the stalled stream input.
    pub(super) async fn park_records(&mut self, records: Vec<Record>) -> Step {
        let hub = self.hub.clone();
        let options = &hub.options;
        let limit = 2 * options.stateful_reconnect_buffer_size + options.max_receive_message_size;
        for record in records {
            if record.len() <= options.max_receive_message_size {
                if let Ok(ack @ HubMessage::Ack { .. }) = record.parse() {
                    self.handle_message(ack).await;
                    continue;
                }
            }
            let stalled = self
                .rare
                .as_mut()
                .and_then(|r| r.uploads.stalled.as_mut())
                .expect("parking only while stalled");
            stalled.parked_bytes += record.len();
            stalled.rest.push(record);
            if stalled.parked_bytes > limit {
                let text = format!(
                    "Connection closed with an error: the client sent more than {limit} bytes while the server \
                     waited for both a hub method to read its full client-to-server stream \
                     (HubOptions::stream_buffer_capacity) and for the client to acknowledge sent messages \
                     (HubOptions::stateful_reconnect_buffer_size); raise those options or send less at once."
                );
                tracing::warn!(connection_id = %self.conn.id, "{text}");
                let mut out = Vec::new();
                protocol::write_close(&mut out, Some(&text), false);
                self.send_json(out).await;
                return Step::End(DisconnectReason::ProtocolError(text));
            }
        }
        Step::Continue
    }

    /// Delivers the stalled stream input once there is room, then handles the records parked after it.
    pub(super) async fn unstall(
        &mut self,
        permit: Result<mpsc::OwnedPermit<StreamInput>, mpsc::error::SendError<()>>,
    ) -> Step {
        let Some(stalled) = self.rare.as_mut().and_then(|r| r.uploads.stalled.take()) else {
            return Step::Continue;
        };
        // Client silence counts from when reading resumes.
        self.activity.last_received = Instant::now();
        let Stalled {
            stream_id,
            input,
            rest,
            ..
        } = *stalled;
        match permit {
            Ok(permit) => {
                permit.send(input);
            }
            Err(_) => {
                // The method dropped the stream without reading it to the end.
                self.rare_mut().uploads.streams.remove(&stream_id);
            }
        }
        self.handle_records(rest).await
    }

    /// Routes a client-to-server stream item to its stream, stalling reads when the stream's buffer is full.
    pub(super) fn on_stream_item(&mut self, invocation_id: String, item: Payload) {
        let Some(tx) = self
            .rare
            .as_ref()
            .and_then(|r| r.uploads.streams.get(&invocation_id))
        else {
            self.warn_client(format_args!(
                "stream item for unknown stream '{invocation_id}' ignored"
            ));
            return;
        };
        match tx.try_send(Ok(item)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(input)) => {
                let tx = tx.clone();
                self.stall(invocation_id, tx, input);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.rare_mut().uploads.streams.remove(&invocation_id);
            }
        }
    }

    /// A Completion ends a client-to-server stream, or answers a client result the hub asked for.
    pub(super) fn on_completion(&mut self, invocation_id: String, outcome: CompletionOutcome) {
        let upload = self
            .rare
            .as_mut()
            .and_then(|r| r.uploads.streams.remove(&invocation_id));
        if let Some(tx) = upload {
            if let CompletionOutcome::Error(e) = outcome {
                if let Err(mpsc::error::TrySendError::Full(input)) = tx.try_send(Err(e)) {
                    self.stall(invocation_id, tx, input);
                }
            }
        } else if !self.conn.complete_result(&invocation_id, outcome) {
            self.warn_client(format_args!(
                "completion for unknown invocation '{invocation_id}' ignored"
            ));
        }
    }
}
