//! [`Ledger`]: what every acknowledged write promised, path by path, and [`write_batch`], the writes
//! one session makes in one round of a test.
//!
//! The batches run while the ensemble is healthy, so every request must succeed (or fail with the
//! one error the test provoked); each acknowledged result goes into the ledger, which is then checked
//! against what each server reads back, and at the end against each server's whole tree.

use std::collections::BTreeMap;

use futures::future::join_all;
use zk_client::{Client, CreateMode, CreateOptions, Error, OpResult, Stat};

use super::session::MovableSession;
use super::tree::Tree;

/// The parent of everything the batches write.
pub const ROOT: &str = "/mixed";

/// Where every session creates sequential nodes, so their sequence numbers interleave.
pub const SHARED: &str = "/mixed/shared";

/// Sequential children each batch creates under its own round node.
const SEQUENTIAL_PER_ROUND: usize = 3;

/// What a path must be, after the acknowledged writes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// It exists with this data, data version and ephemeral owner (0 for persistent nodes).
    Present {
        /// The data last written.
        data: Vec<u8>,
        /// Its data version.
        version: i32,
        /// The owning session of an ephemeral, else 0.
        owner: i64,
    },
    /// It does not exist (deleted, its session closed, or a failed multi's create).
    Absent,
}

/// Expectations by path, plus the number of acknowledged writes behind them.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    paths: BTreeMap<String, Expect>,
    acks: usize,
}

impl Ledger {
    /// Acknowledged writes recorded so far.
    pub fn acks(&self) -> usize {
        self.acks
    }

    /// Paths with an expectation.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// The expected data version of `path`.
    ///
    /// # Panics
    /// If the ledger does not hold it as present.
    pub fn version(&self, path: &str) -> i32 {
        match self.paths.get(path) {
            Some(Expect::Present { version, .. }) => *version,
            other => panic!("{path} is not in the ledger as present: {other:?}"),
        }
    }

    /// A create (or setData) was acknowledged with `stat`.
    pub fn present(&mut self, path: &str, data: &[u8], stat: &Stat) {
        self.acks += 1;
        self.paths.insert(
            path.to_owned(),
            Expect::Present {
                data: data.to_vec(),
                version: stat.version,
                owner: stat.ephemeral_owner,
            },
        );
    }

    /// A delete was acknowledged, or a failed write must have left `path` absent.
    pub fn absent(&mut self, path: &str, acknowledged: bool) {
        self.acks += usize::from(acknowledged);
        self.paths.insert(path.to_owned(), Expect::Absent);
    }

    /// The session `owner` was closed: its ephemerals are gone.
    pub fn session_closed(&mut self, owner: i64) {
        self.acks += 1;
        for e in self.paths.values_mut() {
            if matches!(e, Expect::Present { owner: o, .. } if *o == owner) {
                *e = Expect::Absent;
            }
        }
    }

    /// Adds a batch's results (its paths are its own, so order between batches does not matter).
    pub fn merge(&mut self, other: Ledger) {
        self.acks += other.acks;
        self.paths.extend(other.paths);
    }

    /// Checks every expectation against one server's whole tree.
    pub fn check_tree(&self, server: &str, tree: &Tree) -> Result<(), String> {
        let mut wrong = Vec::new();
        for (path, expect) in &self.paths {
            let found = tree.get(path);
            let ok = match (expect, found) {
                (Expect::Absent, None) => true,
                (
                    Expect::Present {
                        data,
                        version,
                        owner,
                    },
                    Some(n),
                ) => {
                    n.data == *data
                        && n.stat.version == *version
                        && n.stat.ephemeral_owner == *owner
                }
                _ => false,
            };
            if !ok {
                wrong.push(format!(
                    "{path}: expected {expect:?}, found {:?}",
                    found.map(|n| (
                        String::from_utf8_lossy(&n.data),
                        n.stat.version,
                        n.stat.ephemeral_owner
                    ))
                ));
            }
        }
        report(server, self.paths.len(), wrong)
    }

    /// Reads every path through `client` (`sync` first, so the server has caught up with the
    /// leader) and checks it.
    pub async fn check_reads(&self, server: &str, client: &Client) -> Result<(), String> {
        client
            .sync("/")
            .await
            .map_err(|e| format!("{server}: sync: {e}"))?;
        let paths: Vec<(&String, &Expect)> = self.paths.iter().collect();
        let reads = join_all(paths.iter().map(|(p, _)| client.get_data(p))).await;
        let mut wrong = Vec::new();
        for ((path, expect), read) in paths.into_iter().zip(reads) {
            let ok = match (expect, &read) {
                (Expect::Absent, Err(Error::NoNode)) => true,
                (
                    Expect::Present {
                        data,
                        version,
                        owner,
                    },
                    Ok((d, stat)),
                ) => d == data && stat.version == *version && stat.ephemeral_owner == *owner,
                _ => false,
            };
            if !ok {
                wrong.push(format!(
                    "{path}: expected {expect:?}, read {:?}",
                    read.map(|(d, s)| (
                        String::from_utf8_lossy(&d).into_owned(),
                        s.version,
                        s.ephemeral_owner
                    ))
                ));
            }
        }
        report(server, self.paths.len(), wrong)
    }
}

fn report(server: &str, total: usize, wrong: Vec<String>) -> Result<(), String> {
    if wrong.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{server}: {} of {total} acknowledged paths wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    ))
}

fn opts(mode: CreateMode) -> CreateOptions {
    CreateOptions::new(mode)
}

/// Creates [`ROOT`] and [`SHARED`] through `client`.
pub async fn create_roots(client: &Client, ledger: &mut Ledger) {
    for path in [ROOT, SHARED] {
        let (_, stat) = client
            .create(path, b"", &opts(CreateMode::Persistent))
            .await
            .unwrap_or_else(|e| panic!("create {path}: {e}"));
        ledger.present(path, b"", &stat);
    }
}

