//! The election port (Apache `QuorumCnxManager`): one TCP connection per pair of peers, carrying FLE
//! notifications in both directions.
//!
//! - A connecting peer first writes an [`InitialMessage`] (V1: sid and its election address), then
//!   length-framed notifications.
//! - **Only a connection from the larger sid survives.** The accepting side closes a connection from a
//!   smaller sid and dials it back; a peer that needs to talk to a larger sid dials it, says hello and
//!   hangs up, so that the larger one dials back ([`zk_proto::quorum`] module docs).
//! - One task per remote peer owns that peer's connection and a send slot holding only the **latest**
//!   notification (Apache's send queue has capacity 1: an older vote is superseded by a newer one).
//!   A failed send is retried with back-off until it goes out or is superseded. Notifications may be
//!   lost, duplicated or reordered; fast leader election tolerates it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, trace, Instrument};
use zk_proto::quorum::{ElectionCodec, ElectionItem, InitialMessage};
use zk_zab::{Notification, PeerId};

use super::event::NetEvent;
use super::wire;
use super::QuorumConfig;

/// How long a dial may take (Apache `zookeeper.cnxTimeout` default: 5000 ms; loopback needs less).
pub const ELECTION_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an accepted connection may take to send its initial message.
pub const INITIAL_MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay of an unsent notification; doubles up to [`MAX_RETRY_DELAY`].
pub const MIN_RETRY_DELAY: Duration = Duration::from_millis(50);
/// Longest retry delay of an unsent notification.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

type Reader = FramedRead<OwnedReadHalf, ElectionCodec>;

/// One remote peer's slot, shared between the driver (which fills it), the listener (which hands over
/// accepted connections) and the peer's task.
struct Slot {
    latest: std::sync::Mutex<Option<Bytes>>,
    incoming: std::sync::Mutex<Option<(Reader, OwnedWriteHalf)>>,
    wake: Notify,
    dial_back: std::sync::atomic::AtomicBool,
    /// The id of a connection whose reader ended (the peer hung up): close it before the next send.
    dead: std::sync::atomic::AtomicU64,
}

/// The election-port side of one peer: a listener and a task per remote peer.
pub struct ElectionNet {
    slots: BTreeMap<PeerId, Arc<Slot>>,
    config_text: Bytes,
    cancel: CancellationToken,
}

impl ElectionNet {
    /// Binds this peer's election port and starts the tasks. Notifications received go to `events`.
    pub async fn start(
        cfg: &QuorumConfig,
        events: mpsc::UnboundedSender<NetEvent>,
        cancel: CancellationToken,
    ) -> std::io::Result<ElectionNet> {
        let listener = TcpListener::bind(cfg.me().election_addr()).await?;
        let my_id = cfg.my_id;
        let hello = InitialMessage::V1 {
            sid: my_id.0 as i64,
            election_addr: cfg.me().election_addr(),
        };
        let mut slots = BTreeMap::new();
        for p in cfg.peers.values().filter(|p| p.id != my_id) {
            let slot = Arc::new(Slot {
                latest: Default::default(),
                incoming: Default::default(),
                wake: Notify::new(),
                dial_back: Default::default(),
                dead: Default::default(),
            });
            slots.insert(p.id, slot.clone());
            let task = PeerTask {
                my_id,
                peer: p.id,
                addr: p.election_addr(),
                hello: hello.clone(),
                slot,
                events: events.clone(),
                cancel: cancel.clone(),
                reader: None,
                writer: None,
                conn_id: 0,
            };
            tokio::spawn(
                task.run()
                    .instrument(info_span!("election", me = %my_id, peer = %p.id)),
            );
        }
        tokio::spawn(
            accept_loop(listener, my_id, slots.clone(), cancel.clone())
                .instrument(info_span!("election-listener", me = %my_id)),
        );
        Ok(ElectionNet {
            slots,
            config_text: Bytes::from(cfg.config_text()),
            cancel,
        })
    }

    /// Queues `n` for `to`, replacing an unsent older notification.
    pub fn send(&self, to: PeerId, n: &Notification) {
        let Some(slot) = self.slots.get(&to) else {
            return;
        };
        let w = wire::notification_to_wire(n, &self.config_text);
        let payload = w.to_bytes();
        let mut frame = BytesMut::with_capacity(4 + payload.len());
        frame.put_i32(payload.len() as i32);
        frame.put_slice(&payload);
        *slot.latest.lock().expect("slot lock") = Some(frame.freeze());
        slot.wake.notify_one();
    }
}

