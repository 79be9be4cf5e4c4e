//! Server and connection counters for the four-letter words (`ServerStats`, `ServerCnxn`'s
//! per-connection stats).
//!
//! The core task owns them, so the hot path updates plain integers: no atomics, no locks.
//! Latency runs from the moment a connection task read the request off the socket (Apache's
//! `Request.createTime`) to the moment the core hands the reply to the connection
//! (`FinalRequestProcessor.updateStats`); it is kept in microseconds and shown in
//! milliseconds, as Apache shows it.

use std::sync::OnceLock;
use std::time::Instant;

use zk_proto::OpCode;

/// `AvgMinMaxCounter` over latencies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    count: u64,
    total_us: u64,
    min_us: u64,
    max_us: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            count: 0,
            total_us: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }
}

impl Latency {
    /// Adds one data point.
    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.total_us += us;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    /// The smallest latency in whole ms (0 before any request).
    pub fn min_ms(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_us / 1000
        }
    }

    /// The largest latency in whole ms.
    pub fn max_ms(&self) -> u64 {
        self.max_us / 1000
    }

    /// The mean latency in ms, rounded half-up to 4 decimals (`AvgMinMaxCounter.getAvg`).
    pub fn avg_ms(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        // total_us / count / 1000, rounded to 4 decimals = 0.1 us steps.
        let tenths_us = (self.total_us * 10 + self.count / 2) / self.count;
        tenths_us as f64 / 10_000.0
    }

    /// The mean in whole ms (`ServerCnxn.getAvgLatency`: integer division).
    pub fn avg_ms_whole(&self) -> u64 {
        self.total_us.checked_div(self.count).unwrap_or(0) / 1000
    }
}

/// Counters kept by the core.
#[derive(Debug, Default, Clone)]
pub(crate) struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub txns_committed: u64,
    pub events_sent: u64,
    pub sessions_expired: u64,
    pub auth_failed: u64,
    pub snapshots: u64,
    pub latency: Latency,
    pub response_size: ResponseSize,
}

/// `BufferStats` over reply sizes (`last/min/max_client_response_size`, -1 before any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSize {
    /// The last reply's size in bytes (its length prefix excluded).
    pub last: i64,
    /// The smallest.
    pub min: i64,
    /// The largest.
    pub max: i64,
}

