//! Accept loop: a semaphore bounds all connections, a per-IP count enforces maxClientCnxns, and
//! a broadcast channel stops everything.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, Semaphore};
use tracing::warn;

use super::conn::{self, ConnCtx};

/// Connection limits.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub max_per_ip: u32,
}

struct IpGuard {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = self.counts.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

/// Accepts connections until `shutdown` fires (subscribe before spawning, so a shutdown sent
/// right after start is not missed).
pub(crate) async fn serve(
    listener: TcpListener,
    ctx: Arc<ConnCtx>,
    limits: Limits,
    shutdown_tx: broadcast::Sender<()>,
    mut shutdown: broadcast::Receiver<()>,
) {
    let sem = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
    let next_id = AtomicU64::new(1);
    loop {
        let permit = tokio::select! {
            p = sem.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.recv() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.recv() => return,
        };
        let ip = peer.ip();
        {
            let mut m = per_ip.lock().expect("per-ip map");
            let n = m.entry(ip).or_insert(0);
            if limits.max_per_ip > 0 && *n >= limits.max_per_ip {
                warn!(%peer, limit = limits.max_per_ip, "too many connections from this IP; closing");
                drop(stream);
                continue;
            }
            *n += 1;
        }
        let guard = IpGuard {
            ip,
            counts: per_ip.clone(),
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let ctx = ctx.clone();
        let sd = shutdown_tx.subscribe();
        tokio::spawn(async move {
            conn::run(stream, id, peer, ctx, sd).await;
            drop(guard);
            drop(permit);
        });
    }
}
