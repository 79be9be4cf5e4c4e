//! Crash recovery with real processes: the `zk-server` binary (fsync on, snapshots every 100
//! txns) is killed with SIGKILL in the middle of a pipelined write load, restarted on the same
//! data dir, and checked, several times over the same data dir:
//!
//! - every acknowledged write is there (creates with their exact value; the last acknowledged
//!   setData or a later one that was sent);
//! - nothing that was never sent is there, and what survived of each session's writes is a prefix
//!   of what it sent, in order, as whole txns (a node's version counts exactly the setData txns
//!   before its value);
//! - what survived earlier crashes is still there;
//! - sessions survive: reattaching with id + password after the restart keeps the session and its
//!   ephemerals; a session closed before the crash stays closed; a wrong password is refused.
//!
//! Raw zk-proto frames, so the test knows exactly what was sent and what was acknowledged.

mod support_thirdparty;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support_thirdparty::process::ZkServerProcess;
use support_thirdparty::raw::{create_open, get_children2, get_data, set_data, Frame, Session};
use tokio::sync::Notify;
use zk_proto::{RequestBody, ResponseBody};
use zk_testkit::TestDir;

/// Writer connections per iteration.
const WRITERS: usize = 4;
/// Requests each writer keeps in flight.
const WINDOW: usize = 64;
/// Upper bound of writes per writer per iteration (the kill comes long before).
const MAX_WRITES: usize = 20_000;
/// Acknowledged writes (all writers together) after which each iteration kills the server: varied,
/// fixed, so runs are comparable.
const KILL_AFTER_ACKS: [usize; 10] = [300, 1_100, 40, 700, 1_500, 150, 2_000, 1, 900, 450];
/// Requested session timeout (ms): long enough for a restart, short enough for a test.
const SESSION_TIMEOUT_MS: i32 = 15_000;
/// The whole test must finish well within this (it takes a few seconds).
const TEST_DEADLINE: Duration = Duration::from_secs(90);

/// One write as sent.
#[derive(Debug, Clone)]
enum Write {
    Create { path: String, value: String },
    Set { value: String },
}

/// What one writer sent and how many replies (all OK, in order) it got before the crash.
#[derive(Debug, Default)]
struct WriterLog {
    sent: Vec<Write>,
    acked: usize,
}

fn value(iter: usize, writer: usize, n: usize) -> String {
    format!("i{iter}w{writer}n{n}")
}

fn key(writer: usize) -> String {
    format!("/load/k{writer}")
}

/// Pipelines writes (alternating a create under /load/<iter> and a setData of /load/k<writer>)
/// with WINDOW in flight until the connection dies; counts acknowledgements into `acks`.
async fn writer(
    mut s: Session,
    iter: usize,
    w: usize,
    acks: Arc<AtomicUsize>,
    acked_enough: Arc<Notify>,
    kill_after: usize,
) -> WriterLog {
    let mut log = WriterLog::default();
    let mut in_flight = 0usize;
    loop {
        while in_flight < WINDOW && log.sent.len() < MAX_WRITES {
            let n = log.sent.len();
            let v = value(iter, w, n);
            let (req, write) = if n % 2 == 0 {
                let path = format!("/load/{iter}/w{w}-{n:06}");
                (
                    create_open(&path, v.as_bytes(), 0),
                    Write::Create { path, value: v },
                )
            } else {
                (set_data(&key(w), v.as_bytes(), -1), Write::Set { value: v })
            };
            // Recorded before sending: a write that may have reached the server counts as sent.
            log.sent.push(write);
            if s.send(&req).await.is_err() {
                return log;
            }
            in_flight += 1;
        }
        if in_flight == 0 {
            return log;
        }
        match s.next().await {
            Ok(Some(Frame::Reply(h, _))) => {
                assert_eq!(
                    h.err, 0,
                    "writer {w} iteration {iter}: write #{} failed with {}",
                    log.acked, h.err
                );
                log.acked += 1;
                in_flight -= 1;
                if acks.fetch_add(1, Ordering::SeqCst) + 1 >= kill_after {
                    acked_enough.notify_one();
                }
            }
            Ok(Some(Frame::Event(e))) => panic!("unexpected event {e:?}"),
            // EOF or reset: the server is gone.
            Ok(None) | Err(_) => return log,
        }
    }
}