impl Default for ResponseSize {
    fn default() -> Self {
        ResponseSize {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl ResponseSize {
    fn record(&mut self, size: i64) {
        self.last = size;
        self.min = if self.min < 0 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
    }
}

/// One reply handed to a connection (`FinalRequestProcessor.updateStats` and
/// `ServerCnxn.updateStatsForResponse`).
pub(crate) struct ReplyNote {
    pub op: &'static str,
    pub cxid: i32,
    pub received: Micros,
    /// The frame, length prefix included.
    pub frame_len: usize,
}

impl ServerStats {
    /// `srst` (`ServerStats.reset`): latency and packet counters back to zero.
    pub fn reset(&mut self) {
        self.latency = Latency::default();
        self.packets_received = 0;
        self.packets_sent = 0;
        self.events_sent = 0;
        self.auth_failed = 0;
        self.response_size = ResponseSize::default();
    }

    /// Accounts one reply; `now` is the core's loop time, `uptime_ms` the ms since start.
    pub fn reply(&mut self, c: &mut ConnStats, note: ReplyNote, now: Micros, uptime_ms: u64) {
        let us = now.saturating_sub(note.received);
        self.packets_sent += 1;
        self.latency.record(us);
        self.response_size
            .record(note.frame_len.saturating_sub(4) as i64);
        if note.cxid >= 0 {
            c.last_cxid = i64::from(note.cxid);
        }
        c.last_op = note.op;
        c.last_response_ms = uptime_ms;
        c.last_latency_ms = us / 1000;
        c.latency.record(us);
    }
}

/// Per-connection counters (`cons`); packet counts live in the connection itself.
#[derive(Debug, Clone)]
pub(crate) struct ConnStats {
    pub latency: Latency,
    pub last_latency_ms: u64,
    pub last_op: &'static str,
    pub last_cxid: i64,
    /// Milliseconds since the server started (Apache prints `Time.currentElapsedTime()`).
    pub last_response_ms: u64,
    /// Wall-clock ms when the connection was established.
    pub established_ms: i64,
}

impl ConnStats {
    pub fn new(established_ms: i64) -> Self {
        ConnStats {
            latency: Latency::default(),
            last_latency_ms: 0,
            last_op: "NA",
            last_cxid: -1,
            last_response_ms: 0,
            established_ms,
        }
    }

    /// `crst` (`ServerCnxn.resetStats`).
    pub fn reset(&mut self) {
        *self = ConnStats {
            established_ms: self.established_ms,
            ..ConnStats::new(0)
        };
    }
}

/// A point in time: microseconds on the process clock ([`clock_us`]). Requests carry one, so
/// a latency is one subtraction.
pub(crate) type Micros = u64;

/// Microseconds since the process clock started (a monotonic clock read).
pub(crate) fn clock_us() -> Micros {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    base.elapsed().as_micros().min(u128::from(u64::MAX)) as u64
}

/// The `lop` name `FinalRequestProcessor` gives each request type.
pub(crate) fn last_op_name(op: OpCode) -> &'static str {
    use OpCode as O;
    match op {
        O::Ping => "PING",
        O::CreateSession => "SESS",
        O::Multi => "MULT",
        O::MultiRead => "MLTR",
        O::Create | O::Create2 | O::CreateTtl | O::CreateContainer => "CREA",
        O::Delete | O::DeleteContainer => "DELE",
        O::SetData => "SETD",
        O::Reconfig => "RECO",
        O::SetAcl => "SETA",
        O::CloseSession => "CLOS",
        O::Sync => "SYNC",
        O::Check => "CHEC",
        O::Exists => "EXIS",
        O::GetData => "GETD",
        O::SetWatches => "SETW",
        O::SetWatches2 => "STW2",
        O::AddWatch => "ADDW",
        O::GetAcl => "GETA",
        O::GetChildren | O::GetChildren2 => "GETC",
        O::GetAllChildrenNumber => "GETACN",
        O::CheckWatches => "CHKW",
        O::RemoveWatches => "REMW",
        O::WhoAmI => "HOMI",
        O::GetEphemerals => "GETE",
        _ => "NA",
    }
}

/// A 4-decimal average as Java's `Double.toString` prints it: plain with at least one
/// fractional digit from 10^-3 up, scientific notation below (`1.0E-4`).
pub(crate) fn java_double(v: f64) -> String {
    if v == 0.0 {
        return "0.0".into();
    }
    if v >= 1e-3 {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Only 4-decimal averages reach here: 0.0001 ..= 0.0009.
        format!("{}.0E-4", (v * 1e4).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_like_avg_min_max_counter() {
        let mut l = Latency::default();
        assert_eq!((l.min_ms(), l.avg_ms(), l.max_ms()), (0, 0.0, 0));
        l.record(1500);
        l.record(250);
        l.record(12_000);
        assert_eq!(l.min_ms(), 0);
        assert_eq!(l.max_ms(), 12);
        assert_eq!(l.avg_ms(), 4.5833);
        assert_eq!(l.avg_ms_whole(), 4);
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.2903), "0.2903");
        assert_eq!(java_double(12.5), "12.5");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(0.0005), "5.0E-4");
    }

    #[test]
    fn op_names() {
        assert_eq!(last_op_name(OpCode::GetData), "GETD");
        assert_eq!(last_op_name(OpCode::Create2), "CREA");
        assert_eq!(last_op_name(OpCode::GetAllChildrenNumber), "GETACN");
    }
}