/// One session's writes for round `round`, through whichever server it is on (`via`, for
/// messages): creates (persistent, sequential, ephemeral, ephemeral sequential), versioned setData
/// (and a stale one that must fail), a create + versioned delete, a multi, and a multi that must fail
/// as a whole. Returns what was acknowledged; `ledger` supplies the versions written before.
///
/// # Panics
/// On any unexpected result: the ensemble is healthy while batches run.
pub async fn write_batch(s: &MovableSession, round: u32, via: &str, ledger: &Ledger) -> Ledger {
    let c = &s.client;
    let ctx = |op: &str| format!("{} round {round} via {via}: {op}", s.name);
    let mut out = Ledger::default();
    let home = format!("{ROOT}/{}", s.name);

    // The session's own node: created once, then one versioned setData per round.
    let home_data = format!("{}-r{round}", s.name).into_bytes();
    let home_stat = if round == 1 {
        c.create(&home, &home_data, &opts(CreateMode::Persistent))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", ctx("create home")))
            .1
    } else {
        let v = ledger.version(&home);
        let stat = c
            .set_data(&home, &home_data, Some(v))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", ctx("setData home")));
        assert_eq!(stat.version, v + 1, "{}", ctx("home version"));
        stat
    };
    out.present(&home, &home_data, &home_stat);

    // The round's node with sequential children; their suffixes count from the parent's cversion,
    // which every server must keep the same.
    let dir = format!("{home}/r{round}");
    let dir_data = format!("dir-r{round}").into_bytes();
    let (_, stat) = c
        .create(&dir, &dir_data, &opts(CreateMode::Persistent))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("create round node")));
    out.present(&dir, &dir_data, &stat);
    for k in 0..SEQUENTIAL_PER_ROUND {
        let data = format!("q{k}").into_bytes();
        let (path, stat) = c
            .create(
                &format!("{dir}/q-"),
                &data,
                &opts(CreateMode::PersistentSequential),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", ctx("create sequential")));
        assert_eq!(
            path,
            format!("{dir}/q-{k:010}"),
            "{}",
            ctx("sequence number")
        );
        out.present(&path, &data, &stat);
    }
    let shared_data = format!("{}-r{round}", s.name).into_bytes();
    let (path, stat) = c
        .create(
            &format!("{SHARED}/q-"),
            &shared_data,
            &opts(CreateMode::PersistentSequential),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("create shared sequential")));
    out.present(&path, &shared_data, &stat);

    // Ephemerals, owned by this session wherever it moves next.
    let eph = format!("{home}/e{round}");
    let (_, stat) = c
        .create(&eph, b"eph", &opts(CreateMode::Ephemeral))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("create ephemeral")));
    assert_eq!(stat.ephemeral_owner, s.id, "{}", ctx("ephemeral owner"));
    out.present(&eph, b"eph", &stat);
    let (path, stat) = c
        .create(
            &format!("{home}/es-"),
            b"eseq",
            &opts(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("create ephemeral sequential")));
    assert_eq!(stat.ephemeral_owner, s.id, "{}", ctx("ephemeral owner"));
    out.present(&path, b"eseq", &stat);

    // Versioned setData, and a stale one that must change nothing.
    let v1 = format!("dir-r{round}-v1").into_bytes();
    let stat = c
        .set_data(&dir, &v1, Some(0))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("setData v0")));
    assert_eq!(stat.version, 1, "{}", ctx("round node version"));
    out.present(&dir, &v1, &stat);
    let stale = c.set_data(&dir, b"stale", Some(0)).await;
    assert_eq!(
        stale.err(),
        Some(Error::BadVersion),
        "{}",
        ctx("stale setData")
    );

    // Create and delete with a version; a second delete finds nothing.
    let tmp = format!("{dir}/tmp");
    c.create(&tmp, b"tmp", &opts(CreateMode::Persistent))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("create tmp")));
    c.delete(&tmp, Some(0))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("delete tmp")));
    out.absent(&tmp, true);
    let again = c.delete(&tmp, Some(0)).await;
    assert_eq!(again.err(), Some(Error::NoNode), "{}", ctx("second delete"));

    // A multi: check + create + versioned setData + versioned delete, all or nothing.
    let m = format!("{dir}/m");
    let first_seq = format!("{dir}/q-{:010}", 0);
    let v2 = format!("dir-r{round}-v2").into_bytes();
    let results = c
        .multi()
        .check(&home, home_stat.version)
        .create(&m, b"multi", &opts(CreateMode::Persistent))
        .set_data(&dir, &v2, Some(1))
        .delete(&first_seq, Some(0))
        .commit()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", ctx("multi")));
    let [OpResult::Check, OpResult::Create { path, stat: mstat }, OpResult::SetData { stat: dstat }, OpResult::Delete] =
        &results[..]
    else {
        panic!("{}: {results:?}", ctx("multi results"));
    };
    assert_eq!(path, &m, "{}", ctx("multi create path"));
    assert_eq!(dstat.version, 2, "{}", ctx("multi setData version"));
    out.present(&m, b"multi", mstat);
    out.present(&dir, &v2, dstat);
    out.absent(&first_seq, true);

    // A multi whose check fails applies none of its ops.
    let failed = format!("{dir}/mfail");
    let r = c
        .multi()
        .create(&failed, b"never", &opts(CreateMode::Persistent))
        .check(&home, home_stat.version + 100)
        .commit()
        .await;
    assert!(
        matches!(&r, Err(Error::MultiFailed { index: 1, error }) if **error == Error::BadVersion),
        "{}: {r:?}",
        ctx("failing multi")
    );
    out.absent(&failed, false);
    out
}
