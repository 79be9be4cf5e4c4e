//! The simulated world: N nodes, each a `Zab` core plus a tiny shell (disk, log mirror, state machine),
//! a network and a nemesis, all driven by one seeded RNG and a discrete event queue. The invariants in
//! `invariants/` are checked at the action that can break them and after every event.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use bytes::Bytes;
use zk_zab::{
    Bugs, Config, Message, PeerId, PersistentState, Role, SplitMix64, Zab, ZabPhase, Zxid,
};

use crate::disk::Disk;
use crate::invariants::{self, Checker};
use crate::net::Net;
pub use crate::node::Node;

/// Simulated time units per core tick.
pub const TICK: u64 = 100;

/// What a run does besides what its seed decides.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub bugs: Bugs,
    /// Ticks of faults before everything heals.
    pub chaos_ticks: u64,
    /// Z25: ticks after healing within which a leader must serve and a probe txn reach every node.
    pub liveness_ticks: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bugs: Bugs::default(),
            chaos_ticks: 300,
            liveness_ticks: 400,
        }
    }
}

/// Voters and observers, decided by the seed.
pub fn topology(seed: u64) -> (usize, usize) {
    match seed % 4 {
        0 => (3, 0),
        1 => (3, 1),
        2 => (5, 0),
        _ => (5, 1),
    }
}

pub enum Ev {
    Tick(usize, u64),
    Deliver {
        from: usize,
        to: usize,
        msg: Message,
        gen: u64,
    },
    Fsync(usize, u64),
    Crash(usize),
    Restart(usize),
    Nemesis,
    Heal,
    Propose,
    Disconnect {
        node: usize,
        peer: usize,
        gen: u64,
    },
}

struct Scheduled {
    at: u64,
    pub seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

pub struct World {
    pub opts: Options,
    pub rng: SplitMix64,
    pub now: u64,
    pub seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    pub nodes: Vec<Node>,
    pub ids: Vec<PeerId>,
    pub net: Net,
    pub chk: Checker,
    pub trace: u64,
    pub chaos: bool,
    pub next_payload: u64,
    pub retain: usize,
    pub events: u64,
    /// Print every event (ZAB_TRACE=1 with `replay`).
    pub verbose: bool,
}

/// FNV-1a step.
pub fn mix(h: u64, x: u64) -> u64 {
    let mut h = h;
    for b in x.to_le_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn msg_digest(m: &Message) -> u64 {
    let kind = m.kind().bytes().fold(0u64, |h, b| mix(h, b as u64));
    let z = match m {
        Message::Notification(n) => {
            n.vote.zxid.0 ^ (n.vote.leader.0 << 56) ^ n.round.rotate_left(20)
        }
        Message::FollowerInfo { accepted_epoch } | Message::ObserverInfo { accepted_epoch } => {
            accepted_epoch.0 as u64
        }
        Message::LeaderInfo { epoch } => epoch.0 as u64,
        Message::AckEpoch { last_zxid, .. } => last_zxid.0,
        Message::Diff { last_zxid } => last_zxid.0,
        Message::Trunc { zxid } | Message::Snap { zxid, .. } | Message::NewLeader { zxid } => {
            zxid.0
        }
        Message::Ack { zxid } | Message::Commit { zxid } => zxid.0,
        Message::Proposal(t) | Message::Inform(t) => t.zxid.0,
        _ => 0,
    };
    mix(kind, z)
}

pub fn payload_id(p: &Bytes) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[..8]);
    u64::from_le_bytes(b)
}

impl World {
    pub fn new(seed: u64, opts: Options) -> World {
        let mut rng = SplitMix64::new(seed);
        let (voters, observers) = topology(seed);
        let ids: Vec<PeerId> = (1..=(voters + observers) as u64).map(PeerId).collect();
        let retain = rng.range(2, 12) as usize;
        let mut w = World {
            opts,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes: Vec::new(),
            ids: ids.clone(),
            net: Net::default(),
            chk: Checker::default(),
            trace: 0xcbf2_9ce4_8422_2325,
            chaos: true,
            next_payload: 1,
            retain,
            events: 0,
            verbose: std::env::var("ZAB_TRACE").is_ok(),
        };
        for (i, id) in ids.iter().enumerate() {
            w.nodes.push(Node {
                id: *id,
                voter: i < voters,
                zab: None,
                incarnation: 0,
                disk: Disk::default(),
                mem_base: Zxid::ZERO,
                mem_log: BTreeMap::new(),
                applied: Vec::new(),
                newleader_acked: false,
                last_ack: Zxid::ZERO,
            });
        }
        for i in 0..w.nodes.len() {
            w.start_node(i);
        }
        let first = w.rng.range(1, 10) * TICK;
        w.schedule(first, Ev::Nemesis);
        let first = w.rng.range(1, 5) * TICK;
        w.schedule(first, Ev::Propose);
        w
    }

