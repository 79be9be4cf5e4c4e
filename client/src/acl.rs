//! ACL helpers: the `ZooDefs.Ids` lists and digest ids (`DigestAuthenticationProvider`).
//!
//! The `digest` scheme identifies a user as `user:base64(sha1("user:password"))`. A session
//! authenticates with [`ClientBuilder::with_digest_auth`](crate::ClientBuilder::with_digest_auth)
//! (`addauth digest user:password`) and nodes grant it rights with [`digest_acl`]. SHA-1 and base64
//! are implemented here (they are a few dozen lines) rather than pulled in as dependencies.

pub use zk_proto::{perms, Acl, Id};

/// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: everyone may do everything.
pub fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// `ZooDefs.Ids.CREATOR_ALL_ACL`: every right for the identities the creating session authenticated
/// as. The server answers `InvalidAcl` if the session has not authenticated.
pub fn creator_all() -> Vec<Acl> {
    Acl::creator_all()
}

/// `ZooDefs.Ids.READ_ACL_UNSAFE`: everyone may read, nobody may change.
pub fn read_only() -> Vec<Acl> {
    Acl::read_unsafe()
}

/// The `digest` id of `user` with `password`: `user:base64(sha1("user:password"))`, as
/// `DigestAuthenticationProvider.generateDigest` computes it.
///
/// ```
/// // The example of Apache ZooKeeper's administrator guide.
/// assert_eq!(
///     zk_client::acl::digest_id("super", "test").id,
///     "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
/// );
/// ```
pub fn digest_id(user: &str, password: &str) -> Id {
    let digest = sha1(format!("{user}:{password}").as_bytes());
    Id::new("digest", format!("{user}:{}", base64(&digest)))
}

/// One ACL entry granting `perms` (see [`perms`]) to the digest user `user:password`.
pub fn digest_acl(perms: i32, user: &str, password: &str) -> Acl {
    Acl::new(perms, digest_id(user, password))
}

/// SHA-1 (FIPS 180-4) of `data`.
pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// Standard base64 (RFC 4648, with padding), as `java.util.Base64.getEncoder()`.
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_known_vectors() {
        let table = [
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            ),
        ];
        for (input, want) in table {
            assert_eq!(hex(&sha1(input.as_bytes())), want, "{input:?}");
        }
        assert_eq!(
            hex(&sha1(&[b'a'; 1_000_000])),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn base64_known_vectors() {
        let table = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in table {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn digest_matches_apache() {
        assert_eq!(
            digest_id("super", "test").id,
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(digest_id("super", "test").scheme, "digest");
    }
}
