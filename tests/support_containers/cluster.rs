//! N zk-server containers as one ensemble, with faults injected through Docker.
//!
//! Every member runs with host networking and binds its own free `127.0.0.1` ports (quorum,
//! election, client), named on its `server.N` line; the tests reach the members on those ports.
//!
//! | fault | Docker | what the member sees |
//! |---|---|---|
//! | [`kill`](ContainerCluster::kill) | `docker kill` (SIGKILL) | a crash; sockets closed by the kernel |
//! | [`stop`](ContainerCluster::stop) | `docker stop` (SIGTERM) | a graceful shutdown |
//! | [`start_member`](ContainerCluster::start_member) | `docker start` | a start on the same data volume |
//! | [`restart`](ContainerCluster::restart) | `docker stop` + `docker start` | a graceful restart |
//! | [`pause`](ContainerCluster::pause) | `docker pause` (cgroup freezer) | nothing: frozen, like a long GC pause. Its sockets still accept connections (the kernel does), and nothing answers |

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::try_join_all;
use testcontainers::bollard::query_parameters::KillContainerOptionsBuilder;
use testcontainers::runners::AsyncRunner;
use testcontainers::ContainerAsync;
use zk_testkit::ServerMode;

use super::image::ZkServerImage;
use super::{docker, four_letter, poll_until, server_mode};

