//! Scenario tests for the core: one input, the exact actions out (openraft `become_leader_test.rs` style).

use bytes::Bytes;

use crate::{
    Action, Config, Epoch, Message, Notification, PeerId, PersistentState, Role, ServerState, Txn,
    Vote, Zab, ZabPhase, Zxid,
};

const P1: PeerId = PeerId(1);
const P2: PeerId = PeerId(2);
const P3: PeerId = PeerId(3);

fn z(e: u32, c: u32) -> Zxid {
    Zxid::new(Epoch(e), c)
}

fn node(id: PeerId) -> Zab {
    let mut n = Zab::new(
        Config::new(id, [P1, P2, P3], []),
        PersistentState::default(),
        1,
    )
    .unwrap();
    n.drain_actions();
    n
}

fn send(to: PeerId, msg: Message) -> Action {
    Action::Send { to, msg }
}

fn settled(leader: PeerId, state: ServerState) -> Message {
    Message::Notification(Notification {
        vote: Vote::new(leader, Zxid::ZERO, Epoch(0)),
        round: 1,
        state,
    })
}

/// Node 2 follows node 1 in epoch 1, up to BROADCAST, checking every step's actions.
fn synced_follower() -> Zab {
    let mut f = node(P2);
    f.step(P1, settled(P1, ServerState::Leading));
    assert_eq!(f.drain_actions(), vec![]);
    f.step(P3, settled(P1, ServerState::Following));
    assert_eq!(
        f.drain_actions(),
        vec![
            Action::RoleChanged {
                role: Role::Following { leader: P1 },
                phase: ZabPhase::Discovery
            },
            send(
                P1,
                Message::FollowerInfo {
                    accepted_epoch: Epoch(0)
                }
            ),
        ]
    );
    f.step(P1, Message::LeaderInfo { epoch: Epoch(1) });
    // acceptedEpoch first goes to disk; no ACKEPOCH yet (Z19).
    assert_eq!(
        f.drain_actions(),
        vec![Action::PersistEpoch {
            accepted: Epoch(1),
            current: Epoch(0)
        }]
    );
    f.epoch_persisted(Epoch(1), Epoch(0));
    assert_eq!(
        f.drain_actions(),
        vec![
            send(
                P1,
                Message::AckEpoch {
                    last_zxid: Zxid::ZERO,
                    current_epoch: Some(Epoch(0))
                }
            ),
            Action::RoleChanged {
                role: Role::Following { leader: P1 },
                phase: ZabPhase::Synchronization
            },
        ]
    );
    f.step(
        P1,
        Message::Diff {
            last_zxid: Zxid::ZERO,
        },
    );
    assert_eq!(f.drain_actions(), vec![]);
    f.step(P1, Message::NewLeader { zxid: z(1, 0) });
    assert_eq!(
        f.drain_actions(),
        vec![Action::PersistEpoch {
            accepted: Epoch(1),
            current: Epoch(1)
        }]
    );
    f.epoch_persisted(Epoch(1), Epoch(1));
    assert_eq!(
        f.drain_actions(),
        vec![send(P1, Message::Ack { zxid: z(1, 0) })]
    );
    f.step(P1, Message::UpToDate);
    assert_eq!(
        f.drain_actions(),
        vec![
            Action::RoleChanged {
                role: Role::Following { leader: P1 },
                phase: ZabPhase::Broadcast
            },
            send(P1, Message::Ack { zxid: z(1, 0) }),
        ]
    );
    f
}

#[test]
fn follower_acks_a_proposal_only_after_it_is_durable() {
    let mut f = synced_follower();
    let txn = Txn::new(z(1, 1), "a");
    f.step(P1, Message::Proposal(txn.clone()));
    assert_eq!(
        f.drain_actions(),
        vec![Action::AppendTxns(vec![txn])],
        "no ACK before persisted (Z21)"
    );
    f.persisted(z(1, 1));
    assert_eq!(
        f.drain_actions(),
        vec![send(P1, Message::Ack { zxid: z(1, 1) })]
    );
    f.step(P1, Message::Commit { zxid: z(1, 1) });
    assert_eq!(f.drain_actions(), vec![Action::Commit { upto: z(1, 1) }]);
}

/// Regression for simulator seed 1177: currentEpoch must not reach disk before the synced history.
#[test]
fn regression_seed_1177_current_epoch_waits_for_the_synced_history() {
    let mut f = node(P2);
    f.step(P1, settled(P1, ServerState::Leading));
    f.step(P3, settled(P1, ServerState::Following));
    f.step(P1, Message::LeaderInfo { epoch: Epoch(1) });
    f.epoch_persisted(Epoch(1), Epoch(0));
    f.step(P1, Message::Diff { last_zxid: z(0, 1) });
    f.drain_actions();
    let txn = Txn::new(z(0, 1), "old");
    f.step(P1, Message::Proposal(txn.clone()));
    f.step(P1, Message::NewLeader { zxid: z(1, 0) });
    assert_eq!(
        f.drain_actions(),
        vec![Action::AppendTxns(vec![txn])],
        "no PersistEpoch before the log is durable"
    );
    f.persisted(z(0, 1));
    assert_eq!(
        f.drain_actions(),
        vec![Action::PersistEpoch {
            accepted: Epoch(1),
            current: Epoch(1)
        }]
    );
    f.epoch_persisted(Epoch(1), Epoch(1));
    assert_eq!(
        f.drain_actions(),
        vec![send(P1, Message::Ack { zxid: z(1, 0) }), send(P1, Message::Ack { zxid: z(0, 1) })],
        "NEWLEADER-ACK, then the ACK of the still-uncommitted sync proposal (as Apache learners do)"
    );
}

