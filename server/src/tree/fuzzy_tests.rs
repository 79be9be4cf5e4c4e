//! Replay over a fuzzy snapshot converges to the live tree, as in Apache.
//!
//! A seeded model of Apache's `DataTree.serialize`: the snapshot walks the tree depth first,
//! copying each node (and its child list) when it visits it, while txns keep being applied
//! between visits. The snapshot is named after the last zxid applied when the walk started and
//! records the digest of the last zxid applied when it ended. Loading it and replaying every
//! txn after its name must give exactly the live tree (nodes, stats, data, ACLs, sessions,
//! ephemerals, digest), with no digest mismatch once the replay passes the snapshot digest's
//! zxid.

use bytes::Bytes;
use zk_proto::records::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTxn, DeleteTxn, SetAclTxn, SetDataTxn, TxnDigest,
};
use zk_proto::{perms, Acl, Id, OpCode, TxnBody, TxnHeader};
use zk_storage::DIGEST_VERSION;

use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One logged txn, as the live server produced it.
struct Logged {
    header: TxnHeader,
    body: TxnBody,
    digest: TxnDigest,
}

/// The live server: a tree, the sessions it knows, and the log.
struct Live {
    tree: DataTree,
    log: Vec<Logged>,
    sessions: Vec<i64>,
    next_session: i64,
}

impl Live {
    fn zxid(&self) -> i64 {
        self.tree.last_zxid() + 1
    }

    fn apply(&mut self, session: i64, txn_type: OpCode, body: TxnBody) {
        let header = TxnHeader {
            client_id: session,
            cxid: 0,
            zxid: self.zxid(),
            time: 1_000_000 + self.zxid(),
            txn_type: txn_type.code(),
        };
        self.tree.apply(&header, &body);
        let digest = TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: self.tree.digest(),
        };
        self.log.push(Logged {
            header,
            body,
            digest,
        });
    }

    fn user_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .tree
            .nodes
            .keys()
            .filter(|p| !p.starts_with("/zookeeper"))
            .map(|p| p.to_string())
            .collect();
        paths.sort();
        paths
    }

    /// One random valid txn, built against the live tree the way prep would build it.
    fn step(&mut self, rng: &mut Rng) {
        let paths = self.user_paths();
        match rng.below(10) {
            0 => {
                let s = self.next_session;
                self.next_session += 1;
                self.sessions.push(s);
                self.apply(
                    s,
                    OpCode::CreateSession,
                    TxnBody::CreateSession(CreateSessionTxn { timeout: 4000 }),
                );
            }
            1 if !self.sessions.is_empty() => {
                let s = self.sessions.remove(rng.below(self.sessions.len()));
                let mut paths_to_delete: Vec<String> = self.tree.ephemerals(s).cloned().collect();
                paths_to_delete.sort();
                self.apply(
                    s,
                    OpCode::CloseSession,
                    TxnBody::CloseSession(CloseSessionTxn { paths_to_delete }),
                );
            }
            2 | 3 => {
                // delete a leaf
                let leaves: Vec<&String> = paths
                    .iter()
                    .filter(|p| *p != "/" && self.tree.get(p).unwrap().children.is_empty())
                    .collect();
                if leaves.is_empty() {
                    return;
                }
                let path = leaves[rng.below(leaves.len())].clone();
                self.apply(0, OpCode::Delete, TxnBody::Delete(DeleteTxn { path }));
            }
            4 | 5 => {
                let path = paths[rng.below(paths.len())].clone();
                let version = self.tree.get(&path).unwrap().stat.version + 1;
                let data = Some(Bytes::from(format!("v{}", rng.below(1000))));
                self.apply(
                    0,
                    OpCode::SetData,
                    TxnBody::SetData(SetDataTxn {
                        path,
                        data,
                        version,
                    }),
                );
            }
            6 => {
                let path = paths[rng.below(paths.len())].clone();
                let version = self.tree.get(&path).unwrap().stat.aversion + 1;
                let acl = if rng.chance(50) {
                    Acl::open_unsafe()
                } else {
                    vec![Acl::new(perms::ALL, Id::anyone())]
                };
                self.apply(
                    0,
                    OpCode::SetAcl,
                    TxnBody::SetAcl(SetAclTxn { path, acl, version }),
                );
            }
            _ => {
                // create under a non-ephemeral node: a few fixed names (so deleted names come
                // back, maybe as another session's ephemeral) or a sequential one
                let parents: Vec<&String> = paths
                    .iter()
                    .filter(|p| self.tree.get(p).unwrap().stat.ephemeral_owner == 0)
                    .filter(|p| p.matches('/').count() < 4)
                    .collect();
                let parent = parents[rng.below(parents.len())].clone();
                let pstat = self.tree.get(&parent).unwrap().stat.clone();
                let name = if rng.chance(30) {
                    format!("seq{:010}", pstat.cversion)
                } else {
                    format!("n{}", rng.below(4))
                };
                let path = child_path(&parent, &name);
                if self.tree.get(&path).is_some() {
                    return;
                }
                let owner = if !self.sessions.is_empty() && rng.chance(40) {
                    self.sessions[rng.below(self.sessions.len())]
                } else {
                    0
                };
                let txn_type = if rng.chance(50) {
                    OpCode::Create
                } else {
                    OpCode::Create2
                };
                self.apply(
                    owner,
                    txn_type,
                    TxnBody::Create(CreateTxn {
                        path,
                        data: Some(Bytes::from_static(b"data")),
                        acl: Acl::open_unsafe(),
                        ephemeral: owner != 0,
                        parent_cversion: pstat.cversion + 1,
                    }),
                );
            }
        }
    }
}

