//! Record framing inside a segment (`FileTxnLog.append`, `Util.writeTxnBytes`/`readTxnBytes`):
//!
//! ```text
//! checksum  long   Adler-32 of the entry bytes only (not of the length or the marker)
//! length    int    entry length; 0 marks the zero padding after the last record
//! entry     bytes  TxnHeader + body + optional TxnDigest (a LoggedTxn)
//! marker    byte   'B' (0x42, "end of record")
//! ```

use crate::Adler32;

/// Bytes a record adds around its entry: checksum, length and marker.
pub const RECORD_OVERHEAD: usize = 8 + 4 + 1;

/// Bytes before the entry: checksum and length.
pub(crate) const RECORD_PREFIX: usize = 8 + 4;

/// The end-of-record marker (`Util.writeTxnBytes` writes `(byte) 0x42`).
pub const END_OF_RECORD: u8 = b'B';

/// Appends one framed record holding `entry` to `out`.
pub(crate) fn frame(entry: &[u8], out: &mut Vec<u8>) {
    let checksum = i64::from(Adler32::checksum(entry));
    out.extend_from_slice(&checksum.to_be_bytes());
    // Callers bound entries by the max record size, far below i32::MAX.
    out.extend_from_slice(&(entry.len() as i32).to_be_bytes());
    out.extend_from_slice(entry);
    out.push(END_OF_RECORD);
}

/// Splits a record prefix into (checksum, length).
pub(crate) fn parse_prefix(prefix: &[u8; RECORD_PREFIX]) -> (i64, i32) {
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&prefix[..8]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&prefix[8..]);
    (i64::from_be_bytes(crc), i32::from_be_bytes(len))
}

/// True if a complete record with a matching checksum and marker starts at `buf[at..]`.
///
/// Used to tell a torn tail from corruption in the middle: only a record that was written whole
/// can pass, and a torn write leaves none behind it.
pub(crate) fn valid_record_at(buf: &[u8], at: usize, max_record_size: usize) -> bool {
    let Some(prefix) = buf.get(at..at.saturating_add(RECORD_PREFIX)) else {
        return false;
    };
    let mut p = [0u8; RECORD_PREFIX];
    p.copy_from_slice(prefix);
    let (checksum, len) = parse_prefix(&p);
    // Adler-32 is never 0 (its low half starts at 1) and fits in 32 bits.
    if checksum <= 0 || checksum > i64::from(u32::MAX) || len <= 0 || len as usize > max_record_size
    {
        return false;
    }
    let start = at + RECORD_PREFIX;
    let end = start + len as usize;
    match (buf.get(start..end), buf.get(end)) {
        (Some(entry), Some(&END_OF_RECORD)) => i64::from(Adler32::checksum(entry)) == checksum,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout() {
        let mut out = Vec::new();
        frame(b"abc", &mut out);
        assert_eq!(out.len(), 3 + RECORD_OVERHEAD);
        assert_eq!(&out[..8], &0x024d_0127i64.to_be_bytes());
        assert_eq!(&out[8..12], &3i32.to_be_bytes());
        assert_eq!(&out[12..15], b"abc");
        assert_eq!(out[15], b'B');
        assert!(valid_record_at(&out, 0, 100));
        assert!(!valid_record_at(&out, 0, 2));
        assert!(!valid_record_at(&out, 1, 100));
        assert!(!valid_record_at(&out[..15], 0, 100));
        let mut bad = out.clone();
        bad[13] ^= 1;
        assert!(!valid_record_at(&bad, 0, 100));
    }
}
