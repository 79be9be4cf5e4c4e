//! Driving the installed Apache ZooKeeper from tests: the `ZkProbe` Java client (compiled on the
//! fly), `zkCli.sh`, and Apache's TxnLogToolkit and SnapshotFormatter.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use zk_testkit::{Java, TestDir};

/// `zkCli.sh` from Debian's `zookeeper` package.
pub const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// The probe and the Java it runs on: compiled with `javac` when there is one, else run by the
/// JVM's single-file source launcher (`java ZkProbe.java`, which only needs the `jdk.compiler`
/// module that Debian's JRE ships).
pub struct Probe {
    java: Java,
    /// What to pass as the main class: `ZkProbe`, or the source file's path.
    main: String,
    _classes: TestDir,
}

/// One node as the Apache client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpNode {
    pub data: Option<Vec<u8>>,
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
    pub num_children: i32,
    pub data_length: i32,
    /// `perms:scheme:id` entries.
    pub acl: Vec<String>,
}

fn check(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

impl Probe {
    /// Compiles `tests/java/ZkProbe.java`, or skips (prints why, returns `None`) without Java,
    /// unless `ZK_REQUIRE_APACHE` is set.
    pub fn compile_or_skip(test_name: &str) -> Option<Probe> {
        let java = zk_testkit::java_or_skip(test_name)?;
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/ZkProbe.java");
        let classes = TestDir::new("zkprobe").expect("class dir");
        let javac = java.java().with_file_name("javac");
        let javac = if javac.is_file() {
            javac
        } else {
            PathBuf::from("javac")
        };
        let compiled = Command::new(&javac)
            .arg("-d")
            .arg(classes.path())
            .arg("-cp")
            .arg(java.classpath_string())
            .arg(&source)
            .output();
        match compiled {
            Ok(out) => {
                check("javac ZkProbe.java", out);
                let java = java.with_classpath_entry(classes.path().as_os_str().to_owned());
                Some(Probe {
                    java,
                    main: "ZkProbe".into(),
                    _classes: classes,
                })
            }
            Err(e) => {
                eprintln!(
                    "{test_name}: no javac ({e}); running ZkProbe.java with the source launcher"
                );
                Some(Probe {
                    java,
                    main: source.display().to_string(),
                    _classes: classes,
                })
            }
        }
    }

    /// The Java installation (with the probe on its class path).
    pub fn java(&self) -> &Java {
        &self.java
    }

    fn run(&self, mode: &str, connect: &str) -> String {
        let out = self
            .java
            .command::<&str>(&[], &self.main)
            .arg(mode)
            .arg(connect)
            .stdin(Stdio::null())
            .output()
            .expect("run ZkProbe");
        check(&format!("ZkProbe {mode}"), out)
    }

    /// Writes the probe's tree; returns its still-open session (id, negotiated timeout).
    pub fn write(&self, connect: &str) -> (i64, i32) {
        let out = self.run("write", connect);
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("SESSION "))
            .unwrap_or_else(|| panic!("no SESSION line in:\n{out}"));
        let mut parts = line.split_whitespace();
        let id = u64::from_str_radix(parts.next().unwrap(), 16).unwrap() as i64;
        let timeout = parts.next().unwrap().parse().unwrap();
        (id, timeout)
    }

    /// Every node the server serves, by path.
    pub fn dump(&self, connect: &str) -> BTreeMap<String, DumpNode> {
        let out = self.run("dump", connect);
        assert!(out.lines().any(|l| l == "END"), "incomplete dump:\n{out}");
        let mut nodes = BTreeMap::new();
        for line in out.lines().filter_map(|l| l.strip_prefix("NODE\t")) {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 14, "bad dump line {line:?}");
            let data = match f[1] {
                "NULL" => None,
                "-" => Some(Vec::new()),
                hex => Some(
                    (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect(),
                ),
            };
            let n = |i: usize| f[i].parse::<i64>().unwrap();
            nodes.insert(
                f[0].to_owned(),
                DumpNode {
                    data,
                    czxid: n(2),
                    mzxid: n(3),
                    ctime: n(4),
                    mtime: n(5),
                    version: n(6) as i32,
                    cversion: n(7) as i32,
                    aversion: n(8) as i32,
                    ephemeral_owner: n(9),
                    pzxid: n(10),
                    num_children: n(11) as i32,
                    data_length: n(12) as i32,
                    acl: if f[13].is_empty() {
                        Vec::new()
                    } else {
                        f[13].split(',').map(str::to_owned).collect()
                    },
                },
            );
        }
        nodes
    }

    /// Runs an Apache class's `main` with `args`; returns (exit success, stdout + stderr).
    pub fn run_tool(&self, main_class: &str, args: &[&Path]) -> (bool, String) {
        let out = self
            .java
            .command::<&str>(&[], main_class)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run Apache tool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

/// Runs `zkCli.sh -server <connect>` with `commands` on stdin; returns its output.
pub fn zkcli(connect: &str, commands: &[&str]) -> String {
    let mut child = Command::new(ZKCLI)
        .arg("-server")
        .arg(connect)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zkCli.sh");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for c in commands {
            writeln!(stdin, "{c}").expect("write to zkCli");
        }
        writeln!(stdin, "quit").expect("write to zkCli");
    }
    let out = child.wait_with_output().expect("zkCli output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `perms:scheme:id` as the probe prints an ACL entry.
pub fn acl_strings(acl: &[zk_proto::Acl]) -> Vec<String> {
    acl.iter()
        .map(|a| format!("{}:{}:{}", a.perms, a.id.scheme, a.id.id))
        .collect()
}