/// Runs `reqs` with up to WINDOW in flight on one session; replies in request order.
async fn pipelined(s: &mut Session, reqs: &[RequestBody]) -> Vec<(i32, Option<ResponseBody>)> {
    let mut out = Vec::with_capacity(reqs.len());
    let mut next = 0;
    while out.len() < reqs.len() {
        while next < reqs.len() && next - out.len() < WINDOW {
            s.send(&reqs[next]).await.expect("send");
            next += 1;
        }
        match s.next().await.expect("read").expect("reply") {
            Frame::Reply(h, mut body) => {
                let req = &reqs[out.len()];
                let rsp = (h.err == 0)
                    .then(|| ResponseBody::read(req.opcode(), &mut body).expect("reply decodes"));
                out.push((h.err, rsp));
            }
            Frame::Event(e) => panic!("unexpected event {e:?}"),
        }
    }
    out
}

async fn children(s: &mut Session, path: &str) -> Vec<String> {
    match s.ok(&get_children2(path)).await {
        ResponseBody::GetChildren2(c) => c.children,
        other => panic!("{other:?}"),
    }
}

async fn data_and_version(s: &mut Session, path: &str) -> (String, i32, i64) {
    match s.call(&get_data(path)).await {
        (0, Some(ResponseBody::GetData(d))) => (
            String::from_utf8(d.data.unwrap_or_default().to_vec()).unwrap(),
            d.stat.version,
            d.stat.ephemeral_owner,
        ),
        (err, _) => panic!("getData {path}: error {err}"),
    }
}

async fn exists(s: &mut Session, path: &str) -> bool {
    match s.call(&get_data(path)).await.0 {
        0 => true,
        -101 => false,
        err => panic!("getData {path}: error {err}"),
    }
}

/// What every earlier iteration left, checked again after each later crash.
#[derive(Default)]
struct Expected {
    /// Per iteration: the creates that survived (path -> value).
    creates: BTreeMap<usize, BTreeMap<String, String>>,
    /// Per writer: every setData value applied so far, in order (the node's version counts them).
    sets: Vec<Vec<String>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_under_write_load() {
    tokio::time::timeout(TEST_DEADLINE, run())
        .await
        .expect("crash recovery test finished in time");
}

async fn run() {
    let dir = TestDir::new("crash-recovery").unwrap();
    let port = zk_testkit::free_port().unwrap();
    let mut server = ZkServerProcess::start(
        dir.path(),
        &dir.path().join("data"),
        port,
        &["tickTime=1000", "snapCount=100", "forceSync=yes"],
    )
    .await;
    let addr = server.addr.clone();

    let mut setup = Session::connect(&addr, SESSION_TIMEOUT_MS).await;
    setup.ok(&create_open("/load", b"", 0)).await;
    setup.ok(&create_open("/sessions", b"", 0)).await;
    for w in 0..WRITERS {
        setup.ok(&create_open(&key(w), b"initial", 0)).await;
    }
    // A session that lives through every crash, reattached after each restart.
    let mut long = Session::connect(&addr, SESSION_TIMEOUT_MS).await;
    long.ok(&create_open("/sessions/long", b"", 1)).await;
    let (long_id, long_pw) = (long.id, long.passwd.clone());
    drop(setup);

    let mut expected = Expected {
        sets: vec![Vec::new(); WRITERS],
        ..Expected::default()
    };
    let mut closed_session: Option<(i64, bytes::Bytes, String)> = None;
    for (iter, &kill_after) in KILL_AFTER_ACKS.iter().enumerate() {
        let started = Instant::now();
        let mut s = Session::connect(&addr, SESSION_TIMEOUT_MS).await;
        s.ok(&create_open(&format!("/load/{iter}"), b"", 0)).await;
        // This iteration's session with an ephemeral; reattached and closed after the restart.
        let mut eph = Session::connect(&addr, SESSION_TIMEOUT_MS).await;
        let eph_path = format!("/sessions/e{iter}");
        eph.ok(&create_open(&eph_path, b"", 1)).await;
        let (eph_id, eph_pw) = (eph.id, eph.passwd.clone());

        // Load, and kill -9 once enough writes were acknowledged.
        let acks = Arc::new(AtomicUsize::new(0));
        let acked_enough = Arc::new(Notify::new());
        // Every writer is connected before any writes: a writer still connecting when the
        // others reach the kill point would race the kill.
        let mut sessions = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            sessions.push(Session::connect(&addr, SESSION_TIMEOUT_MS).await);
        }
        let writers: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(w, session)| {
                tokio::spawn(writer(
                    session,
                    iter,
                    w,
                    acks.clone(),
                    acked_enough.clone(),
                    kill_after,
                ))
            })
            .collect();
        acked_enough.notified().await;
        server.kill9();
        let mut logs = Vec::new();
        for h in writers {
            logs.push(h.await.expect("writer task"));
        }
        drop((s, eph, long));
        let total_acked: usize = logs.iter().map(|l| l.acked).sum();
        let total_sent: usize = logs.iter().map(|l| l.sent.len()).sum();
        assert!(
            total_acked >= kill_after && total_sent > total_acked,
            "iteration {iter}: the kill came mid-load ({total_acked} acked of {total_sent} sent)"
        );

