//! One server of a [`TestCluster`](super::TestCluster), on its own thread with its own tokio runtime,
//! so that it can be crashed, frozen and restarted on its own, like a process.
//!
//! - The runtime is multi-threaded with **one worker**: the server's tasks all run on that worker
//!   (like a one-core process), and `block_in_place` inside the server keeps working. The node
//!   thread itself runs only the control loop (`block_on`), which takes [`Command`]s.
//! - **kill** crashes the server ([`ServerHandle::kill`](crate::ServerHandle::kill): nothing more is
//!   written, the log thread is joined) and then drops the runtime, which drops every task left (every
//!   socket closes). When [`NodeThread::kill`] returns, the ports can be bound again and the data dir
//!   reopened.
//! - **pause** parks a task on the worker that blocks it (a `std::sync::mpsc` receive) until resumed,
//!   so nothing in the server runs: no replies, no pings, no timers, like a long GC pause or
//!   `SIGSTOP`. The kernel still accepts connections and buffers bytes. Blocking threads (the log
//!   thread) keep running, as a JVM's native threads would.

use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info_span, Instrument};

use super::error::ClusterError;
use super::launch::{Launch, NodeSpec, Probe};

/// What the control loop is told.
enum Command {
    /// Crash.
    Kill,
    /// Stop gracefully.
    Shutdown,
    /// Freeze the worker; answer once it is blocked.
    Pause(oneshot::Sender<()>),
    /// Unfreeze the worker.
    Resume,
}

/// A running server thread. Dropping it kills the server and joins the thread.
pub(crate) struct NodeThread {
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
    exited: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
    probe: Probe,
}

impl NodeThread {
    /// Starts the thread, its runtime and the server; returns once the server is started (its
    /// ports are bound) or has failed to start.
    pub(crate) async fn start(spec: NodeSpec, launch: Launch) -> Result<NodeThread, ClusterError> {
        let id = spec.id;
        let (started_tx, started_rx) = oneshot::channel();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (exited_tx, exited) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("zk-server-{id}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name(format!("zk-server-{id}-worker"))
                    .enable_all()
                    .build();
                match rt {
                    Ok(rt) => {
                        let span = info_span!("node", id);
                        rt.block_on(
                            control_loop(spec, launch, started_tx, command_rx).instrument(span),
                        );
                        // Drops whatever the server left behind: every socket closes here.
                        drop(rt);
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(ClusterError::io("building a runtime", e)));
                    }
                }
                let _ = exited_tx.send(());
            })
            .map_err(|e| ClusterError::io(format!("spawning server {id}'s thread"), e))?;
        let mut exited = Some(exited);
        let mut thread = Some(thread);
        match started_rx.await {
            Ok(Ok(probe)) => Ok(NodeThread {
                id,
                commands,
                exited,
                thread,
                probe,
            }),
            failed => {
                // The thread is ending by itself: wait for it, so the ports are free again.
                wait_exit(id, &mut exited, &mut thread).await;
                Err(match failed {
                    Ok(Err(e)) => e,
                    _ => ClusterError::ThreadDied(id),
                })
            }
        }
    }

    /// How to read this server's role.
    pub(crate) fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Crashes the server; returns once its ports and data dir are released.
    pub(crate) async fn kill(mut self) {
        let _ = self.commands.send(Command::Kill);
        self.wait_exit().await;
    }

    /// Stops the server gracefully; returns once its ports and data dir are released.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.commands.send(Command::Shutdown);
        self.wait_exit().await;
    }

    /// Freezes the server; returns once its worker is blocked.
    pub(crate) async fn pause(&self) -> Result<(), ClusterError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Pause(tx))
            .map_err(|_| ClusterError::ThreadDied(self.id))?;
        rx.await.map_err(|_| ClusterError::ThreadDied(self.id))
    }

    /// Unfreezes the server.
    pub(crate) fn resume(&self) {
        let _ = self.commands.send(Command::Resume);
    }

    async fn wait_exit(&mut self) {
        wait_exit(self.id, &mut self.exited, &mut self.thread).await;
    }
}

/// Waits until the node thread has dropped its runtime, then joins it.
async fn wait_exit(
    id: u64,
    exited: &mut Option<oneshot::Receiver<()>>,
    thread: &mut Option<JoinHandle<()>>,
) {
    if let Some(exited) = exited.take() {
        let _ = exited.await;
    }
    if let Some(t) = thread.take() {
        // It has sent `exited` as its last act, or died: the join is immediate.
        if t.join().is_err() {
            debug!(id, "server thread panicked");
        }
    }
}

impl Drop for NodeThread {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.commands.send(Command::Kill);
            // The server runs on its own runtime, so blocking here cannot deadlock with it.
            let _ = t.join();
        }
    }
}

async fn control_loop(
    spec: NodeSpec,
    launch: Launch,
    started: oneshot::Sender<Result<Probe, ClusterError>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let id = spec.id;
    let service = match launch(spec).await {
        Ok((service, probe)) => {
            if started.send(Ok(probe)).is_err() {
                service.kill().await;
                return;
            }
            service
        }
        Err(source) => {
            let _ = started.send(Err(ClusterError::Start { id, source }));
            return;
        }
    };
    // Dropping the sender releases a paused worker.
    let mut paused: Option<std::sync::mpsc::Sender<()>> = None;
    loop {
        match commands.recv().await {
            Some(Command::Pause(ack)) => {
                if paused.is_some() {
                    let _ = ack.send(());
                    continue;
                }
                let (release, blocked) = std::sync::mpsc::channel::<()>();
                paused = Some(release);
                tokio::spawn(async move {
                    let _ = ack.send(());
                    // Deliberately blocks the runtime's only worker: this *is* the pause.
                    let _ = blocked.recv();
                });
                debug!("paused");
            }
            Some(Command::Resume) => {
                if paused.take().is_some() {
                    debug!("resumed");
                }
            }
            Some(Command::Shutdown) => {
                drop(paused);
                service.shutdown().await;
                return;
            }
            Some(Command::Kill) | None => {
                // A paused server is released first: its worker must run to let the kill finish
                // (tasks already woken may take one more step, as in a process unfrozen and then killed).
                drop(paused);
                service.kill().await;
                return;
            }
        }
    }
}