/// `DataTree.serializeNode`, depth first, with txns applied between node visits.
fn fuzzy_snapshot(live: &mut Live, rng: &mut Rng, busy: u64) -> (i64, Vec<SnapshotNode>) {
    let name_zxid = live.tree.last_zxid();
    let mut sessions: Vec<(i64, i32)> =
        live.tree.sessions().iter().map(|(k, v)| (*k, *v)).collect();
    sessions.sort();
    let mut out = Vec::new();
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        while rng.chance(busy) {
            live.step(rng);
        }
        let Some(n) = live.tree.get(&path) else {
            continue;
        };
        for c in n.children.iter().rev() {
            stack.push(child_path(&path, c));
        }
        out.push(SnapshotNode {
            path: path.as_str().into(),
            data: n.data.clone(),
            acl: n.acl.clone(),
            stat: n.stat.persisted(),
        });
    }
    (name_zxid, out)
}

fn assert_same(replayed: &DataTree, live: &DataTree, seed: u64) {
    let mut a: Vec<&str> = replayed.nodes.keys().map(|k| &**k).collect();
    let mut b: Vec<&str> = live.nodes.keys().map(|k| &**k).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "seed {seed}: paths");
    for p in b {
        let (x, y) = (replayed.get(p).unwrap(), live.get(p).unwrap());
        assert_eq!(x.stat, y.stat, "seed {seed}: stat of {p}");
        assert_eq!(x.data, y.data, "seed {seed}: data of {p}");
        assert_eq!(x.acl.to_vec(), y.acl.to_vec(), "seed {seed}: acl of {p}");
        assert_eq!(x.children, y.children, "seed {seed}: children of {p}");
    }
    assert_eq!(
        replayed.sessions(),
        live.sessions(),
        "seed {seed}: sessions"
    );
    assert_eq!(
        replayed.all_ephemerals(),
        live.all_ephemerals(),
        "seed {seed}: ephemerals"
    );
    assert_eq!(replayed.containers(), live.containers());
    assert_eq!(replayed.digest(), live.digest(), "seed {seed}: digest");
    assert_eq!(replayed.last_zxid(), live.last_zxid());
}

