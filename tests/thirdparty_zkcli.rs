//! Apache's Java CLI (`zkCli.sh` from Debian's zookeeper package) against zk-server, driven
//! non-interactively: one zkCli process reads a script on stdin, so one JVM runs many commands.
//!
//! The same scripts run against Apache ZooKeeper 3.8 (extended types enabled, as zk-server has
//! them by default), and the outputs must match step by step once zxids, times and session ids are
//! normalized. A few absolute checks make sure the transcripts say what we think they say.
//!
//! Steps are separated by `stat /__zkcli_step_<n>`, which prints
//! `Node does not exist: /__zkcli_step_<n>` into the output.

mod support_thirdparty;

use std::collections::HashMap;
use std::fmt::Write;

use support_thirdparty::{digest, run_zkcli, start_zk_server, zkcli_or_skip};
use zk_testkit::ApacheOptions;

const MARKER: &str = "/__zkcli_step_";

/// A script: (step name, commands).
type Script = Vec<(&'static str, Vec<String>)>;

fn render(script: &Script) -> String {
    let mut out = String::new();
    for (i, (_, cmds)) in script.iter().enumerate() {
        writeln!(out, "stat {MARKER}{i}").unwrap();
        for c in cmds {
            writeln!(out, "{c}").unwrap();
        }
    }
    writeln!(out, "stat {MARKER}end").unwrap();
    out
}

fn cmds(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The first session: creates in every mode, reads, writes, deletes, ACLs with digest auth.
fn main_script() -> Script {
    let alice = digest("alice", "secret");
    vec![
        (
            "create",
            cmds(&[
                "create /cli hello",
                "create /cli again",
                "create -s /cli/seq- a",
                "create -s /cli/seq- b",
                "create -e /cli/eph e",
                "create -e -s /cli/eseq- x",
                "create -c /cli/container",
                "create /cli/container/child c",
                "create -t 600000 /cli/ttl t",
                "create -s -t 600000 /cli/ttlseq- t",
                "create /cli/eph/child x",
                "create /missing/x y",
                "create /cli/empty",
            ]),
        ),
        ("get -s", cmds(&["get -s /cli", "get /cli/empty"])),
        (
            "set",
            cmds(&[
                "set /cli world",
                "set -v 0 /cli stale",
                "set -s -v 1 /cli again",
                "get /cli",
            ]),
        ),
        (
            "stat",
            cmds(&[
                "stat /cli",
                "stat /cli/eph",
                "stat /cli/ttl",
                "stat /cli/container",
            ]),
        ),
        ("ls", cmds(&["ls /cli", "ls -s /cli", "ls -R /cli"])),
        (
            "ephemerals and counts",
            cmds(&[
                "getEphemerals /cli",
                "getEphemerals /",
                "getAllChildrenNumber /cli",
                "getAllChildrenNumber /",
                "sync /cli",
            ]),
        ),
        (
            "delete",
            cmds(&[
                "delete /cli/seq-0000000000",
                "delete /cli",
                "delete -v 5 /cli/seq-0000000001",
                "delete -v 0 /cli/seq-0000000001",
                "deleteall /cli/container",
                "delete /cli/nothing",
                "ls /cli",
            ]),
        ),
        (
            "acl",
            vec![
                "addauth digest alice:secret".into(),
                "create /cli/private p auth:alice:secret:cdrwa".into(),
                "getAcl /cli/private".into(),
                "create /cli/readonly r world:anyone:r".into(),
                "set /cli/readonly w".into(),
                "getAcl -s /cli/readonly".into(),
                "create /cli/iponly i ip:127.0.0.1:cdrwa".into(),
                "get /cli/iponly".into(),
                "getAcl /cli/iponly".into(),
                format!("setAcl /cli/private digest:{alice}:cdra"),
                "getAcl -s /cli/private".into(),
                "setAcl -v 5 /cli/private world:anyone:r".into(),
                "create /cli/bad b world:anyone:rwx".into(),
                "create /cli/bad2 b digest:alice:cdrwa".into(),
            ],
        ),
        ("whoami", cmds(&["whoami"])),
        (
            "special nodes",
            cmds(&[
                "config",
                "get /zookeeper/config",
                "ls /zookeeper",
                "get /zookeeper/quota",
                "delete /zookeeper",
                "set /zookeeper/config x",
            ]),
        ),
        (
            "missing",
            cmds(&[
                "get /nonexistent",
                "stat /nonexistent",
                "ls /nonexistent",
                "getAcl /nonexistent",
                "set /nonexistent x",
            ]),
        ),
    ]
}

/// The second session, after the first one closed: its ephemerals are gone; digest auth decides
/// access to /cli/private; then everything is removed.
fn second_script() -> Script {
    vec![
        ("after close", cmds(&["ls /cli", "stat /cli/eph"])),
        (
            "no auth",
            cmds(&[
                "get /cli/private",
                "getAcl /cli/private",
                "set /cli/iponly j",
            ]),
        ),
        (
            "wrong password",
            cmds(&["addauth digest alice:wrong", "get /cli/private"]),
        ),
        (
            "right password",
            cmds(&[
                "addauth digest alice:secret",
                "get /cli/private",
                "getAcl /cli/private",
            ]),
        ),
        ("whoami", cmds(&["whoami"])),
        ("cleanup", cmds(&["deleteall /cli", "ls /"])),
    ]
}

/// Rank-based renaming of zxids and session ids, times replaced: what may differ between two
/// servers running the same script.
#[derive(Default)]
struct Normalizer {
    zxids: HashMap<String, usize>,
    sessions: HashMap<String, usize>,
}

impl Normalizer {
    fn rank(map: &mut HashMap<String, usize>, value: &str) -> usize {
        let next = map.len() + 1;
        *map.entry(value.to_owned()).or_insert(next)
    }

    fn line(&mut self, line: &str) -> Option<String> {
        let line = line.trim_end();
        if line.is_empty()
            || line.starts_with("WATCHER::")
            || line.starts_with("WatchedEvent state:")
            || line.starts_with("SLF4J:")
        {
            return None;
        }
        if let Some((key, value)) = line.split_once(" = ") {
            match key {
                "cZxid" | "mZxid" | "pZxid" if value != "0x0" => {
                    return Some(format!("{key} = Z{}", Self::rank(&mut self.zxids, value)))
                }
                "ctime" | "mtime" => return Some(format!("{key} = T")),
                "ephemeralOwner" if value != "0x0" => {
                    return Some(format!(
                        "{key} = S{}",
                        Self::rank(&mut self.sessions, value)
                    ))
                }
                _ => {}
            }
        }
        Some(line.to_owned())
    }
}

/// Splits zkCli's output into the steps of `script`, normalized; `whoami` steps are sorted (the
/// order of a session's auth infos is unspecified).
fn steps(script: &Script, output: &str) -> Vec<Vec<String>> {
    let mut norm = Normalizer::default();
    let mut steps: Vec<Vec<String>> = Vec::new();
    let mut current: Option<usize> = None;
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("Node does not exist: ") {
            if let Some(tag) = rest.trim().strip_prefix(MARKER) {
                current = tag.parse().ok();
                if let Some(i) = current {
                    assert_eq!(i, steps.len(), "steps in order:\n{output}");
                    steps.push(Vec::new());
                }
                continue;
            }
        }
        if let (Some(i), Some(l)) = (current, norm.line(line)) {
            steps[i].push(l);
        }
    }
    assert_eq!(
        steps.len(),
        script.len(),
        "every step's marker in the output:\n{output}"
    );
    assert!(
        output.contains(&format!("Node does not exist: {MARKER}end")),
        "zkCli ran the whole script:\n{output}"
    );
    for (i, (name, _)) in script.iter().enumerate() {
        if *name == "whoami" {
            steps[i].sort();
        }
    }
    steps
}

fn compare(script: &Script, ours: &[Vec<String>], apache: &[Vec<String>]) -> String {
    let mut diff = String::new();
    for (i, (name, cmds)) in script.iter().enumerate() {
        if ours[i] != apache[i] {
            writeln!(
                diff,
                "step {i} `{name}` ({cmds:?}):\n  zk-server: {:#?}\n  Apache:    {:#?}",
                ours[i], apache[i]
            )
            .unwrap();
        }
    }
    diff
}

fn step<'a>(script: &Script, steps: &'a [Vec<String>], name: &str) -> &'a [String] {
    let i = script
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no step {name}"));
    &steps[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkcli_commands_match_apache() {
    let test = "zkcli_commands_match_apache";
    let Some(zkcli) = zkcli_or_skip(test) else {
        return;
    };
    let apache = tokio::task::spawn_blocking(|| {
        ApacheOptions::new()
            .with_cfg_line("extendedTypesEnabled=true")
            .start()
            .expect("Apache ZooKeeper starts")
    })
    .await
    .unwrap();
    let server = start_zk_server().await;
    let (ours_addr, apache_addr) = (server.connect_string(), apache.connect_string());

    let (first, second) = (main_script(), second_script());
    let (first_text, second_text) = (render(&first), render(&second));
    let (ours_1, apache_1) = tokio::join!(
        run_zkcli(&zkcli, &ours_addr, &first_text),
        run_zkcli(&zkcli, &apache_addr, &first_text)
    );
    let (ours_2, apache_2) = tokio::join!(
        run_zkcli(&zkcli, &ours_addr, &second_text),
        run_zkcli(&zkcli, &apache_addr, &second_text)
    );
    server.shutdown().await;

    let (o1, a1) = (steps(&first, &ours_1), steps(&first, &apache_1));
    let (o2, a2) = (steps(&second, &ours_2), steps(&second, &apache_2));

    // The transcripts say what we expect (checked on Apache's, so a broken script shows here).
    let created = step(&first, &a1, "create");
    for line in [
        "Created /cli",
        "Node already exists: /cli",
        "Created /cli/seq-0000000000",
        "Created /cli/seq-0000000001",
        "Created /cli/eseq-0000000003",
        "Created /cli/ttlseq-0000000006",
    ] {
        assert!(created.iter().any(|l| l == line), "{line} in {created:#?}");
    }
    assert!(step(&first, &a1, "whoami")
        .iter()
        .any(|l| l == "digest: alice"));
    assert!(step(&second, &a2, "right password")
        .iter()
        .any(|l| l == "p"));
    assert!(step(&second, &a2, "no auth")
        .iter()
        .any(|l| l.starts_with("Insufficient permission")));

    // Shown with --nocapture: the normalized transcripts both servers agreed on.
    for (script, steps) in [(&first, &o1), (&second, &o2)] {
        for ((name, _), lines) in script.iter().zip(steps.iter()) {
            eprintln!("== {name}\n{}", lines.join("\n"));
        }
    }
    let diff = compare(&first, &o1, &a1) + &compare(&second, &o2, &a2);
    assert!(
        diff.is_empty(),
        "zkCli output differs between zk-server and Apache ZooKeeper:\n{diff}\n\
         --- zk-server, first session\n{ours_1}\n--- Apache, first session\n{apache_1}"
    );
}
