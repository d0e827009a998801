//! `--slow-client-policy`: what happens to a subscriber that falls `--client-buffer`
//! events behind.

/// What to do with a subscriber whose buffer of undelivered events is full. The binary's
/// flag parses it directly (the `cli` feature derives clap's `ValueEnum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum SlowClientPolicy {
    /// End its stream; it reconnects with `Last-Event-ID` and replays from history.
    #[default]
    Disconnect,
    /// Drop its oldest undelivered events and tell it with one `event: gap`.
    DropOldest,
}
