//! Normalization: a [`Transcript`] becomes lines of text that two servers must produce alike.
//!
//! What differs legitimately between two servers running the same script is replaced:
//! - zxids (czxid, mzxid, pzxid, reply-header zxids) by `Z<n>`, their rank of first appearance
//!   within the transcript, so their relative order is still compared (0 and -1 stay literal);
//! - ctime and mtime by `T` (0 stays literal);
//! - session ids by `S<n>`, their rank of appearance in handshake answers (0 is `none`), and an
//!   ephemeralOwner that is one of them likewise (any other value stays literal, in hex);
//! - passwords by their length;
//! - children, getEphemerals and whoAmI lists are sorted (their order is unspecified).
//!
//! Everything else (error codes, data, versions, cversion, aversion, dataLength, numChildren, ACLs,
//! event type/state/path, sequential names, xids) is printed as is.

use std::collections::HashMap;
use std::fmt::Write;

use bytes::Bytes;
use zk_proto::records::auth::ClientInfo;
use zk_proto::{
    Acl, ErrorCode, EventType, KeeperState, MultiResult, ReplyHeader, ResponseBody, Stat,
};

use super::raw_session::Incoming;
use super::runner::{opcode_name, Entry, Outcome, Transcript};

/// One normalized transcript line and the step that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index of the step (`usize::MAX` for the final flush).
    pub step: usize,
    /// The step's description.
    pub label: String,
    /// The normalized outcome, prefixed by its slot (`S0: …`).
    pub text: String,
}

#[derive(Default)]
struct Normalizer {
    zxids: HashMap<i64, usize>,
    sessions: HashMap<i64, usize>,
}

/// Normalizes every entry of `transcript`.
pub fn normalize(transcript: &Transcript) -> Vec<Line> {
    let mut n = Normalizer::default();
    let mut lines: Vec<Line> = transcript
        .entries
        .iter()
        .map(|entry| Line {
            step: entry.step,
            label: entry.label.clone(),
            text: n.entry(entry),
        })
        .collect();
    // Sort each run of notifications recorded by an unordered step.
    let mut i = 0;
    while i < lines.len() {
        let run = transcript.entries[i..]
            .iter()
            .zip(&lines[i..])
            .take_while(|(e, l)| {
                e.unordered
                    && e.step == transcript.entries[i].step
                    && matches!(e.outcome, Outcome::Frame(Incoming::Notification { .. }))
                    && l.text.contains(": event ")
            })
            .count();
        lines[i..i + run].sort_by(|a, b| a.text.cmp(&b.text));
        i += run.max(1);
    }
    lines
}

impl Normalizer {
    fn zxid(&mut self, zxid: i64) -> String {
        if zxid == 0 || zxid == -1 {
            return zxid.to_string();
        }
        let next = self.zxids.len() + 1;
        format!("Z{}", self.zxids.entry(zxid).or_insert(next))
    }

    fn session(&mut self, id: i64) -> String {
        if id == 0 {
            return "none".into();
        }
        let next = self.sessions.len() + 1;
        format!("S{}", self.sessions.entry(id).or_insert(next))
    }

    fn owner(&self, id: i64) -> String {
        match self.sessions.get(&id) {
            _ if id == 0 => "0".into(),
            Some(rank) => format!("S{rank}"),
            None => format!("{id:#x}"),
        }
    }

    fn entry(&mut self, entry: &Entry) -> String {
        let body = match &entry.outcome {
            Outcome::Connected(r) => {
                let session = self.session(r.session_id);
                let passwd = r
                    .passwd
                    .as_ref()
                    .map_or("null".into(), |p| format!("{}B", p.len()));
                format!(
                    "connected session={session} timeout={} passwd={passwd} protocol={} readOnly={:?}",
                    r.timeout, r.protocol_version, r.read_only
                )
            }
            Outcome::Refused(why) => format!("handshake refused ({})", refusal(why)),
            Outcome::Frame(incoming) => self.incoming(incoming),
            Outcome::Timeout(what) => format!("TIMEOUT: {what}"),
            Outcome::NotConnected => "not connected".into(),
            Outcome::Dropped => "connection dropped by the client".into(),
        };
        format!("S{}: {body}", entry.slot)
    }

    fn header(&mut self, h: &ReplyHeader) -> String {
        format!(
            "xid={} zxid={} err={}",
            h.xid,
            self.zxid(h.zxid),
            err_name(h.err)
        )
    }

    fn incoming(&mut self, incoming: &Incoming) -> String {
        match incoming {
            Incoming::Reply {
                header,
                opcode,
                body,
                trailing,
            } => {
                let mut s = format!(
                    "reply {} {}",
                    opcode.map_or("?".into(), opcode_name),
                    self.header(header)
                );
                match body {
                    None => {}
                    Some(Ok(body)) => {
                        let _ = write!(s, " {}", self.body(body));
                    }
                    Some(Err(e)) => {
                        let _ = write!(s, " undecodable body: {e}");
                    }
                }
                if *trailing > 0 {
                    let _ = write!(s, " +{trailing} trailing bytes");
                }
                s
            }
            Incoming::Notification { header, event } => {
                let h = self.header(header);
                match event {
                    Ok(e) => format!(
                        "event {} {} {} ({h})",
                        EventType::try_from(e.event_type)
                            .map_or(e.event_type.to_string(), |t| format!("{t:?}")),
                        KeeperState::try_from(e.state)
                            .map_or(e.state.to_string(), |t| format!("{t:?}")),
                        e.path
                    ),
                    Err(e) => format!("undecodable event ({h}): {e}"),
                }
            }
            Incoming::Pong { header } => format!("pong {}", self.header(header)),
            Incoming::Closed => "connection closed by the server".into(),
            Incoming::Broken(e) => format!("broken frame: {e}"),
        }
    }

