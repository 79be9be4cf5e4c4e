//! Differential tests: the same scripted operations against Apache ZooKeeper 3.8 (Debian
//! package, via zk-testkit) and zk-server; replies and watch events must match once zxids are
//! made relative, times zeroed, session ids replaced by their connection index and child lists
//! sorted. Skips without Java (unless ZK_REQUIRE_APACHE=1).

mod common;

use bytes::Bytes;
use common::{create, get_data, Frame, Raw};
use zk_proto::records::auth::AuthPacket;
use zk_proto::records::children::GetChildrenRequest;
use zk_proto::records::node::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest,
    PathRequest, SetAclRequest, SetDataRequest,
};
use zk_proto::records::reconfig::ReconfigRequest;
use zk_proto::records::watches::{AddWatchRequest, RemoveWatchesRequest};
use zk_proto::{
    perms, Acl, Id, MultiOp, MultiRequest, MultiResult, RequestBody, ResponseBody, Stat,
};
use zk_server::Server;

/// One step: which connection sends what.
struct Step(usize, RequestBody);

fn p(path: &str) -> PathRequest {
    PathRequest { path: path.into() }
}

fn create_req(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl: Acl::open_unsafe(),
        flags,
    }
}

fn script() -> Vec<Step> {
    use RequestBody as R;
    let set = |path: &str, v: i32| {
        R::SetData(SetDataRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"new")),
            version: v,
        })
    };
    let del = |path: &str, v: i32| {
        R::Delete(DeleteRequest {
            path: path.into(),
            version: v,
        })
    };
    let kids = |path: &str, watch: bool| {
        R::GetChildren2(GetChildrenRequest {
            path: path.into(),
            watch,
        })
    };
    vec![
        // The special nodes.
        Step(0, get_data("/", false)),
        Step(0, kids("/", false)),
        Step(0, get_data("/zookeeper", false)),
        Step(0, kids("/zookeeper", false)),
        Step(0, get_data("/zookeeper/config", false)),
        Step(0, R::GetAcl(p("/zookeeper/config"))),
        Step(0, R::GetAcl(p("/zookeeper/quota"))),
        Step(0, set("/zookeeper/config", -1)),
        Step(0, del("/", -1)),
        Step(0, del("/zookeeper", -1)),
        Step(0, del("/zookeeper/config", -1)),
        Step(0, R::GetAllChildrenNumber(p("/"))),
        // CRUD and errors.
        Step(0, create("/d", b"x", 0)),
        Step(0, create("/d", b"x", 0)),
        Step(0, create("/nope/x", b"", 0)),
        Step(0, create("noslash", b"", 0)),
        Step(0, create("/a/../b", b"", 0)),
        Step(0, create("/d/", b"", 0)),
        Step(0, create("/bad-mode", b"", 7)),
        Step(0, R::Create2(create_req("/d/c2", 0))),
        Step(0, set("/d", 5)),
        Step(0, set("/d", 0)),
        Step(0, set("/missing", -1)),
        Step(0, del("/d", -1)),
        Step(0, del("/d/c2", 3)),
        // (A standalone check request makes Apache 3.8 drop the connection: its reply
        // serializes a null stat. zk-server answers it; it is left out here.)
        Step(
            0,
            R::Create(CreateRequest {
                acl: vec![],
                ..create_req("/noacl", 0)
            }),
        ),
        Step(
            0,
            R::Create(CreateRequest {
                acl: Acl::creator_all(),
                ..create_req("/authacl", 0)
            }),
        ),
        Step(
            0,
            R::Create(CreateRequest {
                acl: vec![Acl::new(perms::ALL, Id::new("digest", "nocolon"))],
                ..create_req("/badid", 0)
            }),
        ),
        // Sequential suffixes and cversion after deletes.
        Step(0, create("/s", b"", 0)),
        Step(0, R::Create2(create_req("/s/n-", 2))),
        Step(0, R::Create2(create_req("/s/n-", 2))),
        Step(0, del("/s/n-0000000000", -1)),
        Step(0, kids("/s", false)),
        Step(0, R::Create2(create_req("/s/n-", 2))),
        Step(0, kids("/s", false)),
        // Ephemerals.
        Step(0, R::Create2(create_req("/e", 1))),
        Step(0, create("/e/c", b"", 0)),
        Step(0, R::GetEphemerals(p("/"))),
        Step(1, R::GetEphemerals(p("/"))),
        // Containers and TTLs.
        Step(0, R::CreateContainer(create_req("/c", 4))),
        Step(0, R::Create2(create_req("/c/x", 0))),
        Step(
            0,
            R::CreateTtl(CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl: 100_000,
            }),
        ),
        Step(
            0,
            R::CreateTtl(CreateTtlRequest {
                path: "/t0".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl: 0,
            }),
        ),
        Step(0, R::Create2(create_req("/ttl-plain", 5))),
        Step(0, get_data("/t", false)),
        // Multi: success, then a failure in the middle.
        Step(
            0,
            R::Multi(MultiRequest {
                ops: vec![
                    MultiOp::Create(create_req("/m", 0)),
                    MultiOp::Create2(create_req("/m/a", 0)),
                    MultiOp::SetData(SetDataRequest {
                        path: "/m".into(),
                        data: None,
                        version: 0,
                    }),
                    MultiOp::Check(CheckVersionRequest {
                        path: "/m".into(),
                        version: 1,
                    }),
                    MultiOp::Delete(DeleteRequest {
                        path: "/m/a".into(),
                        version: -1,
                    }),
                ],
            }),
        ),
        Step(
            0,
            R::Multi(MultiRequest {
                ops: vec![
                    MultiOp::Create(create_req("/m2", 0)),
                    MultiOp::Delete(DeleteRequest {
                        path: "/nothing".into(),
                        version: -1,
                    }),
                    MultiOp::Create(create_req("/m3", 0)),
                ],
            }),
        ),
        Step(0, R::Multi(MultiRequest { ops: vec![] })),
        Step(
            0,
            R::MultiRead(MultiRequest {
                ops: vec![
                    MultiOp::GetData(zk_proto::records::node::GetDataRequest {
                        path: "/m".into(),
                        watch: false,
                    }),
                    MultiOp::GetChildren(GetChildrenRequest {
                        path: "/nothing".into(),
                        watch: false,
                    }),
                ],
            }),
        ),
        // Watches, seen from connection 1.
        Step(1, get_data("/d", true)),
        Step(1, kids("/d", true)),
        Step(
            1,
            R::Exists(ExistsRequest {
                path: "/later".into(),
                watch: true,
            }),
        ),
        Step(0, set("/d", -1)),
        Step(0, create("/d/k", b"", 0)),
        Step(0, create("/later", b"", 0)),
        Step(
            1,
            R::AddWatch(AddWatchRequest {
                path: "/w".into(),
                mode: 1,
            }),
        ),
        Step(0, create("/w", b"", 0)),
        Step(0, create("/w2", b"", 0)),
        Step(0, create("/w/x", b"", 0)),
        Step(0, set("/w/x", -1)),
        Step(0, del("/w/x", -1)),
        Step(
            1,
            R::AddWatch(AddWatchRequest {
                path: "/pw".into(),
                mode: 0,
            }),
        ),
        Step(0, create("/pw", b"", 0)),
        Step(0, create("/pw/y", b"", 0)),
        Step(
            1,
            R::CheckWatches(RemoveWatchesRequest {
                path: "/w".into(),
                watcher_type: 3,
            }),
        ),
        Step(
            1,
            R::CheckWatches(RemoveWatchesRequest {
                path: "/w".into(),
                watcher_type: 1,
            }),
        ),
        Step(
            1,
            R::RemoveWatches(RemoveWatchesRequest {
                path: "/nope".into(),
                watcher_type: 3,
            }),
        ),
        Step(
            1,
            R::RemoveWatches(RemoveWatchesRequest {
                path: "/w".into(),
                watcher_type: 3,
            }),
        ),
        Step(0, create("/w/gone", b"", 0)),
        // ACLs and auth.
        Step(
            0,
            R::Auth(AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Some(Bytes::from_static(b"u:p")),
            }),
        ),
        Step(
            0,
            R::Create(CreateRequest {
                acl: Acl::creator_all(),
                ..create_req("/priv", 0)
            }),
        ),
        Step(1, get_data("/priv", false)),
        Step(1, R::GetAcl(p("/priv"))),
        Step(0, R::GetAcl(p("/priv"))),
        Step(0, R::WhoAmI),
        Step(
            0,
            R::SetAcl(SetAclRequest {
                path: "/d".into(),
                acl: Acl::read_unsafe(),
                version: 3,
            }),
        ),
        Step(
            0,
            R::SetAcl(SetAclRequest {
                path: "/d".into(),
                acl: vec![],
                version: -1,
            }),
        ),
        Step(
            0,
            R::SetAcl(SetAclRequest {
                path: "/d".into(),
                acl: Acl::read_unsafe(),
                version: 0,
            }),
        ),
        Step(0, set("/d", -1)),
        Step(
            0,
            R::Create(CreateRequest {
                acl: vec![Acl::new(perms::ALL, Id::new("ip", "10.0.0.0/8"))],
                ..create_req("/iponly", 0)
            }),
        ),
        Step(0, get_data("/iponly", false)),
        // Misc.
        Step(0, R::Sync(p("/d"))),
        Step(0, R::GetAllChildrenNumber(p("/"))),
        Step(0, R::GetAllChildrenNumber(p("/d"))),
        Step(
            0,
            R::Reconfig(ReconfigRequest {
                joining_servers: None,
                leaving_servers: None,
                new_members: None,
                cur_config_id: -1,
            }),
        ),
        Step(0, R::CloseSession),
        Step(
            1,
            R::Exists(ExistsRequest {
                path: "/e".into(),
                watch: false,
            }),
        ),
    ]
}

