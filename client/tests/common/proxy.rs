//! A TCP proxy between a client and a server that a test can cut: `block()` closes every proxied
//! connection and refuses new ones (accept, then close) until `unblock()`. It disconnects a client
//! while the server keeps running, so another client can change things meanwhile.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    addr: SocketAddr,
    blocked: watch::Sender<bool>,
    target: Arc<Mutex<SocketAddr>>,
    refused: watch::Sender<usize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (blocked, _) = watch::channel(false);
        let target = Arc::new(Mutex::new(target));
        let (refused, _) = watch::channel(0);
        let accept = tokio::spawn(accept_loop(
            listener,
            blocked.clone(),
            target.clone(),
            refused.clone(),
        ));
        Proxy {
            addr,
            blocked,
            target,
            refused,
            accept,
        }
    }

    /// The address clients connect to.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Cuts every connection and refuses new ones.
    pub fn block(&self) {
        self.blocked.send_replace(true);
    }

    /// Accepts connections again.
    pub fn unblock(&self) {
        self.blocked.send_replace(false);
    }

    /// Waits until `n` connections in total have been refused while blocked.
    pub async fn wait_refused(&self, n: usize) {
        let _ = self.refused.subscribe().wait_for(|r| *r >= n).await;
    }

    /// Points new connections at another server.
    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.blocked.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    blocked: watch::Sender<bool>,
    target: Arc<Mutex<SocketAddr>>,
    refused: watch::Sender<usize>,
) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        if *blocked.borrow() {
            drop(client);
            refused.send_modify(|n| *n += 1);
            continue;
        }
        let target = *target.lock().unwrap();
        let mut rx = blocked.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(target).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = rx.wait_for(|b| *b) => {}
            }
        });
    }
}
