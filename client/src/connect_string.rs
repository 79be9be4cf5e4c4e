//! [`ConnectString`]: `host1:port1,host2:port2/optional/chroot`, as Apache's `ConnectStringParser`.

use std::fmt;

use zk_proto::validate_path;

use crate::Error;

/// The port a host without `:port` gets, as `ConnectStringParser.DEFAULT_PORT` (2181).
pub const DEFAULT_CLIENT_PORT: u16 = 2181;

/// A parsed connect string: hosts, and a chroot that every path is relative to.
///
/// ```
/// use zk_client::ConnectString;
/// let cs: ConnectString = "zk1:2181,zk2,[::1]:2182/app/prod".parse().unwrap();
/// assert_eq!(cs.hosts()[1], ("zk2".to_string(), 2181));
/// assert_eq!(cs.hosts()[2], ("::1".to_string(), 2182));
/// assert_eq!(cs.chroot(), Some("/app/prod"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    hosts: Vec<(String, u16)>,
    chroot: Option<String>,
}

impl ConnectString {
    /// The hosts, in the order written.
    pub fn hosts(&self) -> &[(String, u16)] {
        &self.hosts
    }

    /// The chroot (`None` for `/` or none).
    pub fn chroot(&self) -> Option<&str> {
        self.chroot.as_deref()
    }
}

impl std::str::FromStr for ConnectString {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::BadArguments(format!("connect string {s:?}: {why}"));
        // The chroot starts at the first '/' (hosts never contain one).
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) => {
                validate_path(c, false).map_err(|e| bad(format!("bad chroot: {e}")))?;
                Some(c.to_owned())
            }
        };
        let mut hosts = Vec::new();
        for part in hosts_part
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (host, port) = if let Some(rest) = part.strip_prefix('[') {
                let end = rest
                    .find(']')
                    .ok_or_else(|| bad(format!("bad host {part:?}")))?;
                let host = &rest[..end];
                match &rest[end + 1..] {
                    "" => (host, None),
                    p => match p.strip_prefix(':') {
                        Some(port) => (host, Some(port)),
                        None => return Err(bad(format!("bad host {part:?}"))),
                    },
                }
            } else {
                match part.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (part, None),
                }
            };
            let port = match port {
                None => DEFAULT_CLIENT_PORT,
                Some(p) => p
                    .parse()
                    .map_err(|_| bad(format!("bad port in {part:?}")))?,
            };
            if host.is_empty() {
                return Err(bad(format!("empty host in {part:?}")));
            }
            hosts.push((host.to_owned(), port));
        }
        if hosts.is_empty() {
            return Err(bad("no hosts".into()));
        }
        Ok(ConnectString { hosts, chroot })
    }
}

impl fmt::Display for ConnectString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (h, p)) in self.hosts.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if h.contains(':') {
                write!(f, "[{h}]:{p}")?;
            } else {
                write!(f, "{h}:{p}")?;
            }
        }
        f.write_str(self.chroot.as_deref().unwrap_or(""))
    }
}

/// Paths as the application sees them (relative to the chroot) and as the server sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chroot(Option<String>);

impl Chroot {
    pub(crate) fn new(chroot: Option<&str>) -> Self {
        Chroot(chroot.map(str::to_owned))
    }

    /// Validates a client path and prefixes the chroot.
    pub(crate) fn to_server(&self, path: &str, sequential: bool) -> Result<String, Error> {
        validate_path(path, sequential)?;
        Ok(match &self.0 {
            None => path.to_owned(),
            Some(root) if path == "/" => root.clone(),
            Some(root) => format!("{root}{path}"),
        })
    }

    /// Strips the chroot from a server path. Paths outside the chroot are returned unchanged
    /// (the server never sends them for requests made through the chroot).
    pub(crate) fn to_client(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_owned(),
            Some(root) => match path.strip_prefix(root.as_str()) {
                Some("") => "/".to_owned(),
                Some(rest) if rest.starts_with('/') => rest.to_owned(),
                _ => path.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_connect_string_parser() {
        type Case<'a> = (&'a str, &'a [(&'a str, u16)], Option<&'a str>);
        let table: &[Case] = &[
            ("localhost", &[("localhost", 2181)], None),
            ("a:1,b:2", &[("a", 1), ("b", 2)], None),
            ("a:1,b:2/", &[("a", 1), ("b", 2)], None),
            ("a:1/x/y", &[("a", 1)], Some("/x/y")),
            (" a:1 , b ", &[("a", 1), ("b", 2181)], None),
            ("[::1]:3,[fe80::1]", &[("::1", 3), ("fe80::1", 2181)], None),
        ];
        for (input, hosts, chroot) in table {
            let cs: ConnectString = input.parse().unwrap();
            let want: Vec<(String, u16)> = hosts.iter().map(|(h, p)| (h.to_string(), *p)).collect();
            assert_eq!(cs.hosts(), &want[..], "{input}");
            assert_eq!(cs.chroot(), *chroot, "{input}");
        }
        for bad in ["", "/chroot", "a:x", "a:1/bad/", "a:1/x//y", "[::1", ":5"] {
            assert!(bad.parse::<ConnectString>().is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            "a:1,[::1]:2/c"
                .parse::<ConnectString>()
                .unwrap()
                .to_string(),
            "a:1,[::1]:2/c"
        );
    }

    #[test]
    fn chroot_is_added_and_stripped() {
        let c = Chroot::new(Some("/app"));
        assert_eq!(c.to_server("/", false).unwrap(), "/app");
        assert_eq!(c.to_server("/x", false).unwrap(), "/app/x");
        assert_eq!(c.to_server("/x/", true).unwrap(), "/app/x/");
        assert!(c.to_server("x", false).is_err());
        assert_eq!(c.to_client("/app"), "/");
        assert_eq!(c.to_client("/app/x/y"), "/x/y");
        assert_eq!(c.to_client("/apple"), "/apple");
        let none = Chroot::new(None);
        assert_eq!(none.to_server("/x", false).unwrap(), "/x");
        assert_eq!(none.to_client("/x"), "/x");
    }
}
