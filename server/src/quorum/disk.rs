//! The peer's data dir through zk-storage, in Apache 3.8's formats: what the core asks to make durable
//! (txn log appends with group commit, truncation, snapshots from SNAP, the epoch files), and what it
//! finds at start-up ([`PersistentState`]).
//!
//! Blocking `std::fs` I/O, called from the driver task: run the driver on a multi-threaded runtime.

use std::path::PathBuf;

use bytes::Bytes;
use tracing::info;
use zk_storage::{
    read_epoch, recover, write_epoch, write_snapshot, EpochFile, StorageError, TxnLog,
    TxnLogOptions,
};
use zk_zab::{Epoch, PersistentState, Txn, Zxid};

use super::snapshot;
use super::QuorumConfig;

/// The data dir of one peer.
pub struct Disk {
    data_dir: PathBuf,
    log: TxnLog,
    /// The last zxid in the log (appended, possibly not yet synced), or the snapshot/truncation point.
    last_logged: Zxid,
    /// Something changed the log since the last [`Disk::sync`].
    dirty: bool,
}

/// What the data dir held at start-up.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The core's durable state (`applied` = the snapshot's zxid: the state machine is rebuilt from the
    /// snapshot and re-applies committed txns as the core commits them again).
    pub state: PersistentState,
    /// The snapshot the state machine starts from.
    pub snapshot: Option<(Zxid, zk_storage::SnapshotData)>,
}

fn zx(v: i64) -> Zxid {
    Zxid(v as u64)
}

impl Disk {
    /// Opens the data dir, writing Apache's empty `snapshot.0` into a fresh one.
    pub fn open(cfg: &QuorumConfig) -> Result<(Disk, Restored), StorageError> {
        let mut recovered = recover(&cfg.data_dir, &cfg.data_log_dir)?;
        if recovered.is_empty() {
            let empty = snapshot::empty_tree();
            write_snapshot(&cfg.data_dir, 0, &empty)?;
            recovered.snapshot = Some((0, empty));
        }
        let log = TxnLog::open(
            &cfg.data_log_dir,
            TxnLogOptions {
                force_sync: cfg.force_sync,
                ..TxnLogOptions::default()
            },
        )?;
        let snapshot_zxid = recovered.snapshot.as_ref().map_or(0, |(z, _)| *z);
        let last = recovered.last_zxid();
        // Apache (`QuorumPeer.loadDataBase`): a missing currentEpoch is the epoch of the last zxid, a
        // missing acceptedEpoch is currentEpoch.
        let current = read_epoch(&cfg.data_dir, EpochFile::Current)?.unwrap_or(last >> 32);
        let accepted = read_epoch(&cfg.data_dir, EpochFile::Accepted)?.unwrap_or(current);
        let state = PersistentState {
            accepted_epoch: Epoch(accepted as u32),
            current_epoch: Epoch(current as u32),
            snapshot_zxid: zx(snapshot_zxid),
            log: recovered
                .txns
                .iter()
                .map(|t| Txn::new(zx(t.zxid()), t.to_bytes()))
                .collect(),
            applied: zx(snapshot_zxid),
        };
        info!(
            snapshot = %zx(snapshot_zxid), last = %zx(last), accepted, current,
            "quorum peer data dir restored"
        );
        let disk = Disk {
            data_dir: cfg.data_dir.clone(),
            log,
            last_logged: zx(last),
            dirty: false,
        };
        let restored = Restored {
            state,
            snapshot: recovered.snapshot.map(|(z, d)| (zx(z), d)),
        };
        Ok((disk, restored))
    }

    /// Appends txns (buffered until [`Disk::sync`]). Each payload is an encoded `TxnEntry`.
    pub fn append(&mut self, txns: &[Txn]) -> Result<(), StorageError> {
        for t in txns {
            self.log.append_bytes(&t.payload)?;
            self.last_logged = t.zxid;
        }
        self.dirty |= !txns.is_empty();
        Ok(())
    }

