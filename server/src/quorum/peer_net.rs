//! The quorum port (Apache `Leader`'s `LearnerCnxAcceptor`, `LearnerHandler`, `Learner`): one TCP
//! connection per learner, opened by the learner, carrying bare jute `QuorumPacket`s
//! ([`QuorumCodec`]) and, after a SNAP, the snapshot stream.
//!
//! - The listener runs for the peer's whole life; an accepted connection's first packet must be
//!   FOLLOWERINFO / OBSERVERINFO, which names the learner. The driver decides whether to use it.
//! - A learner dials its leader when the core sends FOLLOWERINFO / OBSERVERINFO (retrying for
//!   `initLimit × tickTime`, as Apache's `connectToLeader`), and the hello is queued before the socket
//!   exists, so the core's send order is the wire order.
//! - **Connection generations.** Every connection gets a fresh [`Generation`]; its reports carry it and
//!   the driver drops reports of any generation but the peer's current one, so a closed connection's
//!   message is never delivered after a newer connection opened. Each connection reports its end once
//!   as [`NetEvent::Closed`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, Instrument};
use zk_proto::quorum::{QuorumCodec, QuorumItem};
use zk_proto::Record;
use zk_zab::{Message, PeerId};

use super::event::{Generation, NetEvent};
use super::wire::{self, Outgoing, Side};
use super::QuorumConfig;

/// Delay between a learner's attempts to reach its leader.
pub const LEARNER_CONNECT_RETRY: Duration = Duration::from_millis(50);
/// How long an accepted connection may take to send its FOLLOWERINFO / OBSERVERINFO.
pub const LEARNER_HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends on one quorum connection; dropping the last handle (or [`ConnHandle::close`]) closes it.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    gen: Generation,
    side: Side,
    tx: mpsc::UnboundedSender<Outgoing>,
    cancel: CancellationToken,
}

impl ConnHandle {
    /// The generation of this connection.
    pub fn generation(&self) -> Generation {
        self.gen
    }

    /// Which end this server is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Queues a packet (and trailer); written in call order.
    pub fn send(&self, out: Outgoing) {
        let _ = self.tx.send(out);
    }

    /// Closes the connection (both tasks end; the peer sees EOF).
    pub fn close(&self) {
        self.cancel.cancel();
    }
}

/// The quorum-port side of one peer: the listener, and the connections the driver keeps.
pub struct PeerNet {
    cfg: Arc<QuorumConfig>,
    events: mpsc::UnboundedSender<NetEvent>,
    cancel: CancellationToken,
    next_gen: Arc<AtomicU64>,
    conns: HashMap<PeerId, ConnHandle>,
}

impl PeerNet {
    /// Binds this peer's quorum port and starts accepting learners.
    pub async fn start(
        cfg: Arc<QuorumConfig>,
        events: mpsc::UnboundedSender<NetEvent>,
        cancel: CancellationToken,
    ) -> std::io::Result<PeerNet> {
        let listener = TcpListener::bind(cfg.me().quorum_addr()).await?;
        let next_gen = Arc::new(AtomicU64::new(1));
        tokio::spawn(
            accept_loop(listener, events.clone(), cancel.clone(), next_gen.clone())
                .instrument(info_span!("quorum-listener", me = %cfg.my_id)),
        );
        Ok(PeerNet {
            cfg,
            events,
            cancel,
            next_gen,
            conns: HashMap::new(),
        })
    }

    /// The current connection with `peer`, if any.
    pub fn conn(&self, peer: PeerId) -> Option<&ConnHandle> {
        self.conns.get(&peer)
    }

    /// Whether `gen` is the current connection with `peer`.
    pub fn is_current(&self, peer: PeerId, gen: Generation) -> bool {
        self.conns.get(&peer).is_some_and(|c| c.gen == gen)
    }

    /// Makes an accepted connection the current one with `peer` (closing an older one).
    pub fn install(&mut self, peer: PeerId, conn: ConnHandle) {
        if let Some(old) = self.conns.insert(peer, conn) {
            old.close();
        }
    }