impl Drop for ElectionNet {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    my_id: PeerId,
    slots: BTreeMap<PeerId, Arc<Slot>>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, addr)) = accepted else {
            continue;
        };
        let slots = slots.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let (r, w) = stream.into_split();
            let mut reader = FramedRead::new(r, ElectionCodec::accepting());
            let first = tokio::time::timeout(INITIAL_MESSAGE_TIMEOUT, reader.next()).await;
            let Ok(Some(Ok(ElectionItem::Initial(hello)))) = first else {
                debug!(%addr, "election connection without an initial message");
                return;
            };
            let sid = PeerId(hello.sid() as u64);
            let Some(slot) = slots.get(&sid) else {
                debug!(%addr, %sid, "election connection from an unknown sid");
                return;
            };
            if sid < my_id {
                // Larger sid wins: drop it and dial back.
                trace!(%sid, "smaller sid connected; dialling back");
                slot.dial_back
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            } else {
                *slot.incoming.lock().expect("slot lock") = Some((reader, w));
            }
            slot.wake.notify_one();
        });
    }
}

struct PeerTask {
    my_id: PeerId,
    peer: PeerId,
    addr: String,
    hello: InitialMessage,
    slot: Arc<Slot>,
    events: mpsc::UnboundedSender<NetEvent>,
    cancel: CancellationToken,
    reader: Option<AbortHandle>,
    writer: Option<OwnedWriteHalf>,
    conn_id: u64,
}

impl PeerTask {
    async fn run(mut self) {
        let mut delay = MIN_RETRY_DELAY;
        let mut retry_at: Option<tokio::time::Instant> = None;
        loop {
            let sleep = async {
                match retry_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = self.slot.wake.notified() => {}
                _ = sleep => { retry_at = None; }
            }
            if self.slot.dead.load(std::sync::atomic::Ordering::SeqCst) == self.conn_id {
                self.close();
            }
            let incoming = self.slot.incoming.lock().expect("slot lock").take();
            if let Some((reader, writer)) = incoming {
                self.install(reader, writer);
            }
            let dial_back = self
                .slot
                .dial_back
                .swap(false, std::sync::atomic::Ordering::SeqCst);
            if dial_back && self.writer.is_none() {
                self.dial().await;
            }
            let pending = self.slot.latest.lock().expect("slot lock").clone();
            let Some(frame) = pending else { continue };
            if self.writer.is_none() {
                self.dial().await;
            }
            let sent = match self.writer.as_mut() {
                Some(w) => w.write_all(&frame).await.is_ok(),
                None => false,
            };
            if sent {
                let mut latest = self.slot.latest.lock().expect("slot lock");
                if latest.as_ref() == Some(&frame) {
                    *latest = None;
                }
                delay = MIN_RETRY_DELAY;
                if latest.is_some() {
                    self.slot.wake.notify_one();
                }
            } else {
                self.close();
                retry_at = Some(tokio::time::Instant::now() + delay);
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
        self.close();
    }

    fn install(&mut self, reader: Reader, writer: OwnedWriteHalf) {
        self.close();
        let events = self.events.clone();
        let peer = self.peer;
        let cancel = self.cancel.clone();
        self.conn_id += 1;
        let (slot, id) = (self.slot.clone(), self.conn_id);
        let task = tokio::spawn(
            async move {
                read_loop(reader, peer, events, cancel).await;
                slot.dead.store(id, std::sync::atomic::Ordering::SeqCst);
                slot.wake.notify_one();
            }
            .in_current_span(),
        );
        self.reader = Some(task.abort_handle());
        self.writer = Some(writer);
        debug!("election connection up");
    }

    fn close(&mut self) {
        if let Some(r) = self.reader.take() {
            r.abort();
        }
        self.writer = None;
    }

    /// Dials the peer. To a smaller sid the connection is kept; to a larger one we only say hello and
    /// hang up, and it dials back.
    async fn dial(&mut self) {
        let connect =
            tokio::time::timeout(ELECTION_CONNECT_TIMEOUT, TcpStream::connect(&self.addr));
        let Ok(Ok(stream)) = connect.await else {
            trace!(addr = %self.addr, "election dial failed");
            return;
        };
        let _ = stream.set_nodelay(true);
        let mut hello = BytesMut::new();
        self.hello.write(&mut hello);
        let (r, mut w) = stream.into_split();
        if w.write_all(&hello).await.is_err() {
            return;
        }
        if self.peer < self.my_id {
            self.install(FramedRead::new(r, ElectionCodec::connecting()), w);
        } else {
            let _ = w.shutdown().await;
        }
    }
}

async fn read_loop(
    mut reader: Reader,
    from: PeerId,
    events: mpsc::UnboundedSender<NetEvent>,
    cancel: CancellationToken,
) {
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => return,
            item = reader.next() => item,
        };
        match item {
            Some(Ok(ElectionItem::Frame(payload))) => {
                // Apache drops a notification it cannot read and keeps the connection.
                let Ok(n) = zk_proto::quorum::Notification::decode(&payload) else {
                    continue;
                };
                let n = wire::notification_from_wire(&n);
                if events.send(NetEvent::Notification { from, n }).is_err() {
                    return;
                }
            }
            Some(Ok(ElectionItem::Initial(_))) => {}
            Some(Err(_)) | None => return,
        }
    }
}