    fn config(&self, i: usize) -> Config {
        let voters: Vec<PeerId> = self
            .nodes
            .iter()
            .filter(|n| n.voter)
            .map(|n| n.id)
            .collect();
        let observers: Vec<PeerId> = self
            .nodes
            .iter()
            .filter(|n| !n.voter)
            .map(|n| n.id)
            .collect();
        let mut c = Config::new(self.nodes[i].id, voters, observers);
        c.ticks_per_tick_time = 4;
        c.init_limit = 5;
        c.sync_limit = 3;
        c.finalize_wait_ticks = 1;
        c.max_notification_interval_ticks = 16;
        c.committed_log_retain = self.retain;
        c.bugs = self.opts.bugs;
        c
    }

    pub fn schedule(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: self.now + delay,
            seq: self.seq,
            ev,
        }));
    }

    fn start_node(&mut self, i: usize) {
        let cfg = self.config(i);
        let n = &mut self.nodes[i];
        let state = PersistentState {
            accepted_epoch: n.disk.accepted,
            current_epoch: n.disk.current,
            snapshot_zxid: n.disk.snap_zxid,
            log: n.disk.log_after_snapshot(),
            applied: n.disk.snap_zxid,
        };
        n.mem_base = n.disk.snap_zxid;
        n.mem_log = state
            .log
            .iter()
            .map(|t| (t.zxid, payload_id(&t.payload)))
            .collect();
        n.applied = n.disk.snap.clone();
        n.newleader_acked = false;
        n.incarnation += 1;
        let seed = self.rng.next_u64();
        n.zab = Some(Zab::new(cfg, state, seed).expect("valid config"));
        let inc = n.incarnation;
        let phase = self.rng.below(TICK) + 1;
        self.schedule(phase, Ev::Tick(i, inc));
        self.drain(i).expect("a fresh node breaks nothing");
    }

    // ------------------------------------------------------------------ running

    /// Runs until simulated time `until`; `Err` carries the first violation.
    pub fn run_until(&mut self, until: u64) -> Result<(), String> {
        while let Some(Reverse(top)) = self.queue.peek() {
            if top.at > until {
                break;
            }
            let Reverse(s) = self.queue.pop().expect("peeked");
            self.now = s.at;
            self.dispatch(s.ev)?;
            self.events += 1;
            invariants::check_step(self)?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// The whole scenario: chaos, heal, liveness (Z25), quiet agreement (Z24).
    pub fn run(&mut self) -> Result<(), String> {
        let chaos_end = self.opts.chaos_ticks * TICK;
        self.run_until(chaos_end)?;
        self.heal_all();
        let deadline = self.now + self.opts.liveness_ticks * TICK;
        // Z25: a leader reaches BROADCAST and a probe txn proposed there reaches every node.
        let mut probe: Option<Zxid> = None;
        loop {
            let step_end = self.now + TICK;
            self.run_until(step_end)?;
            // A probe proposed by a leader that lost its epoch may never commit: probe again.
            if let Some(z) = probe {
                let still = self.nodes.iter().any(|n| {
                    n.zab
                        .as_ref()
                        .is_some_and(|x| x.role() == Role::Leading && x.epoch() == Some(z.epoch()))
                });
                if !still && !self.chk.g_pos.contains_key(&z) {
                    probe = None;
                }
            }
            if probe.is_none() {
                probe = self.try_probe()?;
            }
            if let Some(z) = probe {
                if self.nodes.iter().all(|n| n.applied_last() >= z) {
                    break;
                }
            }
            if self.now > deadline {
                return Err(invariants::z25_liveness::report(self, probe));
            }
        }
        // Quiet for a while, then everybody agrees (Z24).
        let quiet_end = self.now + 30 * TICK;
        self.run_until(quiet_end)?;
        invariants::z24_agreement::check(self)
    }

    fn try_probe(&mut self) -> Result<Option<Zxid>, String> {
        let Some(i) = self.nodes.iter().position(|n| {
            n.zab
                .as_ref()
                .is_some_and(|z| z.role() == Role::Leading && z.phase() == ZabPhase::Broadcast)
        }) else {
            return Ok(None);
        };
        let z = self.propose_at(i)?;
        self.drain(i)?;
        Ok(z)
    }

    fn heal_all(&mut self) {
        self.chaos = false;
        self.net.heal();
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up() {
                self.start_node(i);
            }
        }
    }

    fn dispatch(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::Tick(i, inc) => {
                if self.nodes[i].incarnation != inc || !self.nodes[i].up() {
                    return Ok(());
                }
                self.trace = mix(mix(self.trace, 1), i as u64);
                self.nodes[i].zab.as_mut().expect("up").tick();
                self.schedule(TICK, Ev::Tick(i, inc));
                self.drain(i)
            }
            Ev::Deliver { from, to, msg, gen } => self.deliver(from, to, msg, gen),
            Ev::Fsync(i, inc) => {
                if self.nodes[i].incarnation != inc || !self.nodes[i].up() {
                    return Ok(());
                }
                self.trace = mix(mix(self.trace, 3), i as u64);
                let f = self.nodes[i].disk.flush();
                invariants::z19_epoch_durability::on_flush(&self.nodes[i], &f)?;
                let last = self.nodes[i].disk.durable_last();
                let zab = self.nodes[i].zab.as_mut().expect("up");
                if f.log_changed {
                    zab.persisted(last);
                }
                if let Some((a, c)) = f.epochs {
                    zab.epoch_persisted(a, c);
                }
                self.drain(i)
            }
            Ev::Crash(i) => {
                if !self.chaos || !self.nodes[i].up() {
                    return Ok(());
                }
                self.trace = mix(mix(self.trace, 4), i as u64);
                if self.verbose {
                    println!("t={} {} CRASH", self.now, self.ids[i]);
                }
                self.crash(i);
                let back = self.rng.range(3, 60) * TICK;
                self.schedule(back, Ev::Restart(i));
                Ok(())
            }
            Ev::Restart(i) => {
                if self.nodes[i].up() {
                    return Ok(());
                }
                self.trace = mix(mix(self.trace, 5), i as u64);
                if self.verbose {
                    println!("t={} {} RESTART", self.now, self.ids[i]);
                }
                self.start_node(i);
                Ok(())
            }
            Ev::Nemesis => {
                if self.chaos {
                    self.nemesis()?;
                    let next = self.rng.range(3, 25) * TICK;
                    self.schedule(next, Ev::Nemesis);
                }
                Ok(())
            }
            Ev::Heal => {
                self.net.heal();
                Ok(())
            }
            Ev::Propose => {
                if self.chaos {
                    let up: Vec<usize> = (0..self.nodes.len())
                        .filter(|&i| self.nodes[i].up())
                        .collect();
                    let leaders: Vec<usize> = up
                        .iter()
                        .copied()
                        .filter(|&i| {
                            self.nodes[i]
                                .zab
                                .as_ref()
                                .is_some_and(|z| z.role() == Role::Leading)
                        })
                        .collect();
                    let pool = if !leaders.is_empty() && self.rng.chance(3, 4) {
                        leaders
                    } else {
                        up
                    };
                    if !pool.is_empty() {
                        let i = pool[self.rng.below(pool.len() as u64) as usize];
                        self.propose_at(i)?;
                        self.drain(i)?;
                    }
                    let next = self.rng.range(1, 6) * TICK + self.rng.below(TICK);
                    self.schedule(next, Ev::Propose);
                }
                Ok(())
            }
            Ev::Disconnect { node, peer, gen } => {
                if self.nodes[node].up()
                    && self.net.current_in(self.ids[node], self.ids[peer]) == gen
                {
                    self.trace = mix(mix(self.trace, 6), node as u64);
                    let p = self.ids[peer];
                    self.nodes[node].zab.as_mut().expect("up").disconnected(p);
                    self.drain(node)?;
                }
                Ok(())
            }
        }
    }

    /// A client write at node `i`; `Ok(None)` if it is not an established leader.
    fn propose_at(&mut self, i: usize) -> Result<Option<Zxid>, String> {
        let id = self.next_payload;
        let Some(zab) = self.nodes[i].zab.as_mut() else {
            return Ok(None);
        };
        let Ok(z) = zab.propose(Bytes::copy_from_slice(&id.to_le_bytes())) else {
            return Ok(None);
        };
        self.next_payload += 1;
        self.trace = mix(mix(self.trace, 7), z.0);
        invariants::z20_zxid_uniqueness::on_propose(&mut self.chk, z, id)?;
        Ok(Some(z))
    }

    fn nemesis(&mut self) -> Result<(), String> {
        let n = self.nodes.len();
        let roll = self.rng.below(100);
        if roll < 30 {
            let leader = (0..n).find(|&i| {
                self.nodes[i]
                    .zab
                    .as_ref()
                    .is_some_and(|z| z.role() == Role::Leading)
            });
            let i = match leader {
                Some(l) if self.rng.chance(1, 2) => l,
                _ => self.rng.below(n as u64) as usize,
            };
            self.schedule(0, Ev::Crash(i));
        } else if roll < 50 {
            let mut side = Vec::new();
            for &id in &self.ids {
                if self.rng.chance(1, 2) {
                    side.push(id);
                }
            }
            let all = self.ids.clone();
            self.net.partition(&side, &all);
            self.trace = mix(self.trace, 8 + side.len() as u64);
            let heal = self.rng.range(5, 80) * TICK;
            self.schedule(heal, Ev::Heal);
        } else if roll < 62 {
            let i = self.rng.below(n as u64) as usize;
            self.take_snapshot(i);
        } else if roll < 72 {
            // Reset one ZAB connection (both ends may or may not notice).
            let a = self.rng.below(n as u64) as usize;
            let b = self.rng.below(n as u64) as usize;
            if a != b {
                let g = self.net.out(self.ids[a], self.ids[b]);
                self.break_conn(a, b, g, true);
            }
        }
        Ok(())
    }

    fn take_snapshot(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let Some(zab) = n.zab.as_mut() else { return };
        let Some(&(z, _)) = n.applied.last() else {
            return;
        };
        n.disk.snap_zxid = z;
        n.disk.snap = n.applied.clone();
        zab.snapshot_taken(z);
        self.trace = mix(mix(self.trace, 9), z.0);
    }

    fn break_conn(&mut self, a: usize, b: usize, g: u64, notify: bool) {
        if g == 0 || self.net.is_broken(g) {
            return;
        }
        self.net.break_conn(g);
        if notify {
            for (x, y) in [(a, b), (b, a)] {
                if self.rng.chance(2, 3) {
                    let d = self.rng.range(1, 80);
                    self.schedule(
                        d,
                        Ev::Disconnect {
                            node: x,
                            peer: y,
                            gen: g,
                        },
                    );
                }
            }
        }
    }

    fn crash(&mut self, i: usize) {
        let id = self.ids[i];
        let peers = self.net.peers_of(id);
        let n = &mut self.nodes[i];
        n.zab = None;
        n.disk.crash(&mut self.rng);
        self.net.forget(id);
        // The OS of a crashed process resets its sockets; peers may notice quickly.
        for (peer, g) in peers {
            let p = self.ids.iter().position(|&x| x == peer).expect("member");
            if self.rng.chance(1, 2) {
                let d = self.rng.range(1, 50);
                self.schedule(
                    d,
                    Ev::Disconnect {
                        node: p,
                        peer: i,
                        gen: g,
                    },
                );
            }
        }
    }

    // ------------------------------------------------------------------ network

    pub fn send(&mut self, from: usize, to: usize, msg: Message) {
        let (a, b) = (self.ids[from], self.ids[to]);
        if msg.is_election() {
            if self.chaos && self.rng.chance(3, 100) {
                return;
            }
            let copies = if self.chaos && self.rng.chance(3, 100) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let d = self.latency();
                self.schedule(
                    d,
                    Ev::Deliver {
                        from,
                        to,
                        msg: msg.clone(),
                        gen: 0,
                    },
                );
            }
            return;
        }
        let opens = matches!(
            msg,
            Message::FollowerInfo { .. } | Message::ObserverInfo { .. }
        );
        let g = if opens {
            self.net.open(a, b)
        } else {
            self.net.out(a, b)
        };
        if g == 0 {
            return;
        }
        if self.chaos && self.rng.chance(1, 300) {
            self.break_conn(from, to, g, true);
            return;
        }
        let d = self.latency();
        let at = self.net.fifo_time(a, b, g, self.now + d);
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            ev: Ev::Deliver {
                from,
                to,
                msg,
                gen: g,
            },
        }));
    }

    fn latency(&mut self) -> u64 {
        if self.rng.chance(1, 30) {
            self.rng.range(100, 600)
        } else {
            self.rng.range(1, 120)
        }
    }

    fn deliver(&mut self, from: usize, to: usize, msg: Message, gen: u64) -> Result<(), String> {
        let (a, b) = (self.ids[from], self.ids[to]);
        if !self.nodes[to].up() || self.net.partitioned(a, b) {
            if gen != 0 {
                self.net.break_conn(gen);
            }
            return Ok(());
        }
        if gen != 0 {
            let opens = matches!(
                msg,
                Message::FollowerInfo { .. } | Message::ObserverInfo { .. }
            );
            if !self.net.accept(b, a, gen, opens) {
                return Ok(());
            }
        }
        self.trace = mix(
            mix(mix(self.trace, 2), (from * 16 + to) as u64),
            msg_digest(&msg),
        );
        if self.verbose && !matches!(msg, Message::Ping { .. }) {
            println!("t={} {} -> {}: {:?}", self.now, a, b, msg);
        }
        invariants::z15_proposal_consistent::on_deliver(self, from, to, &msg)?;
        self.nodes[to].zab.as_mut().expect("up").step(a, msg);
        self.drain(to)
    }
}
