//! What the holders in the ensemble fault tests do while they hold, so that an overlap of two
//! holders shows in the server's record instead of depending on timing: increments of a counter
//! at the version read under the lock, occupancy marks of lease and read/write lock holders, and
//! a selector leader's fenced term entries. Every write is made with [`commit_as_holder`].

use zk_client::{Client, CreateOptions};
use zk_recipes::election::LeaderContext;
use zk_recipes::lock::{ExclusiveLock, FairLock, LockGuard, ReadWriteLock, Semaphore};
use zk_recipes::state::Ownership;
use zk_recipes::Error;

use super::ensemble::ensure;
use super::fenced::{applied, commit_as_holder, op_failed, Outcome, Probe, Violations};
use super::{read, DEADLINE};

// Locks: a counter incremented at the version read.

/// Either lock, for the same worker.
#[derive(Clone)]
pub enum AnyLock {
    Fair(FairLock),
    Exclusive(ExclusiveLock),
}

impl AnyLock {
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        match self {
            AnyLock::Fair(l) => l.acquire_timeout(DEADLINE).await,
            AnyLock::Exclusive(l) => l.acquire_timeout(DEADLINE).await,
        }
    }
}

/// One increment under the lock: read the counter, then create this increment's marker and write
/// value + 1 *at the version read*, in one multi. Under mutual exclusion nobody else writes the
/// counter between the read and the write, so a version conflict means two holders overlapped;
/// the marker tells an increment whose reply was lost apart. The fair lock's write is also guarded
/// by its node; the exclusive lock's node has a fixed name, so its holder writes only while its
/// guard reports ownership. Returns whether the increment is applied.
pub async fn increment(
    client: &Client,
    lock: &AnyLock,
    counter: &str,
    marker: &str,
    violations: &Violations,
) -> bool {
    let Ok(guard) = lock.acquire().await else {
        return false;
    };
    let Ok((data, stat)) = client.get_data(counter).await else {
        return false;
    };
    let value: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
    tokio::task::yield_now().await;
    let next = (value + 1).to_string();
    let mut ownership = guard.ownership_watch();
    let commit = || {
        let write = match lock {
            AnyLock::Fair(_) => guard.guarded_write().map(|w| {
                let w = w
                    .create(marker, b"", &CreateOptions::persistent())
                    .set_data(counter, next.as_bytes(), Some(stat.version));
                futures::future::Either::Left(w.commit())
            }),
            AnyLock::Exclusive(_) => match guard.ownership() {
                Ownership::Owned => {
                    let tx = client
                        .multi()
                        .create(marker, b"", &CreateOptions::persistent())
                        .set_data(counter, next.as_bytes(), Some(stat.version));
                    Ok(futures::future::Either::Right(async move {
                        tx.commit().await.map_err(Error::Client)
                    }))
                }
                Ownership::Unknown => Err(Error::Suspended),
                Ownership::Lost => Err(Error::LockLost(guard.path().to_owned())),
            },
        };
        async move { write?.await.map(drop) }
    };
    let outcome = commit_as_holder(client, &mut ownership, commit, Probe::Exists(marker)).await;
    match outcome {
        Outcome::Applied => true,
        Outcome::Lost => false,
        // An earlier attempt's write took effect after all (its reply was lost and the read-back
        // raced its commit).
        _ if op_failed(&outcome, 0, zk_client::Error::NodeExists) => true,
        _ if op_failed(&outcome, 1, zk_client::Error::BadVersion) => {
            violations.report(format!(
                "{marker}: the counter changed between the holder's read (version {}) and its \
                 write (token {})",
                stat.version,
                guard.fencing_token()
            ));
            false
        }
        Outcome::Rejected(e) => panic!("{marker}: increment rejected: {e}"),
    }
}

// Selector terms: three fenced entries per term.

pub const TERM_PHASES: [&str; 3] = ["start", "middle", "end"];

/// One selector term: three fenced writes (`t<token>-<phase>`, data = participant), each created
/// only while this leader's node exists. Returns whether the term ran to its end.
pub async fn term(ctx: &LeaderContext, who: usize, terms: &str) -> bool {
    let client = ctx.client().clone();
    let token = ctx.token().0;
    let mut ownership = ctx.ownership_watch();
    for phase in TERM_PHASES {
        let entry = format!("{terms}/t{token:020}-{phase}");
        let data = who.to_string();
        let commit = || {
            let write = ctx.guarded_write().map(|w| {
                w.create(&entry, data.as_bytes(), &CreateOptions::persistent())
                    .commit()
            });
            async move { write?.await.map(drop) }
        };
        match commit_as_holder(&client, &mut ownership, commit, Probe::Exists(&entry)).await {
            Outcome::Applied => {}
            Outcome::Lost => return false,
            Outcome::Rejected(e) => panic!("{entry}: {e}"),
        }
    }
    true
}

