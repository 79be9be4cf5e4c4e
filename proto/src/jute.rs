//! Jute, ZooKeeper's serialization: big-endian primitives, length-prefixed buffers, strings and
//! vectors, where a length of -1 encodes `null`.
//!
//! Every wire type implements [`Record`]. Reading works on [`Bytes`] so that data payloads are
//! sliced out of the received frame without copying; writing appends to a [`BytesMut`].
//! Decoders check each length against the bytes actually present before allocating anything,
//! so hostile input yields a [`DecodeError`] rather than a panic or an oversized allocation.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::DecodeError;

/// A value with a jute encoding.
pub trait Record: Sized {
    /// Appends the jute encoding of `self` to `buf`.
    fn write(&self, buf: &mut BytesMut);
    /// Decodes one value from the front of `buf`, advancing it.
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError>;

    /// Encodes `self` into a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.write(&mut buf);
        buf.freeze()
    }
}

fn need(buf: &Bytes, n: usize, what: &'static str) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError::Truncated {
            what,
            needed: n - buf.remaining(),
        })
    } else {
        Ok(())
    }
}

/// Reads a jute `int`.
pub fn read_i32(buf: &mut Bytes, what: &'static str) -> Result<i32, DecodeError> {
    need(buf, 4, what)?;
    Ok(buf.get_i32())
}

/// Reads a jute `long`.
pub fn read_i64(buf: &mut Bytes, what: &'static str) -> Result<i64, DecodeError> {
    need(buf, 8, what)?;
    Ok(buf.get_i64())
}

/// Reads a jute `boolean` (one byte, non-zero is true, as Java's `DataInput.readBoolean`).
pub fn read_bool(buf: &mut Bytes, what: &'static str) -> Result<bool, DecodeError> {
    need(buf, 1, what)?;
    Ok(buf.get_u8() != 0)
}

/// Reads a length prefix: `Ok(None)` for the null marker -1, an error for other negative values
/// or for a length larger than the remaining input.
fn read_len(buf: &mut Bytes, what: &'static str) -> Result<Option<usize>, DecodeError> {
    let len = read_i32(buf, what)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > buf.remaining() {
        return Err(DecodeError::BadLength {
            what,
            len: len.into(),
        });
    }
    Ok(Some(len as usize))
}

/// Reads a jute `buffer`; `None` is the null buffer (length -1).
pub fn read_buffer(buf: &mut Bytes, what: &'static str) -> Result<Option<Bytes>, DecodeError> {
    Ok(read_len(buf, what)?.map(|len| buf.split_to(len)))
}

/// Reads a jute `ustring`; the null string (length -1) reads as `None`.
pub fn read_opt_string(buf: &mut Bytes, what: &'static str) -> Result<Option<String>, DecodeError> {
    match read_len(buf, what)? {
        None => Ok(None),
        Some(len) => {
            let raw = buf.split_to(len);
            String::from_utf8(raw.to_vec())
                .map(Some)
                .map_err(|_| DecodeError::BadUtf8 { what })
        }
    }
}

/// Reads a jute `ustring`, mapping the null string to `""` (ZooKeeper never sends null paths).
pub fn read_string(buf: &mut Bytes, what: &'static str) -> Result<String, DecodeError> {
    Ok(read_opt_string(buf, what)?.unwrap_or_default())
}

/// Reads a jute `vector`; `None` is the null vector (length -1).
///
/// The element count is bounded by the remaining bytes (every element takes at least one byte),
/// so a hostile count cannot force a large allocation.
pub fn read_opt_vec<T: Record>(
    buf: &mut Bytes,
    what: &'static str,
) -> Result<Option<Vec<T>>, DecodeError> {
    let len = read_i32(buf, what)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > buf.remaining() {
        return Err(DecodeError::BadLength {
            what,
            len: len.into(),
        });
    }
    // Reserve no more memory than the remaining input bytes: a decoded element can be much
    // larger than its encoding (an `Acl` is 56 bytes, encoded in 12), so reserving `len`
    // elements up front would let a short input claim a large allocation.
    let max_reserve = buf.remaining() / std::mem::size_of::<T>().max(1);
    let mut out = Vec::with_capacity((len as usize).min(max_reserve));
    for _ in 0..len {
        out.push(T::read(buf)?);
    }
    Ok(Some(out))
}

/// Writes a jute `int`.
pub fn write_i32(buf: &mut BytesMut, v: i32) {
    buf.put_i32(v);
}

/// Writes a jute `long`.
pub fn write_i64(buf: &mut BytesMut, v: i64) {
    buf.put_i64(v);
}

/// Writes a jute `boolean`.
pub fn write_bool(buf: &mut BytesMut, v: bool) {
    buf.put_u8(u8::from(v));
}