/// How long a started or restarted member may take to answer `ruok` from the host.
pub const MEMBER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an ensemble may take to have a leader with every live member serving.
pub const QUORUM_TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds `docker stop` waits for a graceful exit before SIGKILL (Docker's default is 10).
pub const STOP_TIMEOUT_SECS: i32 = 10;

/// One ensemble member.
struct Member {
    id: u64,
    client: SocketAddr,
    container: ContainerAsync<ZkServerImage>,
}

/// An ensemble of zk-server containers; dropping it removes the containers and their volumes.
pub struct ContainerCluster {
    members: Vec<Member>,
}

impl ContainerCluster {
    /// Starts `n` members (ids 1..=n) concurrently, each configured by `configure` (tick time and
    /// other `ZOO_*` variables), and waits until each answers `ruok` and one of them leads.
    ///
    /// The members start together because a member may only answer once a quorum exists.
    pub async fn start(n: usize, configure: impl Fn(ZkServerImage) -> ZkServerImage) -> Self {
        let ports = zk_testkit::free_ports(3 * n).expect("free loopback ports");
        let servers: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{};127.0.0.1:{}",
                    i + 1,
                    ports[3 * i],
                    ports[3 * i + 1],
                    ports[3 * i + 2]
                )
            })
            .collect();
        let servers = servers.join(" ");
        let started = try_join_all((0..n).map(|i| {
            let image = configure(ZkServerImage::member(i as u64 + 1, &servers));
            image.request().start()
        }))
        .await
        .unwrap_or_else(|e| panic!("starting {n} zk-server containers ({servers}): {e}"));
        let members = started
            .into_iter()
            .enumerate()
            .map(|(i, container)| Member {
                id: i as u64 + 1,
                client: SocketAddr::from(([127, 0, 0, 1], ports[3 * i + 2])),
                container,
            })
            .collect();
        let cluster = ContainerCluster { members };
        cluster.wait_for_leader(QUORUM_TIMEOUT).await;
        cluster
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Member `i`'s `myid`.
    pub fn id(&self, i: usize) -> u64 {
        self.members[i].id
    }

    /// Member `i`'s client address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.members[i].client
    }

    /// Every member's client address, member 0 first.
    pub fn connect_string(&self) -> String {
        self.connect_string_from(0)
    }

    /// Every member's client address, member `first` first (for a client that should start there:
    /// zk-client with shuffling off tries the hosts in order).
    pub fn connect_string_from(&self, first: usize) -> String {
        let mut hosts = vec![self.addr(first).to_string()];
        hosts.extend(
            (0..self.len())
                .filter(|&i| i != first)
                .map(|i| self.addr(i).to_string()),
        );
        hosts.join(",")
    }

    /// Member `i`'s mode (`srvr`), `None` if it does not answer in time or is not serving.
    pub async fn mode(&self, i: usize) -> Option<ServerMode> {
        server_mode(self.addr(i)).await
    }

    /// The member that says it leads, if any.
    pub async fn leader(&self) -> Option<usize> {
        for i in 0..self.len() {
            if self.mode(i).await == Some(ServerMode::Leader) {
                return Some(i);
            }
        }
        None
    }

    /// Waits until one member leads and every other running, unpaused member follows (or observes)
    /// — `skip` members are not asked (killed or paused ones) — and returns the leader.
    pub async fn wait_for_leader_without(&self, skip: &[usize], timeout: Duration) -> usize {
        let found = poll_until(timeout, || async {
            let mut leader = None;
            for i in (0..self.len()).filter(|i| !skip.contains(i)) {
                match self.mode(i).await {
                    Some(ServerMode::Leader) => leader = Some(i),
                    Some(ServerMode::Follower) | Some(ServerMode::Observer) => {}
                    _ => return None,
                }
            }
            leader
        })
        .await;
        match found {
            Some(l) => l,
            None => panic!(
                "no leader with every member serving within {timeout:?} (skipping {skip:?})\n{}",
                self.describe().await
            ),
        }
    }

    /// [`wait_for_leader_without`](Self::wait_for_leader_without) with every member asked.
    pub async fn wait_for_leader(&self, timeout: Duration) -> usize {
        self.wait_for_leader_without(&[], timeout).await
    }

    /// Waits until member `i` reports `mode`.
    pub async fn wait_for_mode(&self, i: usize, mode: ServerMode, timeout: Duration) {
        if poll_until(timeout, || async {
            (self.mode(i).await == Some(mode)).then_some(())
        })
        .await
        .is_none()
        {
            panic!(
                "member {i} not {mode} within {timeout:?}\n{}",
                self.describe().await
            );
        }
    }

    /// SIGKILL member `i`'s server (`docker kill`): a crash. Its data volume stays.
    pub async fn kill(&self, i: usize) {
        let id = self.members[i].container.id();
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        docker()
            .await
            .kill_container(id, Some(options))
            .await
            .unwrap_or_else(|e| panic!("docker kill member {i}: {e}"));
    }

    /// Stops member `i` gracefully (`docker stop`: SIGTERM, SIGKILL after [`STOP_TIMEOUT_SECS`]).
    pub async fn stop(&self, i: usize) {
        self.members[i]
            .container
            .stop_with_timeout(Some(STOP_TIMEOUT_SECS))
            .await
            .unwrap_or_else(|e| panic!("docker stop member {i}: {e}"));
    }

    /// Starts a killed or stopped member again on its data volume and waits until it answers
    /// `ruok` from the host (testcontainers waits for readiness only on the first start).
    pub async fn start_member(&self, i: usize) {
        self.members[i]
            .container
            .start()
            .await
            .unwrap_or_else(|e| panic!("docker start member {i}: {e}"));
        self.wait_ruok(i, MEMBER_START_TIMEOUT).await;
    }

    /// Restarts member `i` (`docker stop`, then start) and waits until it answers `ruok`.
    pub async fn restart(&self, i: usize) {
        self.stop(i).await;
        self.start_member(i).await;
    }

    /// Freezes member `i` (`docker pause`).
    pub async fn pause(&self, i: usize) {
        self.members[i]
            .container
            .pause()
            .await
            .unwrap_or_else(|e| panic!("docker pause member {i}: {e}"));
    }

    /// Thaws member `i` (`docker unpause`).
    pub async fn unpause(&self, i: usize) {
        self.members[i]
            .container
            .unpause()
            .await
            .unwrap_or_else(|e| panic!("docker unpause member {i}: {e}"));
    }

    /// Whether member `i`'s container is running (a paused one counts as running).
    pub async fn is_running(&self, i: usize) -> bool {
        self.members[i]
            .container
            .is_running()
            .await
            .unwrap_or_else(|e| panic!("inspect member {i}: {e}"))
    }

    /// Member `i`'s exit code, once it has exited.
    pub async fn exit_code(&self, i: usize) -> Option<i64> {
        self.members[i]
            .container
            .exit_code()
            .await
            .unwrap_or_else(|e| panic!("inspect member {i}: {e}"))
    }

    /// Waits until member `i` answers `ruok` with `imok` from the host.
    pub async fn wait_ruok(&self, i: usize, timeout: Duration) {
        let addr = self.addr(i);
        let ok = poll_until(timeout, || async {
            matches!(four_letter(addr, "ruok").await.as_deref(), Ok("imok")).then_some(())
        })
        .await;
        if ok.is_none() {
            panic!(
                "member {i} did not answer ruok within {timeout:?}\n{}",
                self.describe().await
            );
        }
    }

    /// Member `i`'s server log (the container's stderr), for failure messages.
    pub async fn logs(&self, i: usize) -> String {
        match self.members[i].container.stderr_to_vec().await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("(no logs: {e})"),
        }
    }

    /// Every member's mode and the tail of its log.
    pub async fn describe(&self) -> String {
        const TAIL_LINES: usize = 30;
        let mut out = String::new();
        for i in 0..self.len() {
            let logs = self.logs(i).await;
            let lines: Vec<&str> = logs.lines().collect();
            let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
            out.push_str(&format!(
                "--- member {i} (myid {}, {}): {:?}\n{tail}\n",
                self.id(i),
                self.addr(i),
                self.mode(i).await
            ));
        }
        out
    }
}