/// The terms' log in commit order (by czxid): (token, phase, participant).
pub async fn term_log(client: &Client, terms: &str) -> Vec<(i64, String, String)> {
    let names = read("terms", || client.get_children(terms)).await;
    let mut entries = Vec::new();
    for name in names {
        let (data, stat) = read("term entry", || client.get_data(&format!("{terms}/{name}"))).await;
        let (token, phase) = name[1..].split_once('-').unwrap();
        entries.push((
            stat.czxid,
            token.parse::<i64>().unwrap(),
            phase.to_owned(),
            String::from_utf8(data).unwrap(),
        ));
    }
    entries.sort();
    entries.into_iter().map(|(_, t, p, w)| (t, p, w)).collect()
}

// Semaphore leases and read/write lock holders: occupancy marks.

/// A tag unique within the test process, naming one attempt's occupancy mark.
pub fn fresh_tag(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{prefix}-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Where holders mark what they hold, each mark an ephemeral node created by a write guarded by
/// the holder's own lock node (so a holder that lost its node cannot mark, and a mark vanishes with
/// its holder's session together with the lock node):
/// - `slots/slot-<k>`, one per lease: a lease holder claims a free slot; a holder that finds every
///   slot taken proves more leases are held at once than the semaphore allows.
/// - `readers/<tag>`, `writers/<tag>`: a holder of the read or the write lock. Entering as a
///   writer checks, in the same multi, that neither directory changed since it found both empty;
///   entering as a reader checks that the writers' did not change since it found it empty. Every
///   entry and exit bumps its directory's data version, so any overlap fails someone's check.
pub struct Occupancy {
    /// The semaphore's lease count (how many slots there are).
    pub leases: usize,
    pub slots: String,
    pub readers: String,
    pub writers: String,
}

impl Occupancy {
    pub async fn create(client: &Client, base: &str, leases: usize) -> Self {
        let occupancy = Occupancy {
            leases,
            slots: format!("{base}/slots"),
            readers: format!("{base}/readers"),
            writers: format!("{base}/writers"),
        };
        for dir in [&occupancy.slots, &occupancy.readers, &occupancy.writers] {
            ensure(client, dir).await;
        }
        occupancy
    }
}

/// Claims a free slot for the lease `lease`; `None` if the lease was lost or (a violation) no slot
/// was free.
pub async fn claim_slot(
    client: &Client,
    lease: &LockGuard,
    occupancy: &Occupancy,
    tag: &str,
    violations: &Violations,
) -> Option<String> {
    let mut ownership = lease.ownership_watch();
    for k in 0..occupancy.leases {
        let slot = format!("{}/slot-{k}", occupancy.slots);
        let probe = Probe::Holds(&slot, tag.as_bytes());
        let commit = || {
            let write = lease.guarded_write().map(|w| {
                w.create(&slot, tag.as_bytes(), &CreateOptions::ephemeral())
                    .commit()
            });
            async move { write?.await.map(drop) }
        };
        let outcome = commit_as_holder(client, &mut ownership, commit, probe).await;
        match outcome {
            Outcome::Applied => return Some(slot),
            Outcome::Lost => return None,
            // Ours, if an earlier try's reply was lost; someone else's otherwise.
            _ if op_failed(&outcome, 0, zk_client::Error::NodeExists) => {
                if applied(client, probe).await {
                    return Some(slot);
                }
            }
            Outcome::Rejected(e) => panic!("{tag}: claim {slot}: {e}"),
        }
    }
    violations.report(format!(
        "{tag}: all {} slots taken by other lease holders while holding lease {} (token {})",
        occupancy.leases,
        lease.path(),
        lease.fencing_token()
    ));
    None
}

/// Enters the read/write lock's occupancy as a reader or a writer; `None` if the lock was lost or
/// (a violation) it overlaps another holder.
pub async fn enter_rw(
    client: &Client,
    guard: &LockGuard,
    occupancy: &Occupancy,
    write: bool,
    tag: &str,
    violations: &Violations,
) -> Option<String> {
    let (readers, readers_stat) = client
        .get_children_with_stat(&occupancy.readers)
        .await
        .ok()?;
    let (writers, writers_stat) = client
        .get_children_with_stat(&occupancy.writers)
        .await
        .ok()?;
    let role = if write { "writer" } else { "reader" };
    if !writers.is_empty() || (write && !readers.is_empty()) {
        violations.report(format!(
            "{tag}: {role} {} (token {}) found readers {readers:?} and writers {writers:?}",
            guard.path(),
            guard.fencing_token()
        ));
        return None;
    }
    let dir = if write {
        &occupancy.writers
    } else {
        &occupancy.readers
    };
    let mark = format!("{dir}/{tag}");
    let checks = if write { 2 } else { 1 };
    let mut ownership = guard.ownership_watch();
    let commit = || {
        let write_op = guard.guarded_write().map(|w| {
            let w = if write {
                w.check(&occupancy.readers, readers_stat.version)
            } else {
                w
            };
            w.check(&occupancy.writers, writers_stat.version)
                .create(&mark, b"", &CreateOptions::ephemeral())
                .set_data(dir, b"", None)
                .commit()
        });
        async move { write_op?.await.map(drop) }
    };
    let outcome = commit_as_holder(client, &mut ownership, commit, Probe::Exists(&mark)).await;
    match outcome {
        Outcome::Applied => Some(mark),
        Outcome::Lost => None,
        // An earlier try took effect after all.
        _ if op_failed(&outcome, checks, zk_client::Error::NodeExists) => Some(mark),
        Outcome::Rejected(Error::Client(zk_client::Error::MultiFailed { index, error }))
            if index < checks && *error == zk_client::Error::BadVersion =>
        {
            violations.report(format!(
                "{tag}: {role} {} (token {}): another holder entered meanwhile (check {index})",
                guard.path(),
                guard.fencing_token()
            ));
            None
        }
        Outcome::Rejected(e) => panic!("{tag}: enter as {role}: {e}"),
    }
}

/// Removes an occupancy mark (and bumps its directory's version, if given) while still holding.
pub async fn leave(client: &Client, guard: &LockGuard, mark: &str, bump: Option<&str>) {
    let mut ownership = guard.ownership_watch();
    let commit = || {
        let write = guard.guarded_write().map(|w| {
            let w = w.delete(mark, None);
            match bump {
                Some(dir) => w.set_data(dir, b"", None),
                None => w,
            }
            .commit()
        });
        async move { write?.await.map(drop) }
    };
    let outcome = commit_as_holder(client, &mut ownership, commit, Probe::Gone(mark)).await;
    match outcome {
        // Lost: the mark went with the session.
        Outcome::Applied | Outcome::Lost => {}
        _ if op_failed(&outcome, 0, zk_client::Error::NoNode) => {}
        Outcome::Rejected(e) => panic!("leave {mark}: {e}"),
    }
}

pub async fn lease_round(
    client: &Client,
    semaphore: &Semaphore,
    occupancy: &Occupancy,
    violations: &Violations,
) -> bool {
    let Ok(lease) = semaphore.acquire_timeout(DEADLINE).await else {
        return false;
    };
    let tag = fresh_tag("lease");
    let Some(slot) = claim_slot(client, &lease, occupancy, &tag, violations).await else {
        return false;
    };
    tokio::task::yield_now().await;
    leave(client, &lease, &slot, None).await;
    let _ = lease.release().await;
    true
}

pub async fn rw_round(
    client: &Client,
    rw: &ReadWriteLock,
    occupancy: &Occupancy,
    write: bool,
    violations: &Violations,
) -> bool {
    let guard = if write {
        rw.write_timeout(DEADLINE).await
    } else {
        rw.read_timeout(DEADLINE).await
    };
    let Ok(guard) = guard else {
        return false;
    };
    let tag = fresh_tag(if write { "writer" } else { "reader" });
    let Some(mark) = enter_rw(client, &guard, occupancy, write, &tag, violations).await else {
        return false;
    };
    tokio::task::yield_now().await;
    let dir = if write {
        &occupancy.writers
    } else {
        &occupancy.readers
    };
    leave(client, &guard, &mark, Some(dir)).await;
    let _ = guard.release().await;
    true
}