    /// Starts a new log segment with the next append.
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.log.roll()
    }

    /// Removes every txn after `zxid` (TRUNC).
    pub fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.log.truncate(zxid.0 as i64)?;
        self.last_logged = zxid;
        self.dirty = true;
        Ok(())
    }

    /// Installs a snapshot from SNAP: writes `snapshot.<zxid>` and drops logged txns after it; the next
    /// txn starts a new log segment.
    pub fn install_snapshot(&mut self, zxid: Zxid, stream: &Bytes) -> Result<(), StorageError> {
        let data = snapshot::stream_to_data(stream).map_err(StorageError::from)?;
        self.log.truncate(zxid.0 as i64)?;
        self.log.roll()?;
        write_snapshot(&self.data_dir, zxid.0 as i64, &data)?;
        self.last_logged = zxid;
        self.dirty = true;
        Ok(())
    }

    /// Group commit: makes every change since the last call durable (one fsync) and returns the zxid the
    /// log is durable up to, or `None` if nothing changed.
    pub fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        if !self.dirty {
            return Ok(None);
        }
        self.log.sync()?;
        self.dirty = false;
        Ok(Some(self.last_logged))
    }

    /// Writes both epoch files durably.
    pub fn persist_epochs(&mut self, accepted: Epoch, current: Epoch) -> Result<(), StorageError> {
        write_epoch(&self.data_dir, EpochFile::Accepted, accepted.0.into())?;
        write_epoch(&self.data_dir, EpochFile::Current, current.0.into())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use zk_proto::records::txn::CreateTxn;
    use zk_proto::{Acl, OpCode, TxnBody, TxnHeader};
    use zk_storage::LoggedTxn;
    use zk_zab::PeerId;

    use super::*;
    use crate::quorum::PeerAddr;

    fn cfg(dir: &std::path::Path) -> QuorumConfig {
        let me = PeerAddr {
            id: PeerId(1),
            host: "127.0.0.1".into(),
            quorum_port: 1,
            election_port: 2,
            observer: false,
            client: None,
        };
        QuorumConfig {
            my_id: PeerId(1),
            peers: BTreeMap::from([(PeerId(1), me)]),
            tick_time: Duration::from_millis(100),
            init_limit: 5,
            sync_limit: 2,
            ticks_per_tick_time: 10,
            data_dir: dir.to_path_buf(),
            data_log_dir: dir.to_path_buf(),
            force_sync: false,
        }
    }

    fn txn(zxid: Zxid) -> Txn {
        let entry = LoggedTxn {
            header: TxnHeader {
                client_id: 1,
                cxid: 1,
                zxid: zxid.0 as i64,
                time: 0,
                txn_type: OpCode::Create.code(),
            },
            body: TxnBody::Create(CreateTxn {
                path: format!("/t{}", zxid.counter()),
                data: None,
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_cversion: -1,
            }),
            digest: None,
        };
        Txn::new(zxid, entry.to_bytes())
    }

    #[test]
    fn append_truncate_snapshot_and_epochs_survive_a_restart() {
        let dir = zk_testkit::TestDir::new("quorum-disk").unwrap();
        let cfg = cfg(dir.path());
        let (mut disk, restored) = Disk::open(&cfg).unwrap();
        assert_eq!(restored.state, PersistentState::default());
        let z = |c| Zxid::new(Epoch(1), c);
        disk.append(&[txn(z(1)), txn(z(2)), txn(z(3))]).unwrap();
        assert_eq!(disk.sync().unwrap(), Some(z(3)));
        assert_eq!(disk.sync().unwrap(), None, "nothing new to sync");
        disk.truncate(z(2)).unwrap(); // TRUNC
        disk.append(&[txn(Zxid::new(Epoch(2), 1))]).unwrap();
        disk.persist_epochs(Epoch(2), Epoch(2)).unwrap();
        assert_eq!(disk.sync().unwrap(), Some(Zxid::new(Epoch(2), 1)));
        drop(disk);

        let (mut disk, restored) = Disk::open(&cfg).unwrap();
        let s = &restored.state;
        assert_eq!((s.accepted_epoch, s.current_epoch), (Epoch(2), Epoch(2)));
        let zxids: Vec<Zxid> = s.log.iter().map(|t| t.zxid).collect();
        assert_eq!(zxids, [z(1), z(2), Zxid::new(Epoch(2), 1)]);
        assert_eq!(s.log[1], txn(z(2)), "payload = the logged TxnEntry");

        // SNAP at 2.1 replaces everything; later txns go on top of it.
        let stream =
            crate::quorum::snapshot::data_to_stream(&crate::quorum::snapshot::empty_tree());
        disk.install_snapshot(Zxid::new(Epoch(2), 1), &stream)
            .unwrap();
        disk.append(&[txn(Zxid::new(Epoch(2), 2))]).unwrap();
        disk.sync().unwrap();
        drop(disk);
        let (_, restored) = Disk::open(&cfg).unwrap();
        assert_eq!(restored.state.snapshot_zxid, Zxid::new(Epoch(2), 1));
        assert_eq!(restored.state.applied, Zxid::new(Epoch(2), 1));
        let zxids: Vec<Zxid> = restored.state.log.iter().map(|t| t.zxid).collect();
        assert_eq!(zxids, [Zxid::new(Epoch(2), 2)]);
        assert_eq!(restored.snapshot.unwrap().1.nodes.len(), 3);
    }
}