        server.restart().await;

        // Sessions first (their clock runs): the long one and this iteration's come back.
        long = Session::resume(&addr, SESSION_TIMEOUT_MS, long_id, &long_pw)
            .await
            .unwrap_or_else(|| panic!("iteration {iter}: long session {long_id:#x} expired"));
        let mut eph = Session::resume(&addr, SESSION_TIMEOUT_MS, eph_id, &eph_pw)
            .await
            .unwrap_or_else(|| panic!("iteration {iter}: session {eph_id:#x} expired"));
        let (_, _, owner) = data_and_version(&mut eph, &eph_path).await;
        assert_eq!(owner, eph_id, "iteration {iter}: {eph_path} kept its owner");
        let (_, _, owner) = data_and_version(&mut long, "/sessions/long").await;
        assert_eq!(owner, long_id, "iteration {iter}: /sessions/long kept");
        if iter == 0 {
            let wrong = [7u8; 16];
            assert!(
                Session::resume(&addr, SESSION_TIMEOUT_MS, long_id, &wrong)
                    .await
                    .is_none(),
                "a wrong password must get the expired answer"
            );
        }

        let mut r = Session::connect(&addr, SESSION_TIMEOUT_MS).await;
        // The session closed in the previous iteration did not come back, nor its ephemeral.
        if let Some((id, pw, path)) = &closed_session {
            assert!(!exists(&mut r, path).await, "{path} of closed session");
            assert!(
                Session::resume(&addr, SESSION_TIMEOUT_MS, *id, pw)
                    .await
                    .is_none(),
                "closed session {id:#x} must stay closed"
            );
        }