fn run(seed: u64, busy: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut live = Live {
        tree: DataTree::new(),
        log: Vec::new(),
        sessions: Vec::new(),
        next_session: 0x100,
    };
    for _ in 0..rng.below(150) + 20 {
        live.step(&mut rng);
    }
    let (name_zxid, nodes) = fuzzy_snapshot(&mut live, &mut rng, busy);
    let end = live.tree.snapshot_digest();
    for _ in 0..rng.below(40) {
        live.step(&mut rng);
    }
    // The sessions a snapshot carries are those at its start (Apache writes them first).
    let sessions_at_start: Vec<(i64, i32)> = {
        let mut t = DataTree::new();
        for l in live.log.iter().filter(|l| l.header.zxid <= name_zxid) {
            t.apply(&l.header, &l.body);
        }
        t.sessions().iter().map(|(k, v)| (*k, *v)).collect()
    };
    let mut replayed = DataTree::from_snapshot(nodes, sessions_at_start, name_zxid);
    replayed.load_snapshot_digest(end);
    for l in live.log.iter().filter(|l| l.header.zxid > name_zxid) {
        replayed.apply(&l.header, &l.body);
        assert!(
            replayed.compare_digest(&l.header, Some(&l.digest)),
            "seed {seed}: digest of {:#x}",
            l.header.zxid
        );
    }
    assert_eq!(replayed.uncovered_snapshot_digest(), None, "seed {seed}");
    assert_eq!(replayed.digest_mismatches(), 0, "seed {seed}");
    assert_same(&replayed, &live.tree, seed);
}

#[test]
fn replay_over_fuzzy_snapshots_converges() {
    for seed in 0..400 {
        run(seed, [10, 40, 80][seed as usize % 3]);
    }
}

#[test]
fn replay_over_an_exact_snapshot_converges() {
    for seed in 1000..1100 {
        run(seed, 0);
    }
}

#[test]
fn create_over_an_existing_node_raises_parent_cversion() {
    // closeSession deleted /p/e and another session re-created it after /p was serialized:
    // the snapshot holds the new /p/e, and replaying the first create finds it.
    let mut t = DataTree::new();
    let h = |zxid, t: OpCode| TxnHeader {
        client_id: 0,
        cxid: 0,
        zxid,
        time: zxid,
        txn_type: t.code(),
    };
    let create = |path: &str, cv| {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: cv,
        })
    };
    t.apply(&h(1, OpCode::Create), &create("/p", 1));
    t.apply(&h(2, OpCode::Create), &create("/p/e", 1));
    let before = t.get("/p").unwrap().stat.clone();
    let r = t.apply(&h(3, OpCode::Create), &create("/p/e", 5));
    assert_eq!(r.result, TxnResult::Error(zk_proto::ErrorCode::NodeExists));
    let p = t.get("/p").unwrap();
    assert_eq!((p.stat.cversion, p.stat.pzxid), (5, 3));
    assert_ne!(p.stat, before);
    // create2 txns are left alone, as Apache's processTxn only adjusts for create.
    let r = t.apply(&h(4, OpCode::Create2), &create("/p/e", 9));
    assert_eq!(r.result, TxnResult::Error(zk_proto::ErrorCode::NodeExists));
    assert_eq!(t.get("/p").unwrap().stat.cversion, 5);
    // A delete of a missing child still raises the parent's pzxid.
    let r = t.apply(
        &h(5, OpCode::Delete),
        &TxnBody::Delete(DeleteTxn {
            path: "/p/gone".into(),
        }),
    );
    assert_eq!(r.result, TxnResult::Error(zk_proto::ErrorCode::NoNode));
    assert_eq!(t.get("/p").unwrap().stat.pzxid, 5);
    let mut digest = zk_storage::TreeDigest::default();
    for (path, _) in t.nodes.iter() {
        digest.add(t.node_digest(path));
    }
    assert_eq!(digest.value(), t.digest(), "the running digest stays exact");
}
