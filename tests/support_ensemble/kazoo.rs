//! kazoo as a peer driven over a pipe: tests/python/ensemble_clients.py answers one command per line
//! (see its docstring), so the Rust test decides when to kill servers and what kazoo must see.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::support_thirdparty::workspace_root;

/// How long kazoo may take to answer one command (each of its own waits has a 30 s deadline).
const REPLY_DEADLINE: Duration = Duration::from_secs(45);

/// A running `ensemble_clients.py`.
pub struct KazooPeer {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every line kazoo printed, for failure messages.
    transcript: Vec<String>,
}

impl KazooPeer {
    /// Starts the script with kazoo connecting to `hosts` in order, on the znodes under `prefix`, and waits
    /// for `READY`; returns the peer and its session id.
    pub async fn start(python: &Path, hosts: &str, prefix: &str) -> (KazooPeer, i64) {
        let script = workspace_root().join("tests/python/ensemble_clients.py");
        let mut child = Command::new(python)
            .arg("-u")
            .arg(&script)
            .arg(hosts)
            .arg(prefix)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} {}: {e}", python.display(), script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut peer = KazooPeer {
            child,
            stdin,
            stdout,
            transcript: Vec::new(),
        };
        let ready = peer.reply("READY").await;
        let session = parse_hex(&ready["READY ".len()..])
            .unwrap_or_else(|| peer.fail(&format!("bad READY line {ready:?}")));
        (peer, session)
    }

    /// Sends `command` and returns kazoo's reply line, which must start with `expect`.
    pub async fn command(&mut self, command: &str, expect: &str) -> String {
        let line = format!("{command}\n");
        if let Err(e) = self.stdin.write_all(line.as_bytes()).await {
            self.fail(&format!("writing {command:?} to kazoo: {e}"));
        }
        self.reply(expect).await
    }

    /// Asks kazoo to stop its client (closing the session) and exit.
    pub async fn quit(mut self) {
        self.command("QUIT", "BYE").await;
        let status = tokio::time::timeout(REPLY_DEADLINE, self.child.wait()).await;
        match status {
            Ok(Ok(status)) if status.success() => {}
            other => self.fail(&format!("kazoo did not exit cleanly: {other:?}")),
        }
    }

    async fn reply(&mut self, expect: &str) -> String {
        loop {
            let line = match tokio::time::timeout(REPLY_DEADLINE, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => self.fail(&format!("kazoo exited while we waited for {expect}")),
                Ok(Err(e)) => self.fail(&format!("reading kazoo's output: {e}")),
                Err(_) => self.fail(&format!("no {expect} from kazoo within {REPLY_DEADLINE:?}")),
            };
            self.transcript.push(line.clone());
            if line.starts_with(expect) {
                return line;
            }
            if line.starts_with("FAIL") {
                // The traceback follows; collect what is already there.
                while let Ok(Ok(Some(more))) =
                    tokio::time::timeout(Duration::from_secs(2), self.stdout.next_line()).await
                {
                    self.transcript.push(more);
                }
                self.fail(&format!("kazoo failed while we waited for {expect}"));
            }
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "kazoo peer: {what}\n--- kazoo's output\n{}",
            self.transcript.join("\n")
        );
    }
}

fn parse_hex(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    u64::from_str_radix(digits, 16).ok().map(|v| v as i64)
}