        // This iteration's writes: per writer, a prefix of what it sent, at least what was acked.
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        let names = children(&mut r, &format!("/load/{iter}")).await;
        let paths: Vec<String> = names.iter().map(|n| format!("/load/{iter}/{n}")).collect();
        let reqs: Vec<RequestBody> = paths.iter().map(|p| get_data(p)).collect();
        for (path, (err, rsp)) in paths.iter().zip(pipelined(&mut r, &reqs).await) {
            let Some(ResponseBody::GetData(d)) = rsp else {
                panic!("getData {path}: error {err}")
            };
            let v = String::from_utf8(d.data.unwrap_or_default().to_vec()).unwrap();
            found.insert(path.clone(), v);
        }
        let mut survived = BTreeMap::new();
        for (w, log) in logs.iter().enumerate() {
            let sent_creates: Vec<(&str, &str)> = log
                .sent
                .iter()
                .filter_map(|x| match x {
                    Write::Create { path, value } => Some((path.as_str(), value.as_str())),
                    Write::Set { .. } => None,
                })
                .collect();
            let acked_creates = log.acked.div_ceil(2); // writes alternate create, set, create...
            let mine: Vec<(&String, &String)> = found
                .iter()
                .filter(|(p, _)| p.starts_with(&format!("/load/{iter}/w{w}-")))
                .collect();
            for (i, (path, v)) in mine.iter().enumerate() {
                let Some((sent_path, sent_value)) = sent_creates.get(i) else {
                    panic!("iteration {iter} writer {w}: {path} was never sent");
                };
                assert_eq!(
                    (path.as_str(), v.as_str()),
                    (*sent_path, *sent_value),
                    "iteration {iter} writer {w}: surviving creates are a prefix of those sent"
                );
            }
            assert!(
                mine.len() >= acked_creates,
                "iteration {iter} writer {w}: {} creates acknowledged, only {} survived \
                 (first missing {:?})",
                acked_creates,
                mine.len(),
                sent_creates.get(mine.len())
            );

            // setData: the value is the version-th set ever applied; at least the acked ones.
            let acked_sets = log.acked / 2;
            let before = expected.sets[w].len();
            let sent_sets: Vec<String> = log
                .sent
                .iter()
                .filter_map(|x| match x {
                    Write::Set { value } => Some(value.clone()),
                    Write::Create { .. } => None,
                })
                .collect();
            let (v, version, _) = data_and_version(&mut r, &key(w)).await;
            let applied = version as usize;
            assert!(
                applied >= before + acked_sets,
                "iteration {iter} writer {w}: {} setData acknowledged in total, version is {applied}",
                before + acked_sets
            );
            assert!(
                applied <= before + sent_sets.len(),
                "iteration {iter} writer {w}: version {applied} counts more setData than were sent \
                 ({before} earlier + {} now)",
                sent_sets.len()
            );
            expected.sets[w].extend(sent_sets.into_iter().take(applied - before));
            let want = expected.sets[w]
                .last()
                .map(String::as_str)
                .unwrap_or("initial");
            assert_eq!(
                v,
                want,
                "iteration {iter} writer {w}: value of {} after {applied} setData",
                key(w)
            );
            survived.extend(mine.into_iter().map(|(p, v)| (p.clone(), v.clone())));
        }
        assert_eq!(
            survived.len(),
            found.len(),
            "iteration {iter}: nodes under /load/{iter} that no writer sent: {:?}",
            found
                .keys()
                .filter(|p| !survived.contains_key(*p))
                .collect::<Vec<_>>()
        );
        expected.creates.insert(iter, survived);

        // Everything earlier iterations left is still there.
        for (j, nodes) in &expected.creates {
            let names = children(&mut r, &format!("/load/{j}")).await;
            assert_eq!(
                names.len(),
                nodes.len(),
                "iteration {iter}: /load/{j} lost or gained nodes"
            );
            let reqs: Vec<RequestBody> = nodes.keys().map(|p| get_data(p)).collect();
            for ((path, v), (err, rsp)) in nodes.iter().zip(pipelined(&mut r, &reqs).await) {
                let Some(ResponseBody::GetData(d)) = rsp else {
                    panic!("iteration {iter}: {path} from iteration {j} is gone (error {err})")
                };
                assert_eq!(d.data.as_deref(), Some(v.as_bytes()), "{path}");
            }
        }

        // Closing the reattached session removes its ephemeral, durably (checked next round).
        eph.close().await;
        assert!(!exists(&mut r, &eph_path).await, "{eph_path} after close");
        closed_session = Some((eph_id, eph_pw, eph_path));
        eprintln!(
            "iteration {iter}: killed after {total_acked} acks ({total_sent} sent), \
             {} creates survived, checked in {:?}",
            expected.creates[&iter].len(),
            started.elapsed()
        );
    }
    let log_dir = dir.path().join("data").join("version-2");
    let files: Vec<String> = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // snapshot.0 is written when the data dir is fresh; the load must have taken more.
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("snapshot.") && f != "snapshot.0" && !f.ends_with(".tmp")),
        "the load crossed snapshots: {files:?}"
    );
    let log = server.log_text();
    assert!(
        !log.contains("panicked") && !log.contains("ERROR"),
        "zk-server logged a panic or an error:\n{}",
        server.log_tail()
    );
    drop(server);
}