/// Writes a jute `buffer`, `None` as the null buffer.
pub fn write_buffer(buf: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        None => buf.put_i32(-1),
        Some(b) => {
            buf.put_i32(len_i32(b.len()));
            buf.put_slice(b);
        }
    }
}

/// Writes a jute `ustring`.
pub fn write_string(buf: &mut BytesMut, v: &str) {
    buf.put_i32(len_i32(v.len()));
    buf.put_slice(v.as_bytes());
}

/// Writes a jute `vector`, `None` as the null vector.
pub fn write_vec<T: Record>(buf: &mut BytesMut, v: Option<&[T]>) {
    match v {
        None => buf.put_i32(-1),
        Some(items) => {
            buf.put_i32(len_i32(items.len()));
            for item in items {
                item.write(buf);
            }
        }
    }
}

/// Jute lengths are `int`s; nothing we encode comes close, but saturate rather than wrap.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

impl Record for i32 {
    fn write(&self, buf: &mut BytesMut) {
        write_i32(buf, *self)
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        read_i32(buf, "int")
    }
}

impl Record for i64 {
    fn write(&self, buf: &mut BytesMut) {
        write_i64(buf, *self)
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        read_i64(buf, "long")
    }
}

impl Record for bool {
    fn write(&self, buf: &mut BytesMut) {
        write_bool(buf, *self)
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        read_bool(buf, "boolean")
    }
}

/// `String` is a jute `ustring`; null reads as `""`.
impl Record for String {
    fn write(&self, buf: &mut BytesMut) {
        write_string(buf, self)
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        read_string(buf, "ustring")
    }
}

/// `Option<String>` is a jute `ustring` that keeps the null/empty distinction.
impl Record for Option<String> {
    fn write(&self, buf: &mut BytesMut) {
        match self {
            None => buf.put_i32(-1),
            Some(s) => write_string(buf, s),
        }
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        read_opt_string(buf, "ustring")
    }
}

/// `Option<Bytes>` is a jute `buffer` that keeps the null/empty distinction.
impl Record for Option<Bytes> {
    fn write(&self, buf: &mut BytesMut) {
        write_buffer(buf, self.as_deref())
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        read_buffer(buf, "buffer")
    }
}

/// `Bytes` is a jute `buffer` where null reads as empty.
impl Record for Bytes {
    fn write(&self, buf: &mut BytesMut) {
        write_buffer(buf, Some(self))
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(read_buffer(buf, "buffer")?.unwrap_or_default())
    }
}

/// `Vec<T>` is a jute `vector`; null reads as empty.
impl<T: Record> Record for Vec<T> {
    fn write(&self, buf: &mut BytesMut) {
        write_vec(buf, Some(self))
    }
    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(read_opt_vec(buf, "vector")?.unwrap_or_default())
    }
}

/// Declares a jute record: a struct whose fields are encoded in declaration order.
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::jute::Record for $name {
            #[allow(unused_variables)]
            fn write(&self, buf: &mut ::bytes::BytesMut) {
                $( $crate::jute::Record::write(&self.$field, buf); )*
            }
            #[allow(unused_variables)]
            fn read(buf: &mut ::bytes::Bytes) -> Result<Self, $crate::DecodeError> {
                Ok(Self { $( $field: $crate::jute::Record::read(buf)?, )* })
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl $crate::arbitrary::Arb for $name {
            fn arb() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ( $( <$ty as $crate::arbitrary::Arb>::arb(), )* )
                    .prop_map(|( $( $field, )* )| Self { $( $field, )* })
                    .boxed()
            }
        }
    };
}
pub(crate) use record;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_buffer_round_trips() {
        let mut out = BytesMut::new();
        write_buffer(&mut out, None);
        assert_eq!(&out[..], &[0xff, 0xff, 0xff, 0xff]);
        let mut b = out.freeze();
        assert_eq!(read_buffer(&mut b, "x").unwrap(), None);
    }

    #[test]
    fn hostile_lengths_are_errors() {
        // A vector claiming 2^31-1 elements in an 8-byte input.
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(matches!(
            read_opt_vec::<i32>(&mut b, "v"),
            Err(DecodeError::BadLength { .. })
        ));
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(read_buffer(&mut b, "b").is_err());
        let mut b = Bytes::from_static(&[0, 0, 0]);
        assert!(matches!(
            read_i32(&mut b, "i"),
            Err(DecodeError::Truncated { needed: 1, .. })
        ));
    }

    #[test]
    fn string_is_length_prefixed_utf8() {
        let mut out = BytesMut::new();
        write_string(&mut out, "/a");
        assert_eq!(&out[..], &[0, 0, 0, 2, b'/', b'a']);
        let mut bad = Bytes::from_static(&[0, 0, 0, 1, 0xff]);
        assert_eq!(
            read_string(&mut bad, "s"),
            Err(DecodeError::BadUtf8 { what: "s" })
        );
    }
}
