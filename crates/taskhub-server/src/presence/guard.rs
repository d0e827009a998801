//! [`PresenceGuard`]: a stream's presence, for as long as the stream lives.

use taskhub_engine::presence::{Op, Presence};
use tokio::sync::mpsc;

/// Held by a stream; dropping it (the stream ended, however) queues the stream's leave
/// from each selector it was present on.
#[derive(Debug)]
pub(crate) struct PresenceGuard {
    /// The bookkeeping task's queue: a push that never waits.
    ops: mpsc::UnboundedSender<Op>,
    present: Vec<Presence>,
}

impl PresenceGuard {
    pub(super) fn new(ops: mpsc::UnboundedSender<Op>, present: Vec<Presence>) -> Self {
        Self { ops, present }
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        for presence in self.present.drain(..) {
            // Fails only once the task has stopped: shutdown then hands the node's members
            // over whole.
            let _ = self.ops.send(Op::Close(presence));
        }
    }
}