/// Node 1 leads {1,2,3}: elected by node 2's vote, epoch from node 2's FOLLOWERINFO, established by its ACK.
fn established_leader() -> Zab {
    let mut l = node(P1);
    let vote_for_1 = Message::Notification(Notification {
        vote: Vote::new(P1, Zxid::ZERO, Epoch(0)),
        round: 1,
        state: ServerState::Looking,
    });
    l.step(P3, vote_for_1.clone()); // peers that adopted node 1's vote (a scripted round)
    l.step(P2, vote_for_1);
    l.tick();
    l.tick();
    assert_eq!(
        l.role(),
        Role::Leading,
        "a quorum agreed and finalizeWait passed"
    );
    l.drain_actions();
    l.step(
        P2,
        Message::FollowerInfo {
            accepted_epoch: Epoch(0),
        },
    );
    assert_eq!(
        l.drain_actions(),
        vec![Action::PersistEpoch {
            accepted: Epoch(1),
            current: Epoch(0)
        }]
    );
    l.epoch_persisted(Epoch(1), Epoch(0));
    assert_eq!(
        l.drain_actions(),
        vec![send(P2, Message::LeaderInfo { epoch: Epoch(1) })]
    );
    l.step(
        P2,
        Message::AckEpoch {
            last_zxid: Zxid::ZERO,
            current_epoch: Some(Epoch(0)),
        },
    );
    assert_eq!(
        l.drain_actions(),
        vec![
            Action::RoleChanged {
                role: Role::Leading,
                phase: ZabPhase::Synchronization
            },
            Action::PersistEpoch {
                accepted: Epoch(1),
                current: Epoch(1)
            },
        ]
    );
    l.epoch_persisted(Epoch(1), Epoch(1));
    assert_eq!(
        l.drain_actions(),
        vec![
            send(
                P2,
                Message::Diff {
                    last_zxid: Zxid::ZERO
                }
            ),
            send(P2, Message::NewLeader { zxid: z(1, 0) })
        ]
    );
    l.step(P2, Message::Ack { zxid: z(1, 0) });
    assert_eq!(
        l.drain_actions(),
        vec![
            Action::RoleChanged {
                role: Role::Leading,
                phase: ZabPhase::Broadcast
            },
            send(P2, Message::UpToDate)
        ]
    );
    l
}

#[test]
fn leader_commits_only_once_a_quorum_including_itself_has_it_durable() {
    let mut l = established_leader();
    let zxid = l.propose(Bytes::from_static(b"a")).unwrap();
    assert_eq!(zxid, z(1, 1));
    assert_eq!(
        l.drain_actions(),
        vec![
            Action::AppendTxns(vec![Txn::new(zxid, "a")]),
            send(P2, Message::Proposal(Txn::new(zxid, "a")))
        ]
    );
    l.step(P2, Message::Ack { zxid });
    assert_eq!(
        l.drain_actions(),
        vec![],
        "the leader's own copy is not durable yet"
    );
    l.persisted(zxid);
    assert_eq!(
        l.drain_actions(),
        vec![
            Action::Commit { upto: zxid },
            send(P2, Message::Commit { zxid })
        ]
    );
}

#[test]
fn a_reconnecting_learner_loses_its_old_acks() {
    let mut l = established_leader();
    let zxid = l.propose(Bytes::from_static(b"a")).unwrap();
    l.step(P2, Message::Ack { zxid });
    l.step(
        P2,
        Message::FollowerInfo {
            accepted_epoch: Epoch(1),
        },
    ); // new connection, may be truncated
    l.persisted(zxid);
    let actions = l.drain_actions();
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Commit { .. })),
        "{actions:?}"
    );
}

#[test]
fn leader_steps_down_for_a_learner_that_promised_a_newer_epoch() {
    let mut l = established_leader();
    l.step(
        P3,
        Message::FollowerInfo {
            accepted_epoch: Epoch(2),
        },
    );
    assert_eq!(l.role(), Role::Looking);
}

#[test]
fn follower_goes_looking_when_the_leader_is_silent_for_sync_limit() {
    let mut f = synced_follower();
    let limit = (f.config().sync_limit * f.config().ticks_per_tick_time) as usize;
    for _ in 0..limit {
        f.tick();
    }
    assert_eq!(f.role(), Role::Following { leader: P1 });
    f.tick();
    assert_eq!(f.role(), Role::Looking);
}

#[test]
fn looking_node_adopts_a_better_vote_and_rebroadcasts() {
    let mut n = node(P1);
    let better = Vote::new(P3, z(0, 5), Epoch(0));
    n.step(
        P3,
        Message::Notification(Notification {
            vote: better,
            round: 1,
            state: ServerState::Looking,
        }),
    );
    let n3 = Notification {
        vote: better,
        round: 1,
        state: ServerState::Looking,
    };
    assert_eq!(
        n.drain_actions(),
        vec![
            send(P2, Message::Notification(n3)),
            send(P3, Message::Notification(n3))
        ]
    );
    assert_eq!(n.current_vote(), better);
}