    /// Closes the connection with `peer` if it is generation `gen` (or any, with `None`). Returns
    /// whether one was closed.
    pub fn close(&mut self, peer: PeerId, gen: Option<Generation>) -> bool {
        let matches = match (self.conns.get(&peer), gen) {
            (Some(c), Some(g)) => c.gen == g,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match self.conns.get(&peer) {
            Some(c) if matches => {
                c.close();
                self.conns.remove(&peer);
                true
            }
            _ => false,
        }
    }

    /// Closes every connection.
    pub fn close_all(&mut self) {
        for (_, c) in self.conns.drain() {
            c.close();
        }
    }

    /// Closes every connection except the one with `keep`.
    pub fn close_others(&mut self, keep: Option<PeerId>) {
        let drop: Vec<PeerId> = self
            .conns
            .keys()
            .copied()
            .filter(|p| Some(*p) != keep)
            .collect();
        for p in drop {
            self.close(p, None);
        }
    }

    /// Learner: opens a new connection to `leader` (closing any older one); the caller then queues the
    /// hello on it. A connection that cannot be made within `initLimit × tickTime` reports `Closed`.
    pub fn connect_learner(&mut self, leader: PeerId) -> Option<&ConnHandle> {
        let addr = self.cfg.peers.get(&leader)?.quorum_addr();
        let gen = self.next_gen.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = self.cancel.child_token();
        let handle = ConnHandle {
            gen,
            side: Side::Learner,
            tx,
            cancel: cancel.clone(),
        };
        self.install(leader, handle);
        let events = self.events.clone();
        let deadline = tokio::time::Instant::now() + self.cfg.connect_timeout();
        tokio::spawn(
            async move {
                let stream = tokio::select! {
                    _ = cancel.cancelled() => None,
                    s = dial_until(&addr, deadline) => s,
                };
                let Some(stream) = stream else {
                    let _ = events.send(NetEvent::Closed { peer: leader, gen });
                    return;
                };
                debug!(%addr, "connected to leader");
                let (r, w) = stream.into_split();
                tokio::spawn(
                    write_loop(w, rx, leader, gen, events.clone(), cancel.clone())
                        .in_current_span(),
                );
                let reader = FramedRead::new(r, QuorumCodec::learner());
                read_loop(reader, Side::Leader, leader, gen, events, cancel).await;
            }
            .instrument(info_span!("learner", me = %self.cfg.my_id, leader = %leader, gen)),
        );
        self.conns.get(&leader)
    }
}

impl Drop for PeerNet {
    fn drop(&mut self) {
        self.close_all();
    }
}

async fn dial_until(addr: &str, deadline: tokio::time::Instant) -> Option<TcpStream> {
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        if let Ok(Ok(s)) = tokio::time::timeout(left, TcpStream::connect(addr)).await {
            let _ = s.set_nodelay(true);
            return Some(s);
        }
        tokio::time::sleep(LEARNER_CONNECT_RETRY.min(left)).await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    events: mpsc::UnboundedSender<NetEvent>,
    cancel: CancellationToken,
    next_gen: Arc<AtomicU64>,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, addr)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let events = events.clone();
        let cancel = cancel.child_token();
        let gen = next_gen.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let (r, w) = stream.into_split();
            let mut reader = FramedRead::new(r, QuorumCodec::leader());
            let first = tokio::time::timeout(LEARNER_HELLO_TIMEOUT, reader.next()).await;
            let Ok(Some(Ok(QuorumItem::Packet(p)))) = first else {
                debug!(%addr, "learner connection without a hello");
                return;
            };
            let Ok((peer, hello)) = wire::decode_learner_hello(&p) else {
                debug!(%addr, "learner connection with a bad hello");
                return;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let conn = ConnHandle {
                gen,
                side: Side::Leader,
                tx,
                cancel: cancel.clone(),
            };
            let span = info_span!("learner-handler", peer = %peer, gen);
            tokio::spawn(
                write_loop(w, rx, peer, gen, events.clone(), cancel.clone())
                    .instrument(span.clone()),
            );
            if events
                .send(NetEvent::Accepted {
                    peer,
                    gen,
                    conn,
                    hello,
                })
                .is_err()
            {
                return;
            }
            read_loop(reader, Side::Learner, peer, gen, events, cancel)
                .instrument(span)
                .await;
        });
    }
}

/// Writes queued packets in order, batching what is queued into one write.
async fn write_loop(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    peer: PeerId,
    gen: Generation,
    events: mpsc::UnboundedSender<NetEvent>,
    cancel: CancellationToken,
) {
    let mut buf = BytesMut::new();
    loop {
        let out = tokio::select! {
            _ = cancel.cancelled() => break,
            out = rx.recv() => out,
        };
        let Some(mut out) = out else { break };
        loop {
            out.packet.write(&mut buf);
            if let Some(t) = &out.trailer {
                buf.extend_from_slice(t);
            }
            match rx.try_recv() {
                Ok(next) if buf.len() < 1 << 20 => out = next,
                Ok(next) => {
                    if w.write_all(&buf).await.is_err() {
                        cancel.cancel();
                        let _ = events.send(NetEvent::Closed { peer, gen });
                        return;
                    }
                    buf.clear();
                    out = next;
                }
                Err(_) => break,
            }
        }
        if w.write_all(&buf).await.is_err() {
            cancel.cancel();
            let _ = events.send(NetEvent::Closed { peer, gen });
            return;
        }
        buf.clear();
    }
    let _ = w.shutdown().await;
}

