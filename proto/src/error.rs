//! Decoding errors.

use thiserror::Error;

/// Why bytes could not be decoded into a record or frame.
///
/// Decoders return this for truncated or hostile input; they never panic and never allocate more
/// than the input can justify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated input: needed {needed} more bytes for {what}")]
    Truncated {
        /// The field or record being decoded.
        what: &'static str,
        /// How many more bytes were needed.
        needed: usize,
    },
    /// A length prefix was negative (other than the jute null marker -1) or larger than the input.
    #[error("invalid length {len} for {what}")]
    BadLength {
        /// The field being decoded.
        what: &'static str,
        /// The length read from the wire.
        len: i64,
    },
    /// A frame's length prefix exceeds the configured maximum (jute.maxbuffer).
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes (jute.maxbuffer)")]
    FrameTooLarge {
        /// The length read from the prefix.
        len: i64,
        /// The configured maximum.
        max: usize,
    },
    /// A string was not valid UTF-8.
    #[error("invalid UTF-8 in {what}")]
    BadUtf8 {
        /// The field being decoded.
        what: &'static str,
    },
    /// An opcode this crate does not know.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    /// A field held a value outside its domain (e.g. an unknown create mode or watch mode).
    #[error("invalid value {value} for {what}")]
    BadValue {
        /// The field being decoded.
        what: &'static str,
        /// The value read.
        value: i64,
    },
}
