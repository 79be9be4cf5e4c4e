//! Access control: schemes world, auth, digest, ip and super, as Apache ZooKeeper's
//! `ZooKeeperServer.checkACL`, `PrepRequestProcessor.fixupACL` and the authentication providers
//! implement them. ACL lists are interned ([`AclCache`]) so that nodes share one copy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use sha1::{Digest, Sha1};
use zk_proto::{Acl, ErrorCode, Id, Record};

/// A shared, immutable ACL list.
pub type AclList = Arc<[Acl]>;

/// The identities a connection has authenticated as (`ServerCnxn.authInfo`). Every connection
/// starts with `ip:<remote address>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthIds {
    ids: Vec<Id>,
}

impl AuthIds {
    /// The ids of a new connection from `addr` (`ip` scheme), as Apache adds them.
    pub fn for_peer(addr: Option<IpAddr>) -> Self {
        let ids = addr
            .map(|a| vec![Id::new("ip", a.to_string())])
            .unwrap_or_default();
        AuthIds { ids }
    }

    /// Adds an id unless present.
    pub fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    /// All ids.
    pub fn ids(&self) -> &[Id] {
        &self.ids
    }

    /// Whether one id is `super`.
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|i| i.scheme == "super")
    }
}

/// `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1("user:password"))`.
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(id_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Java's `String.split(":")`: trailing empty strings removed.
fn java_split_colon(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(':').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts == [""] {
        parts.clear();
    }
    parts
}

/// Handles an auth packet: returns the ids to add, or `AuthFailed` for an unknown scheme
/// (`ZooKeeperServer.processPacket`; Apache then closes the connection).
pub fn authenticate(
    scheme: &str,
    auth: &[u8],
    super_digest: Option<&str>,
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let id = String::from_utf8_lossy(auth);
            let digest = generate_digest(&id);
            let mut ids = Vec::new();
            if super_digest == Some(digest.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", digest));
            Ok(ids)
        }
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// Whether the provider for `scheme` accepts `id` in an ACL (`isValid`).
fn provider_is_valid(scheme: &str, id: &str) -> bool {
    match scheme {
        "digest" => java_split_colon(id).len() == 2,
        "ip" => parse_ip_acl(id).is_some(),
        _ => false,
    }
}

/// Whether an authenticated id of a provider may expand an `auth` ACL (`isAuthenticated`).
fn provider_is_authenticated(scheme: &str) -> bool {
    scheme == "digest"
}

fn parse_ip_acl(expr: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (expr, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    if bits > max {
        return None;
    }
    Some((ip, bits))
}

fn ip_matches(id: &str, expr: &str) -> bool {
    let Some((net, bits)) = parse_ip_acl(expr) else {
        return false;
    };
    let Ok(ip) = id.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn provider_matches(scheme: &str, id: &str, expr: &str) -> bool {
    match scheme {
        "digest" => id == expr,
        "ip" => ip_matches(id, expr),
        _ => false,
    }
}

/// `ZooKeeperServer.checkACL`: `Ok` if `ids` hold `perm` on a node with `acl`.
pub fn check_acl(acl: &[Acl], perm: i32, ids: &AuthIds) -> Result<(), ErrorCode> {
    if acl.is_empty() || ids.is_super() {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        for auth in ids.ids() {
            if auth.scheme == a.id.scheme && provider_matches(&auth.scheme, &auth.id, &a.id.id) {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `PrepRequestProcessor.fixupACL`: removes duplicates, rejects empty lists and invalid ids,
/// and expands `auth` entries into the connection's authenticated ids.
pub fn fixup_acl(acls: &[Acl], ids: &AuthIds) -> Result<Vec<Acl>, ErrorCode> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acls.len());
    for a in acls {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let mut valid = false;
            for cid in ids.ids() {
                if provider_is_authenticated(&cid.scheme) {
                    valid = true;
                    out.push(Acl::new(a.perms, cid.clone()));
                }
            }
            if !valid {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if provider_is_valid(&a.id.scheme, &a.id.id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// getACL without ADMIN permission masks digest ids as `user:x` (`FinalRequestProcessor`).
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl::new(a.perms, Id::new("digest", format!("{user}:x")))
            } else {
                a.clone()
            }
        })
        .collect()
}

/// The user name a provider reports for `whoAmI` (`getUserName`).
pub fn user_name(id: &Id) -> String {
    match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or("").to_string(),
        _ => id.id.clone(),
    }
}

/// Interns ACL lists so that nodes with equal ACLs share one allocation (Apache's
/// `ReferenceCountedACLCache`).
#[derive(Debug, Default)]
pub struct AclCache {
    by_encoding: HashMap<Bytes, AclList>,
}

impl AclCache {
    /// The shared copy of `acl`.
    pub fn intern(&mut self, acl: &[Acl]) -> AclList {
        let key = acl.to_vec().to_bytes();
        if let Some(a) = self.by_encoding.get(&key) {
            return a.clone();
        }
        let list: AclList = acl.to_vec().into();
        self.by_encoding.insert(key, list.clone());
        if self.by_encoding.len() > 1024 && self.by_encoding.len().is_power_of_two() {
            self.purge();
        }
        list
    }

    /// Drops lists no node uses any more.
    pub fn purge(&mut self) {
        self.by_encoding.retain(|_, v| Arc::strong_count(v) > 1);
    }

    /// How many distinct lists are cached.
    pub fn len(&self) -> usize {
        self.by_encoding.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.by_encoding.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::perms;

    #[test]
    fn digest_matches_apache() {
        // DigestAuthenticationProvider.generateDigest("super:test") as documented by Apache.
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn ip_masks() {
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("10.1.2.3", "10.0.0.0/33"));
        assert!(ip_matches("::1", "::1"));
    }

    #[test]
    fn check_and_fixup() {
        let ids = AuthIds::for_peer(Some("127.0.0.1".parse().unwrap()));
        assert_eq!(fixup_acl(&[], &ids), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup_acl(&Acl::creator_all(), &ids),
            Err(ErrorCode::InvalidAcl)
        );
        let mut authed = ids.clone();
        authed.add(Id::new("digest", generate_digest("u:p")));
        let fixed = fixup_acl(&Acl::creator_all(), &authed).unwrap();
        assert_eq!(fixed[0].id.scheme, "digest");
        assert_eq!(check_acl(&fixed, perms::READ, &ids), Err(ErrorCode::NoAuth));
        assert_eq!(check_acl(&fixed, perms::READ, &authed), Ok(()));
        let ip = vec![Acl::new(perms::READ, Id::new("ip", "127.0.0.0/8"))];
        assert_eq!(check_acl(&ip, perms::READ, &ids), Ok(()));
        assert_eq!(check_acl(&ip, perms::WRITE, &ids), Err(ErrorCode::NoAuth));
        assert_eq!(
            fixup_acl(&[Acl::new(1, Id::new("digest", "nocolon"))], &ids),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[Acl::new(1, Id::new("world", "someone"))], &ids),
            Err(ErrorCode::InvalidAcl)
        );
    }
}
