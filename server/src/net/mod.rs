//! The client port: the listener (connection limits, shutdown) and one task per connection
//! (four-letter words, handshake, framing, backpressure, batched writes).

mod conn;
mod listener;

pub(crate) use conn::ConnCtx;
pub(crate) use listener::{serve, Limits};

/// Total connections the listener accepts at once, across all IPs (mini-redis
/// `MAX_CONNECTIONS` style; Apache is bounded by file descriptors instead).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Requests one connection may have in flight before the server stops reading from it
/// (Apache's `zookeeper.globalOutstandingLimit` is 1000 for the whole server; this bound is per
/// connection so one client cannot starve the others).
pub const DEFAULT_MAX_OUTSTANDING_PER_CONN: usize = 1000;