    fn stat(&mut self, s: &Stat) -> String {
        let czxid = self.zxid(s.czxid);
        let mzxid = self.zxid(s.mzxid);
        let pzxid = self.zxid(s.pzxid);
        format!(
            "stat{{czxid={czxid} mzxid={mzxid} pzxid={pzxid} ctime={} mtime={} version={} \
             cversion={} aversion={} ephemeralOwner={} dataLength={} numChildren={}}}",
            time(s.ctime),
            time(s.mtime),
            s.version,
            s.cversion,
            s.aversion,
            self.owner(s.ephemeral_owner),
            s.data_length,
            s.num_children
        )
    }

    fn body(&mut self, body: &ResponseBody) -> String {
        match body {
            ResponseBody::Create(r) => format!("path={}", r.path),
            ResponseBody::Create2(r) => format!("path={} {}", r.path, self.stat(&r.stat)),
            ResponseBody::Stat(r) => self.stat(&r.stat),
            ResponseBody::GetData(r) => format!("data={} {}", data(&r.data), self.stat(&r.stat)),
            ResponseBody::GetAcl(r) => format!("acl={} {}", acl(&r.acl), self.stat(&r.stat)),
            ResponseBody::GetChildren(r) => format!("children={}", sorted(&r.children)),
            ResponseBody::GetChildren2(r) => {
                format!("children={} {}", sorted(&r.children), self.stat(&r.stat))
            }
            ResponseBody::Sync(r) => format!("path={}", r.path),
            ResponseBody::Multi(r) => {
                let results: Vec<String> = r.results.iter().map(|m| self.multi(m)).collect();
                format!("results=[{}]", results.join(", "))
            }
            ResponseBody::GetEphemerals(r) => format!("ephemerals={}", sorted(&r.ephemerals)),
            ResponseBody::GetAllChildrenNumber(r) => format!("total={}", r.total_number),
            ResponseBody::WhoAmI(r) => format!("clientInfo={}", client_info(&r.client_info)),
            ResponseBody::Sasl(r) => format!("saslToken={}", data(&r.token)),
            ResponseBody::AddWatch(r) => format!("errorResponse={}", err_name(r.err)),
            ResponseBody::Empty => "empty".into(),
        }
    }

    fn multi(&mut self, m: &MultiResult) -> String {
        match m {
            MultiResult::Create { path } => format!("create path={path}"),
            MultiResult::Create2 { path, stat } => {
                format!("create2 path={path} {}", self.stat(stat))
            }
            MultiResult::Delete => "delete".into(),
            MultiResult::SetData { stat } => format!("setData {}", self.stat(stat)),
            MultiResult::Check => "check".into(),
            MultiResult::GetChildren { children } => {
                format!("getChildren children={}", sorted(children))
            }
            MultiResult::GetData { data: d, stat } => {
                format!("getData data={} {}", data(d), self.stat(stat))
            }
            MultiResult::Error { err } => format!("error {}", err_name(*err)),
        }
    }
}

fn time(t: i64) -> &'static str {
    if t == 0 {
        "0"
    } else {
        "T"
    }
}

fn refusal(why: &str) -> &str {
    // Only the kind of refusal is compared; the text may carry OS error details.
    if why.starts_with("closed") {
        "closed"
    } else if why.starts_with("read error") {
        "read error"
    } else {
        why
    }
}

/// `Name(code)` for a known error code, else the number.
pub fn err_name(code: i32) -> String {
    match ErrorCode::from_code(code) {
        Some(ErrorCode::Ok) => "0".into(),
        Some(c) => format!("{c:?}({code})"),
        None => code.to_string(),
    }
}

fn data(d: &Option<Bytes>) -> String {
    match d {
        None => "null".into(),
        Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
    }
}

fn sorted(items: &[String]) -> String {
    let mut items = items.to_vec();
    items.sort();
    format!("{items:?}")
}

fn acl(acl: &[Acl]) -> String {
    let items: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, perms(a.perms)))
        .collect();
    format!("[{}]", items.join(", "))
}

fn perms(p: i32) -> String {
    let mut s: String = [(1, 'r'), (2, 'w'), (4, 'c'), (8, 'd'), (16, 'a')]
        .iter()
        .filter(|(bit, _)| p & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    let rest = p & !31;
    if rest != 0 {
        let _ = write!(s, "+{rest:#x}");
    }
    s
}

/// whoAmI's ids, sorted: Apache lists them in no meaningful order (neither insertion nor sorted,
/// e.g. `[super:, digest:super, ip:127.0.0.1]`), so they are compared as a set.
fn client_info(info: &[ClientInfo]) -> String {
    let mut items: Vec<String> = info
        .iter()
        .map(|c| format!("{}:{}", c.auth_scheme, c.user))
        .collect();
    items.sort();
    format!("[{}]", items.join(", "))
}