/// Reads packets from `sender`'s side, reports them, and reports the end once.
async fn read_loop(
    mut reader: FramedRead<tokio::net::tcp::OwnedReadHalf, QuorumCodec>,
    sender: Side,
    peer: PeerId,
    gen: Generation,
    events: mpsc::UnboundedSender<NetEvent>,
    cancel: CancellationToken,
) {
    let mut snap: Option<(zk_zab::Zxid, BytesMut)> = None;
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => break,
            item = reader.next() => item,
        };
        let msg = match item {
            Some(Ok(QuorumItem::Packet(p))) => {
                let decoded = match sender {
                    Side::Leader => wire::decode_from_leader(&p),
                    Side::Learner => wire::decode_from_learner(&p),
                };
                match decoded {
                    Ok(Message::Snap { zxid, .. }) => {
                        snap = Some((zxid, BytesMut::new()));
                        continue;
                    }
                    Ok(msg) => (
                        msg,
                        wire::leader_ping_zxid(&p).filter(|_| sender == Side::Leader),
                    ),
                    Err(e) => {
                        debug!(%e, "dropping the connection: bad packet");
                        break;
                    }
                }
            }
            Some(Ok(QuorumItem::Snapshot(item))) => {
                let Some((zxid, buf)) = snap.as_mut() else {
                    break;
                };
                item.write(buf);
                if item != zk_proto::quorum::SnapshotItem::End {
                    continue;
                }
                let zxid = *zxid;
                let data: Bytes = std::mem::take(buf).freeze();
                snap = None;
                (Message::Snap { zxid, data }, None)
            }
            Some(Err(e)) => {
                debug!(%e, "quorum connection failed");
                break;
            }
            None => break,
        };
        let (msg, ping_zxid) = msg;
        if events
            .send(NetEvent::Quorum {
                peer,
                gen,
                msg,
                ping_zxid,
            })
            .is_err()
        {
            break;
        }
    }
    cancel.cancel();
    let _ = events.send(NetEvent::Closed { peer, gen });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::io::AsyncReadExt;
    use zk_proto::quorum::LeaderMessage;

    use super::*;
    use crate::quorum::PeerAddr;

    fn peer(id: u64, quorum_port: u16) -> (PeerId, PeerAddr) {
        let addr = PeerAddr {
            id: PeerId(id),
            host: "127.0.0.1".into(),
            quorum_port,
            election_port: 0,
            observer: false,
            client: None,
        };
        (PeerId(id), addr)
    }

    #[tokio::test]
    async fn a_new_connection_supersedes_the_old_one_and_only_its_reports_count() {
        let leader = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cfg = QuorumConfig {
            my_id: PeerId(1),
            peers: BTreeMap::from([peer(1, 0), peer(2, leader.local_addr().unwrap().port())]),
            tick_time: Duration::from_millis(100),
            init_limit: 10,
            sync_limit: 5,
            ticks_per_tick_time: 10,
            data_dir: "/nonexistent".into(),
            data_log_dir: "/nonexistent".into(),
            force_sync: false,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut net = PeerNet::start(Arc::new(cfg), tx, CancellationToken::new())
            .await
            .unwrap();
        let g1 = net.connect_learner(PeerId(2)).unwrap().generation();
        let (mut s1, _) = leader.accept().await.unwrap();
        let g2 = net.connect_learner(PeerId(2)).unwrap().generation();
        let (mut s2, _) = leader.accept().await.unwrap();
        assert!(g2 > g1);
        assert!(!net.is_current(PeerId(2), g1));
        assert!(net.is_current(PeerId(2), g2));
        // The superseded connection is closed.
        let mut buf = [0u8; 64];
        assert_eq!(s1.read(&mut buf).await.unwrap(), 0);
        // The current one delivers, tagged with its generation; the old one only reports its end.
        let mut wire = BytesMut::new();
        LeaderMessage::UpToDate.to_packet().write(&mut wire);
        s2.write_all(&wire).await.unwrap();
        loop {
            match rx.recv().await.unwrap() {
                NetEvent::Quorum { gen, msg, .. } => {
                    assert_eq!((gen, msg), (g2, Message::UpToDate));
                    break;
                }
                NetEvent::Closed { peer, gen } => {
                    assert_eq!(gen, g1);
                    assert!(!net.close(peer, Some(gen)), "a stale close changes nothing");
                    assert!(net.is_current(PeerId(2), g2));
                }
                other => panic!("{other:?}"),
            }
        }
        // Closing the current connection ends it for the leader too.
        assert!(net.close(PeerId(2), Some(g2)));
        assert_eq!(s2.read(&mut buf).await.unwrap(), 0);
    }
}
