//! Hand-written histories with known verdicts: the anomalies the checker must catch and the concurrent
//! behaviours it must accept.

mod support;

use support::{brute_force, history, Row};
use zk_lincheck::{check, CheckOptions, CheckResult, OpId, ZkError, ZkModel, ZkOp, ZkOutput};

use ZkError::*;

fn get(path: &str) -> ZkOp {
    ZkOp::get_data(path)
}
fn set(path: &str, data: &str, version: Option<i32>) -> ZkOp {
    ZkOp::set_data(path, data, version)
}
fn data(d: &str, version: i32) -> Option<ZkOutput> {
    Some(ZkOutput::data(d, version))
}
fn ok_set(version: i32) -> Option<ZkOutput> {
    Some(ZkOutput::Set { version })
}
fn err(e: ZkError) -> Option<ZkOutput> {
    Some(ZkOutput::Error(e))
}

/// Expected verdict; for an illegal history, the culprit (the reply that nothing explains).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Ok,
    Illegal { culprit: usize },
}

struct Case {
    name: &'static str,
    rows: Vec<Row>,
    expect: Expect,
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- single register, reads and writes ----
        Case {
            name: "stale read after a completed write",
            rows: vec![
                (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
                (2, 20, Some(30), get("/k"), data("0", 0)),
            ],
            expect: Illegal { culprit: 1 },
        },
        Case {
            name: "read overlapping a write may see either value",
            rows: vec![
                (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
                (2, 5, Some(15), get("/k"), data("0", 0)),
                (3, 6, Some(16), get("/k"), data("1", 1)),
            ],
            expect: Ok,
        },
        Case {
            name: "two reads overlapping a write cannot see it in opposite orders",
            rows: vec![
                (1, 0, Some(100), set("/k", "1", None), ok_set(1)),
                (2, 10, Some(20), get("/k"), data("1", 1)),
                (3, 30, Some(40), get("/k"), data("0", 0)),
            ],
            expect: Illegal { culprit: 2 },
        },
        Case {
            name: "read of a value never written",
            rows: vec![(1, 0, Some(10), get("/k"), data("ghost", 0))],
            expect: Illegal { culprit: 0 },
        },
        Case {
            name: "read with the right data but a wrong version",
            rows: vec![
                (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
                (2, 20, Some(30), get("/k"), data("1", 2)),
            ],
            expect: Illegal { culprit: 1 },
        },
        Case {
            name: "read-your-writes violation in one session",
            rows: vec![
                (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
                (1, 11, Some(20), get("/k"), data("0", 0)),
            ],
            expect: Illegal { culprit: 1 },
        },
        Case {
            name: "operations touching in time are concurrent",
            rows: vec![
                (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
                (2, 10, Some(20), get("/k"), data("0", 0)),
            ],
            expect: Ok,
        },
        // ---- compare-and-set ----
        Case {
            name: "lost update: a CAS succeeds on a version already replaced",
            rows: vec![
                (1, 0, Some(10), get("/k"), data("0", 0)),
                (2, 1, Some(11), get("/k"), data("0", 0)),
                (1, 20, Some(30), set("/k", "a", Some(0)), ok_set(1)),
                (2, 40, Some(50), set("/k", "b", Some(0)), ok_set(1)),
            ],
            expect: Illegal { culprit: 3 },
        },
        Case {
            name: "two concurrent CAS on the same version both succeed",
            rows: vec![
                (1, 0, Some(20), set("/k", "a", Some(0)), ok_set(1)),
                (2, 5, Some(25), set("/k", "b", Some(0)), ok_set(1)),
            ],
            expect: Illegal { culprit: 1 },
        },
        Case {
            name: "two concurrent CAS: one wins, one gets BadVersion",
            rows: vec![
                (1, 0, Some(20), set("/k", "a", Some(0)), err(BadVersion)),
                (2, 5, Some(25), set("/k", "b", Some(0)), ok_set(1)),
                (3, 30, Some(40), get("/k"), data("b", 1)),
            ],
            expect: Ok,
        },
        Case {
            name: "a CAS fails with BadVersion although nothing changed the version",
            rows: vec![(1, 0, Some(10), set("/k", "a", Some(0)), err(BadVersion))],
            expect: Illegal { culprit: 0 },
        },
        Case {
            name: "setData reports a version that skips one",
            rows: vec![(1, 0, Some(10), set("/k", "a", None), ok_set(2))],
            expect: Illegal { culprit: 0 },
        },
        // ---- indeterminate writes ----
        Case {
            name: "indeterminate write that must have been applied (a later read sees it)",
            rows: vec![
                (1, 0, None, set("/k", "1", None), None),
                (2, 50, Some(60), get("/k"), data("1", 1)),
            ],
            expect: Ok,
        },
        Case {
            name: "indeterminate write that may never be applied",
            rows: vec![
                (1, 0, None, set("/k", "1", None), None),
                (2, 50, Some(60), get("/k"), data("0", 0)),
            ],
            expect: Ok,
        },
        Case {
            name: "indeterminate write applied long after its client moved on",
            rows: vec![
                (1, 0, None, set("/k", "1", None), None),
                (2, 10, Some(20), get("/k"), data("0", 0)),
                (1, 30, Some(40), get("/k"), data("0", 0)),
                (2, 50, Some(60), get("/k"), data("1", 1)),
            ],
            expect: Ok,
        },
        Case {
            name: "indeterminate write seen, then unseen",
            rows: vec![
                (1, 0, None, set("/k", "1", None), None),
                (2, 10, Some(20), get("/k"), data("1", 1)),
                (3, 30, Some(40), get("/k"), data("0", 0)),
            ],
            expect: Illegal { culprit: 2 },
        },
        Case {
            name: "indeterminate write cannot take effect before it was invoked",
            rows: vec![
                (2, 0, Some(10), get("/k"), data("1", 1)),
                (1, 20, None, set("/k", "1", None), None),
            ],
            expect: Illegal { culprit: 0 },
        },
        Case {
            name: "indeterminate CAS and a completed CAS on the same version: at most one applies",
            rows: vec![
                (1, 0, None, set("/k", "a", Some(0)), None),
                (2, 5, Some(15), set("/k", "b", Some(0)), ok_set(1)),
                (3, 20, Some(30), get("/k"), data("a", 1)),
            ],
            expect: Illegal { culprit: 2 },
        },
        Case {
            name: "indeterminate CAS applied first explains a BadVersion",
            rows: vec![
                (1, 0, None, set("/k", "a", Some(0)), None),
                (2, 5, Some(15), set("/k", "b", Some(0)), err(BadVersion)),
            ],
            expect: Ok,
        },
        Case {
            name: "indeterminate reads constrain nothing",
            rows: vec![
                (1, 0, None, get("/k"), None),
                (2, 10, Some(20), set("/k", "1", Some(0)), ok_set(1)),
            ],
            expect: Ok,
        },
        // ---- several valid orders ----
        Case {
            name: "three overlapping writes, reads see a consistent order",
            rows: vec![
                (1, 0, Some(50), set("/k", "a", None), ok_set(3)),
                (2, 1, Some(51), set("/k", "b", None), ok_set(1)),
                (3, 2, Some(52), set("/k", "c", None), ok_set(2)),
                (4, 3, Some(20), get("/k"), data("b", 1)),
                (5, 4, Some(60), get("/k"), data("c", 2)),
                (4, 60, Some(70), get("/k"), data("a", 3)),
            ],
            expect: Ok,
        },
        Case {
            name: "three overlapping writes, reads disagree on the order",
            rows: vec![
                (1, 0, Some(50), set("/k", "a", None), ok_set(1)),
                (2, 1, Some(51), set("/k", "b", None), ok_set(2)),
                (4, 3, Some(60), get("/k"), data("b", 2)),
                (5, 61, Some(70), get("/k"), data("a", 1)),
            ],
            expect: Illegal { culprit: 3 },
        },
        // ---- create / delete / exists ----
        Case {
            name: "two concurrent creates both succeed",
            rows: vec![
                (
                    1,
                    0,
                    Some(10),
                    ZkOp::create("/n", "a"),
                    Some(ZkOutput::Created),
                ),
                (
                    2,
                    1,
                    Some(11),
                    ZkOp::create("/n", "b"),
                    Some(ZkOutput::Created),
                ),
            ],
            expect: Illegal { culprit: 1 },
        },
        Case {
            name: "two concurrent creates: one NodeExists",
            rows: vec![
                (1, 0, Some(10), ZkOp::create("/n", "a"), err(NodeExists)),
                (
                    2,
                    1,
                    Some(11),
                    ZkOp::create("/n", "b"),
                    Some(ZkOutput::Created),
                ),
                (1, 20, Some(30), get("/n"), data("b", 0)),
            ],
            expect: Ok,
        },
        Case {
            name: "read after a completed delete still finds the znode",
            rows: vec![
                (
                    1,
                    0,
                    Some(10),
                    ZkOp::delete("/k", Some(0)),
                    Some(ZkOutput::Deleted),
                ),
                (
                    2,
                    20,
                    Some(30),
                    ZkOp::exists("/k"),
                    Some(ZkOutput::Exists { version: Some(0) }),
                ),
            ],
            expect: Illegal { culprit: 1 },
        },
        Case {
            name: "delete, re-create and a CAS on the fresh version 0",
            rows: vec![
                (
                    1,
                    0,
                    Some(10),
                    ZkOp::delete("/k", None),
                    Some(ZkOutput::Deleted),
                ),
                (2, 5, Some(15), get("/k"), err(NoNode)),
                (
                    1,
                    20,
                    Some(30),
                    ZkOp::create("/k", "x"),
                    Some(ZkOutput::Created),
                ),
                (2, 25, Some(35), set("/k", "y", Some(0)), ok_set(1)),
                (
                    3,
                    40,
                    Some(50),
                    ZkOp::exists("/k"),
                    Some(ZkOutput::Exists { version: Some(1) }),
                ),
            ],
            expect: Ok,
        },
        Case {
            name: "delete with a stale version succeeds",
            rows: vec![
                (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
                (
                    2,
                    20,
                    Some(30),
                    ZkOp::delete("/k", Some(0)),
                    Some(ZkOutput::Deleted),
                ),
            ],
            expect: Illegal { culprit: 1 },
        },
        // ---- multi ----
        Case {
            name: "a multi is atomic: a reader never sees half of it",
            rows: vec![
                (
                    1,
                    0,
                    Some(100),
                    ZkOp::multi([set("/k", "moved", None), ZkOp::create("/m", "moved")]),
                    Some(ZkOutput::Multi(vec![
                        ZkOutput::Set { version: 1 },
                        ZkOutput::Created,
                    ])),
                ),
                (2, 10, Some(20), get("/m"), data("moved", 0)),
                (2, 30, Some(40), get("/k"), data("0", 0)),
            ],
            expect: Illegal { culprit: 2 },
        },
        Case {
            name: "a failed multi applies nothing",
            rows: vec![
                (
                    1,
                    0,
                    Some(10),
                    ZkOp::multi([ZkOp::create("/m", "x"), ZkOp::check("/k", Some(9))]),
                    Some(ZkOutput::MultiFailed {
                        index: 1,
                        error: BadVersion,
                    }),
                ),
                (
                    2,
                    20,
                    Some(30),
                    ZkOp::exists("/m"),
                    Some(ZkOutput::Exists { version: Some(0) }),
                ),
            ],
            expect: Illegal { culprit: 1 },
        },
    ]
}

fn model() -> ZkModel {
    ZkModel::new().with_node("/k", "0")
}

#[test]
fn known_histories_get_their_verdict() {
    let mut failures = Vec::new();
    for case in cases() {
        let h = history(case.rows);
        let result = check(&model(), &h, &CheckOptions::default());
        let got = match &result {
            CheckResult::Ok => Expect::Ok,
            CheckResult::Illegal(v) => Expect::Illegal {
                culprit: v.culprit.0,
            },
            CheckResult::Unknown(_) => {
                failures.push(format!("{}: unknown", case.name));
                continue;
            }
        };
        if got != case.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}\n{}",
                case.name,
                case.expect,
                got,
                result.explain(&h)
            ));
        }
        // The exhaustive oracle agrees on every hand-written case.
        let oracle = brute_force(&model(), &h, true);
        if oracle != (case.expect == Expect::Ok) {
            failures.push(format!(
                "{}: the brute-force oracle says {oracle}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn violations_name_the_partition_and_prefix() {
    // /a is fine, /b has a stale read: the violation is reported on /b alone.
    let h = history(vec![
        (
            1,
            0,
            Some(10),
            ZkOp::create("/a", "x"),
            Some(ZkOutput::Created),
        ),
        (
            2,
            0,
            Some(10),
            ZkOp::create("/b", "x"),
            Some(ZkOutput::Created),
        ),
        (1, 20, Some(30), get("/a"), data("x", 0)),
        (3, 15, None, set("/b", "y", None), None),
        (2, 20, Some(30), set("/b", "z", Some(0)), err(BadVersion)),
        (2, 40, Some(50), get("/b"), data("x", 0)),
        (1, 60, Some(70), get("/a"), data("x", 0)),
    ]);
    let result = check(&model(), &h, &CheckOptions::default());
    let v = result
        .violation()
        .unwrap_or_else(|| panic!("expected a violation, got {result}"));
    assert_eq!(v.keys, vec!["/b".into()]);
    assert_eq!(v.culprit, OpId(5));
    assert_eq!(v.completed, vec![OpId(1), OpId(4), OpId(5)]);
    assert_eq!(v.pending, vec![OpId(3)]);
    assert_eq!(v.longest, vec![OpId(1), OpId(3), OpId(4)]);
    let text = result.explain(&h);
    assert!(
        text.contains("<- culprit") && text.contains(r#"getData(/b) -> "x" v0"#),
        "{text}"
    );

    // Without shrinking, the whole partition is listed and the culprit is where the search got stuck.
    let unshrunk = check(&model(), &h, &CheckOptions::default().with_shrink(false));
    assert_eq!(unshrunk.violation().map(|v| v.completed.len()), Some(3));
}

#[test]
fn session_order_orders_pipelined_requests() {
    // One session pipelines two writes; the versions say the second took effect first.
    let rows = vec![
        (1, 0, Some(20), set("/k", "first", None), ok_set(2)),
        (1, 1, Some(21), set("/k", "second", None), ok_set(1)),
    ];
    let h = history(rows);
    let fifo = check(&model(), &h, &CheckOptions::default());
    // The first reply is already impossible: only the second write could have come before it, and FIFO
    // puts that one after.
    assert_eq!(fifo.violation().map(|v| v.culprit), Some(OpId(0)), "{fifo}");
    assert!(check(
        &model(),
        &h,
        &CheckOptions::default().with_session_order(false)
    )
    .is_ok());
    // The same order from two sessions is fine.
    let h2 = history(vec![
        (1, 0, Some(20), set("/k", "first", None), ok_set(2)),
        (2, 1, Some(21), set("/k", "second", None), ok_set(1)),
    ]);
    assert!(check(&model(), &h2, &CheckOptions::default()).is_ok());
    // A lost request orders nothing after it: it may be applied after the session's later requests.
    let h3 = history(vec![
        (1, 0, None, set("/k", "lost", None), None),
        (1, 5, Some(20), set("/k", "next", None), ok_set(1)),
        (2, 30, Some(40), get("/k"), data("lost", 2)),
    ]);
    assert!(check(&model(), &h3, &CheckOptions::default()).is_ok());
}

#[test]
fn budget_exhaustion_is_unknown() {
    let h = history(vec![
        (1, 0, Some(10), set("/k", "1", None), ok_set(1)),
        (2, 0, Some(10), set("/k", "2", None), ok_set(2)),
    ]);
    let result = check(&model(), &h, &CheckOptions::default().with_max_steps(1));
    assert!(result.is_unknown(), "{result}");
    assert!(result.to_string().contains("step budget"), "{result}");
    assert!(check(
        &model(),
        &h,
        &CheckOptions::default().with_timeout(std::time::Duration::from_secs(5))
    )
    .is_ok());
}

#[test]
fn empty_and_read_only_histories() {
    assert!(check(&model(), &history(vec![]), &CheckOptions::default()).is_ok());
    let h = history(vec![
        (1, 0, None, get("/k"), None),
        (2, 0, Some(1), get("/k"), data("0", 0)),
    ]);
    assert!(check(&model(), &h, &CheckOptions::default()).is_ok());
}

#[test]
fn lost_writes_of_values_nobody_read_are_interchangeable() {
    // Twenty lost setData calls whose values no reply shows: any two of them explain the version 3 of the
    // completed write. Without the reduction the search would try the 2^20 subsets; with it, it counts.
    let mut rows: Vec<Row> = (1..=20)
        .map(|i| (i, i, None, set("/k", &format!("lost-{i}"), None), None))
        .collect();
    rows.push((100, 100, Some(110), set("/k", "x", None), ok_set(3)));
    rows.push((101, 120, Some(130), get("/k"), data("x", 3)));
    let good = history(rows.clone());
    let options = CheckOptions::default().with_max_steps(20_000);
    assert!(check(&model(), &good, &options).is_ok());

    rows.last_mut().expect("read").4 = data("x", 4);
    let bad = history(rows);
    let result = check(&model(), &bad, &options);
    assert_eq!(
        result.violation().map(|v| v.culprit),
        Some(OpId(21)),
        "{result}"
    );
}
