//! Running the server as an ensemble member: the glue between the quorum peer
//! ([`crate::quorum`], which decides what commits) and the server core (which owns the tree,
//! the sessions and the clients).
//!
//! A config with more than one `server.N` line and a `myid` file in the data dir starts a
//! quorum peer instead of the standalone log: `start_peer` restores the data dir through the
//! driver, loads its snapshot into a tree, and hands the core a `Replica` (the core's ensemble
//! state, `core/replica.rs`). The txn log belongs to the
//! driver; the core writes snapshots ([`SnapshotWriter`]) and the leader rebuilds state for
//! learners that need a SNAP ([`TreeSnapshots`]).

mod snapshots;

pub use snapshots::{SnapshotWriter, TreeSnapshots};

use tracing::info;
use zk_zab::PeerId;

use crate::config::{ConfigError, ServerConfig};
use crate::core::Replica;
use crate::error::ServerError;
use crate::persist::Recovered;
use crate::quorum::{self, read_myid, QuorumConfig, QuorumHandle};
use crate::server::{recover_tree, wall_millis};
use crate::session::initial_session_id;
use crate::tree::DataTree;

/// The version of a static configuration (no dynamic reconfig): `version=0`.
pub(crate) const STATIC_CONFIG_VERSION: i64 = 0;

/// A quorum peer started for the server core.
pub(crate) struct StartedPeer {
    pub(crate) handle: QuorumHandle,
    pub(crate) replica: Replica,
    /// The state in the peer's newest snapshot; the driver re-delivers the txns after it.
    pub(crate) tree: DataTree,
    pub(crate) first_session_id: i64,
    /// Where clients connect: the server line's `;host:port`, else clientPortAddress:clientPort.
    pub(crate) client_addr: String,
    pub(crate) snapshot_writer: SnapshotWriter,
}

/// Starts the quorum peer a config describes (see the module doc).
pub(crate) async fn start_peer(cfg: &ServerConfig) -> Result<StartedPeer, ServerError> {
    let my_id = read_myid(&cfg.data_dir)?;
    let qcfg = QuorumConfig::from_server_config(cfg, my_id)?;
    let voters = qcfg.peers.values().filter(|p| !p.observer).count();
    let client_addr = match qcfg.me().client.as_deref() {
        // `;2181`: a port alone binds every interface, as Apache does.
        Some(port) if port.parse::<u16>().is_ok() => format!("0.0.0.0:{port}"),
        Some(addr) => addr.to_string(),
        None => cfg.client_addr()?.to_string(),
    };
    let source = TreeSnapshots::new(
        cfg.data_dir.clone(),
        cfg.log_dir().to_path_buf(),
        cfg.digest_enabled,
    );
    let config_text = qcfg.config_text();
    let mut handle = quorum::start_with(qcfg, Box::new(source)).await?;
    let mut tree = match handle.take_restored_snapshot() {
        Some((zxid, data)) => recover_tree(
            Recovered {
                snapshot: Some(crate::durability::snapshot_state(zxid.0 as i64, data)),
                txns: Vec::new(),
            },
            cfg.digest_enabled,
        ),
        None => {
            let mut t = DataTree::new();
            t.set_digest_enabled(cfg.digest_enabled);
            t
        }
    };
    tree.set_config(config_text.as_bytes(), STATIC_CONFIG_VERSION, wall_millis());
    info!(
        myid = %my_id,
        voters,
        client = %client_addr,
        zxid = format_args!("{:#x}", tree.last_zxid()),
        "ensemble peer started"
    );
    let sender = handle.sender();
    let purge_retain = (cfg.purge_interval > 0)
        .then_some((cfg.snap_retain_count as usize).max(zk_storage::MIN_SNAP_RETAIN_COUNT));
    Ok(StartedPeer {
        replica: Replica::new(
            config_text,
            sender.clone(),
            handle.role(),
            voters,
            cfg.read_only_mode,
            u64::from(cfg.tick_time),
        ),
        handle,
        tree,
        first_session_id: initial_session_id(peer_byte(my_id)?, wall_millis()),
        client_addr,
        snapshot_writer: SnapshotWriter::new(
            cfg.data_dir.clone(),
            cfg.log_dir().to_path_buf(),
            purge_retain,
            sender,
        ),
    })
}

/// Session ids carry the server id in their top byte (`SessionTrackerImpl.initializeNextSessionId`).
fn peer_byte(id: PeerId) -> Result<u8, ConfigError> {
    u8::try_from(id.0).map_err(|_| {
        ConfigError::Invalid(format!("myid {} does not fit session ids (max 255)", id.0))
    })
}
