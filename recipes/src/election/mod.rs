//! Leader election: [`LeaderLatch`] (Curator `LeaderLatch`: join and stay until closed; the lowest
//! node leads) and [`LeaderSelector`] (Curator `LeaderSelector`: take leadership, run a task, give
//! it up). Both report [`Leadership`] and hand the leader a [`FencingToken`].

mod latch;
mod selector;

pub use latch::{LeaderLatch, LATCH_NAME};
pub use selector::{LeaderContext, LeaderSelector, LeaderSelectorBuilder};

use crate::fence::FencingToken;

/// A participant's view of the election, as reported by its recipe's stream and `watch` channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Leadership {
    /// Joining: creating its node, or waiting for a connection to do so.
    Joining,
    /// This participant leads. The token is its node's czxid: it strictly increases from one
    /// leader to the next.
    Leader {
        /// The fencing token of this term.
        token: FencingToken,
    },
    /// Another participant leads.
    Follower {
        /// The leader's participant id (its node's data), as of the last time this participant
        /// looked (followers watch only their predecessor, so a change of leader further ahead
        /// is not noticed at once). `None` when unknown.
        leader: Option<String>,
    },
    /// Disconnected; the session may be alive. A leader must not act as leader until it is told
    /// `Leader` again (reconnected and re-verified) — its session may expire meanwhile.
    Suspended,
    /// The session expired (or our node was deleted): any leadership ended. The participant
    /// rejoins with a new node as soon as the client has a new session.
    Lost,
    /// The participant was closed. Terminal.
    Closed,
}

impl Leadership {
    /// Whether this is [`Leadership::Leader`].
    pub fn is_leader(&self) -> bool {
        matches!(self, Leadership::Leader { .. })
    }

    /// The fencing token, if leader.
    pub fn token(&self) -> Option<FencingToken> {
        match self {
            Leadership::Leader { token } => Some(*token),
            _ => None,
        }
    }
}