#[derive(Debug, PartialEq)]
struct Outcome {
    step: usize,
    conn: usize,
    err: i32,
    body: String,
    events: Vec<String>,
}

struct Norm {
    base: i64,
    sessions: Vec<i64>,
}

impl Norm {
    fn zxid(&self, z: i64) -> i64 {
        if z == 0 {
            0
        } else {
            z - self.base
        }
    }

    fn stat(&self, s: &mut Stat) {
        s.czxid = self.zxid(s.czxid);
        s.mzxid = self.zxid(s.mzxid);
        s.pzxid = self.zxid(s.pzxid);
        s.ctime = 0;
        s.mtime = 0;
        if s.ephemeral_owner != 0 {
            s.ephemeral_owner = self
                .sessions
                .iter()
                .position(|x| *x == s.ephemeral_owner)
                .map_or(-1, |i| i as i64 + 1);
        }
    }

    fn body(&self, b: Option<ResponseBody>) -> String {
        let Some(mut b) = b else { return String::new() };
        match &mut b {
            ResponseBody::Create2(r) => self.stat(&mut r.stat),
            ResponseBody::Stat(r) => self.stat(&mut r.stat),
            ResponseBody::GetData(r) => self.stat(&mut r.stat),
            ResponseBody::GetAcl(r) => self.stat(&mut r.stat),
            ResponseBody::GetChildren(r) => r.children.sort(),
            ResponseBody::GetChildren2(r) => {
                r.children.sort();
                self.stat(&mut r.stat)
            }
            ResponseBody::GetEphemerals(r) => r.ephemerals.sort(),
            ResponseBody::Multi(m) => {
                for r in &mut m.results {
                    match r {
                        MultiResult::Create2 { stat, .. }
                        | MultiResult::SetData { stat }
                        | MultiResult::GetData { stat, .. } => self.stat(stat),
                        MultiResult::GetChildren { children } => children.sort(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        format!("{b:?}")
    }
}

async fn run_script(addr: &str) -> Vec<Outcome> {
    let mut conns = [
        Raw::connect(addr, 30_000).await,
        Raw::connect(addr, 30_000).await,
    ];
    // Relative zxids: the zxid after both sessions exist.
    let base = match conns[0].call(&RequestBody::Ping).await {
        (0, _, _) => {
            conns[0].send(&RequestBody::Ping).await;
            match conns[0].next().await {
                Some(Frame::Reply { header, .. }) => header.zxid,
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    };
    let norm = Norm {
        base,
        sessions: conns.iter().map(|c| c.session).collect(),
    };
    let mut out = Vec::new();
    let mut closed = [false, false];
    for (i, Step(c, req)) in script().into_iter().enumerate() {
        let (err, body, mut events) = conns[c].call(&req).await;
        // Let the other connection observe the events of this step.
        for (j, other) in conns.iter_mut().enumerate() {
            if j != c && !closed[j] && !matches!(req, RequestBody::CloseSession) {
                let (_, _, ev) = other.call(&RequestBody::Ping).await;
                events.extend(ev);
            }
        }
        out.push(Outcome {
            step: i,
            conn: c,
            err,
            body: norm.body(body),
            events: events
                .iter()
                .map(|e| format!("{}:{}", e.event_type, e.path))
                .collect(),
        });
        if matches!(req, RequestBody::CloseSession) {
            let _ = conns[c].next().await; // closed
            closed[c] = true;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_replies_and_events_as_apache() {
    let Some(apache) = zk_testkit::apache_with_or_skip(
        "same_replies_and_events_as_apache",
        zk_testkit::ApacheOptions::new().with_cfg_line("extendedTypesEnabled=true"),
    ) else {
        return;
    };
    let expected = run_script(&apache.connect_string()).await;
    let ours = Server::builder()
        .client_addr("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let got = run_script(&ours.connect_string()).await;
    let mut mismatches = Vec::new();
    for (e, g) in expected.iter().zip(&got) {
        if e != g {
            mismatches.push(format!("apache: {e:?}\nours:   {g:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
    assert_eq!(expected.len(), got.len());
    ours.shutdown().await;
}

/// Session passwords are derived as Apache derives them, so a session created on Apache can be
/// resumed on zk-server after a data-dir handover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_passwords_match_apache() {
    let Some(apache) = zk_testkit::apache_or_skip("session_passwords_match_apache") else {
        return;
    };
    let c = Raw::connect(&apache.connect_string(), 30_000).await;
    assert_eq!(
        &c.passwd[..],
        &zk_server::session::session_password(c.session)[..]
    );
}
