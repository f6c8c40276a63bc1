//! The connection's rarely used state, boxed so that an idle JSON connection carries one null pointer for
//! it: stateful reconnect's replay buffer, MessagePack framing, invocations waiting for a parallel slot and
//! the records held behind them, server-to-client stream cancels and client-to-server streams.
//!
//! Invariant: [`Connection::rare`] is `Some` while any of that state is in use. It is created by the first
//! use ([`Connection::rare_mut`]) and dropped by [`Connection::release_rare`] when the connection's timer
//! fires (at least every keep-alive interval on a transport with pings) and nothing in it is in use, which
//! never happens on a MessagePack or stateful-reconnect connection (those hold it for life). Not sooner: a
//! circuit's event usually arrives in one frame with the acknowledgement before it, so it waits for a
//! slot, and dropping the state after each would allocate it again for every event.

use std::collections::{HashMap, VecDeque};

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::super::protocol::msgpack::LengthPrefixedBuffer;
use super::invocations::Finished;
use super::replay::Replay;
use super::uploads::Uploads;
use super::{Connection, Record, Transport};

/// State that most connections never use; see the module docs.
#[derive(Default)]
pub(super) struct Rare {
    /// The MessagePack framing state, when the client chose that protocol: its messages are translated to
    /// JSON records as they arrive, and outbound frames to MessagePack as they are written.
    pub(super) msgpack: Option<LengthPrefixedBuffer>,
    pub(super) replay: Replay,
    /// Invocations waiting for a parallel slot, at most `max_waiting_invocations`.
    pub(super) waiting: VecDeque<BoxFuture<'static, Finished>>,
    /// Records read but not yet handled because `waiting` is full; the transport is not read meanwhile.
    pub(super) held: Vec<Record>,
    /// Cancel signals of running server-to-client streams.
    pub(super) cancels: HashMap<String, oneshot::Sender<()>>,
    pub(super) uploads: Uploads,
}

impl Rare {
    /// Whether nothing in here is in use, so the box can go.
    fn is_unused(&self) -> bool {
        self.msgpack.is_none()
            && !self.replay.stateful
            && self.waiting.is_empty()
            && self.held.is_empty()
            && self.cancels.is_empty()
            && self.uploads.is_unused()
    }
}

impl<T: Transport> Connection<T> {
    /// The rarely used state, created on first use.
    pub(super) fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Drops the rarely used state once nothing in it is in use (see the module docs).
    pub(super) fn release_rare(&mut self) {
        if self.rare.as_ref().is_some_and(|r| r.is_unused()) {
            self.rare = None;
        }
    }

    /// The replay state, when the connection uses stateful reconnect.
    pub(super) fn replay(&self) -> Option<&Replay> {
        self.rare.as_ref().map(|r| &r.replay).filter(|r| r.stateful)
    }

    /// The replay state, when the connection uses stateful reconnect.
    pub(super) fn replay_mut(&mut self) -> Option<&mut Replay> {
        self.rare
            .as_mut()
            .map(|r| &mut r.replay)
            .filter(|r| r.stateful)
    }

    /// Whether the connection uses stateful reconnect.
    pub(super) fn stateful(&self) -> bool {
        self.replay().is_some()
    }

    /// Whether the client speaks MessagePack.
    pub(super) fn is_msgpack(&self) -> bool {
        self.rare.as_ref().is_some_and(|r| r.msgpack.is_some())
    }

    /// Whether a stream input waits for room, with reads paused.
    pub(super) fn is_stalled(&self) -> bool {
        self.rare
            .as_ref()
            .is_some_and(|r| r.uploads.stalled.is_some())
    }

    /// How many invocations wait for a parallel slot.
    pub(super) fn waiting_len(&self) -> usize {
        self.rare.as_ref().map_or(0, |r| r.waiting.len())
    }

    /// Whether records wait behind a full wait queue.
    pub(super) fn has_held(&self) -> bool {
        self.rare.as_ref().is_some_and(|r| !r.held.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_rare_state_is_unused() {
        assert!(Rare::default().is_unused());
    }

    #[test]
    fn each_use_keeps_the_rare_state() {
        let mut rare = Rare {
            msgpack: Some(LengthPrefixedBuffer::default()),
            ..Rare::default()
        };
        assert!(!rare.is_unused());
        rare.msgpack = None;
        rare.replay.stateful = true;
        assert!(!rare.is_unused());
        rare.replay.stateful = false;
        rare.held.push(Record::Json("{}".into()));
        assert!(!rare.is_unused());
        rare.held.clear();
        rare.waiting
            .push_back(Box::pin(async { Finished::Invocation }));
        assert!(!rare.is_unused());
        rare.waiting.clear();
        rare.cancels.insert("1".into(), oneshot::channel().0);
        assert!(!rare.is_unused());
        rare.cancels.clear();
        assert!(rare.is_unused());
    }

    #[test]
    fn an_idle_connection_keeps_one_pointer_for_it() {
        assert_eq!(
            std::mem::size_of::<Option<Box<Rare>>>(),
            std::mem::size_of::<usize>()
        );
    }
}
