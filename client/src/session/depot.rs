//! `Depot`: requests written to the current connection and awaiting their reply.
//!
//! ZooKeeper answers a session's requests in order, so the depot is a FIFO: the reply at the head
//! must carry the head's xid; anything else means the connection is broken. Pings, auth packets and
//! setWatches use reserved negative xids and are tracked apart (auth replies may overtake others).

use std::collections::VecDeque;

use tokio::sync::oneshot;
use zk_proto::OpCode;

use super::{Reply, WatchKind};
use crate::Error;

/// A request on the wire.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) xid: i32,
    pub(crate) opcode: OpCode,
    pub(crate) watch: Option<(String, WatchKind)>,
    pub(crate) reply: Option<oneshot::Sender<Result<Reply, Error>>>,
    /// For removeWatches: the path and type to clear locally on success.
    pub(crate) remove: Option<(String, zk_proto::WatcherType)>,
}

/// What the current connection is waiting for.
#[derive(Debug, Default)]
pub(crate) struct Depot {
    requests: VecDeque<Pending>,
    auths: VecDeque<Option<oneshot::Sender<Result<(), Error>>>>,
    set_watches: usize,
    pings: usize,
}

impl Depot {
    pub(crate) fn push(&mut self, pending: Pending) {
        self.requests.push_back(pending);
    }

    /// Takes the request the reply with `xid` answers, or `None` if `xid` is not the head's.
    pub(crate) fn pop(&mut self, xid: i32) -> Option<Pending> {
        if self.requests.front()?.xid == xid {
            self.requests.pop_front()
        } else {
            None
        }
    }

    /// Whether a request that registers a watch on `path` is in flight.
    pub(crate) fn registers_watch_on(&self, path: &str) -> bool {
        self.requests
            .iter()
            .any(|p| p.watch.as_ref().is_some_and(|(w, _)| w == path))
    }

    pub(crate) fn head_xid(&self) -> Option<i32> {
        self.requests.front().map(|p| p.xid)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.auths.is_empty() && self.set_watches == 0
    }

    pub(crate) fn push_auth(&mut self, reply: Option<oneshot::Sender<Result<(), Error>>>) {
        self.auths.push_back(reply);
    }

    pub(crate) fn pop_auth(&mut self) -> Option<Option<oneshot::Sender<Result<(), Error>>>> {
        self.auths.pop_front()
    }

    pub(crate) fn push_set_watches(&mut self) {
        self.set_watches += 1;
    }

    /// Returns false on an unexpected setWatches reply.
    pub(crate) fn pop_set_watches(&mut self) -> bool {
        if self.set_watches == 0 {
            return false;
        }
        self.set_watches -= 1;
        true
    }

    pub(crate) fn push_ping(&mut self) {
        self.pings += 1;
    }

    pub(crate) fn pop_ping(&mut self) {
        self.pings = self.pings.saturating_sub(1);
    }

    /// Fails everything in flight with `error` (connection lost, session expired, closed).
    pub(crate) fn fail_all(&mut self, error: &Error) {
        for p in self.requests.drain(..) {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        for reply in self.auths.drain(..).flatten() {
            let _ = reply.send(Err(error.clone()));
        }
        self.set_watches = 0;
        self.pings = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(xid: i32) -> (Pending, oneshot::Receiver<Result<Reply, Error>>) {
        let (tx, rx) = oneshot::channel();
        let p = Pending {
            xid,
            opcode: OpCode::GetData,
            watch: None,
            reply: Some(tx),
            remove: None,
        };
        (p, rx)
    }

    #[test]
    fn replies_match_the_head_only_and_failures_reach_everyone() {
        let mut d = Depot::default();
        let (p1, _r1) = pending(1);
        let (p2, mut r2) = pending(2);
        d.push(p1);
        d.push(p2);
        assert!(d.pop(2).is_none());
        assert_eq!(d.pop(1).unwrap().xid, 1);
        assert_eq!(d.head_xid(), Some(2));
        d.fail_all(&Error::ConnectionLoss);
        assert!(d.is_empty());
        assert_eq!(r2.try_recv().unwrap().unwrap_err(), Error::ConnectionLoss);
    }
}
