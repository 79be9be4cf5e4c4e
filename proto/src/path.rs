//! Path rules: ZooKeeper's `PathUtils.validatePath` and the sequential-node suffix.

use thiserror::Error;

/// Why a path is not a valid ZooKeeper path. The messages match `PathUtils.validatePath`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path is empty.
    #[error("Path length must be > 0")]
    Empty,
    /// The path does not start with `/`.
    #[error("Path must start with / character")]
    NotAbsolute,
    /// The path ends with `/` (and is not the root).
    #[error("Path must not end with / character")]
    TrailingSlash,
    /// A character or component is not allowed; `index` counts UTF-16 units, as Java does.
    #[error("Invalid path string \"{path}\" caused by {reason} @{index}")]
    Invalid {
        /// The offending path.
        path: String,
        /// What is wrong.
        reason: &'static str,
        /// Where (in UTF-16 code units).
        index: usize,
    },
}

/// Checks `path` with ZooKeeper's rules. For a sequential create, pass `sequential = true`: the
/// server appends a suffix, so a trailing `/` is allowed (Apache validates `path + "1"`).
///
/// Rules: absolute; no trailing `/`; no empty component; no `.` or `..` component; no NUL;
/// no characters in U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF or U+FFF0–U+FFFF — the
/// surrogate range means every character outside the Basic Multilingual Plane is rejected, as in Java.
///
/// ```
/// use zk_proto::validate_path;
/// assert!(validate_path("/app/lock-", false).is_ok());
/// assert!(validate_path("/app/", true).is_ok());
/// assert!(validate_path("/app/../x", false).is_err());
/// ```
pub fn validate_path(path: &str, sequential: bool) -> Result<(), PathError> {
    let owned;
    let path = if sequential {
        owned = format!("{path}1");
        owned.as_str()
    } else {
        path
    };
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    let chars: Vec<u16> = path.encode_utf16().collect();
    if chars[0] != u16::from(b'/') {
        return Err(PathError::NotAbsolute);
    }
    if chars.len() == 1 {
        return Ok(());
    }
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    if chars[chars.len() - 1] == slash {
        return Err(PathError::TrailingSlash);
    }
    let invalid = |reason, index| {
        Err(PathError::Invalid {
            path: path.to_string(),
            reason,
            index,
        })
    };
    let mut last = slash;
    for i in 1..chars.len() {
        let c = chars[i];
        let ends_component = i + 1 == chars.len() || chars[i + 1] == slash;
        if c == 0 {
            return invalid("null character not allowed", i);
        } else if c == slash && last == slash {
            return invalid("empty node name specified", i);
        } else if c == dot && last == dot {
            if chars[i - 2] == slash && ends_component {
                return invalid("relative paths not allowed", i);
            }
        } else if c == dot {
            if chars[i - 1] == slash && ends_component {
                return invalid("relative paths not allowed", i);
            }
        } else if (0x0001..=0x001f).contains(&c)
            || (0x007f..=0x009f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || (0xfff0..=0xffff).contains(&c)
        {
            return invalid("invalid character", i);
        }
        last = c;
    }
    Ok(())
}

/// Formats the suffix the server appends to a sequential node: the parent's cversion as
/// Java's `String.format("%010d", n)` prints it (a negative value keeps its sign in front).
///
/// ```
/// assert_eq!(zk_proto::sequential_suffix(7), "0000000007");
/// assert_eq!(zk_proto::sequential_suffix(-1), "-000000001");
/// ```
pub fn sequential_suffix(n: i32) -> String {
    format!("{n:010}")
}

/// The parent of a path (`/` for top-level nodes); `None` for the root.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a path (`""` for the root).
pub fn basename(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_path_table() {
        let ok = [
            "/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/a/.b", "/z\u{e9}", "/x y",
        ];
        for p in ok {
            assert_eq!(validate_path(p, false), Ok(()), "{p}");
        }
        let bad = [
            ("", "Path length must be > 0"),
            ("a", "Path must start with / character"),
            ("/a/", "Path must not end with / character"),
            (
                "/a//b",
                "Invalid path string \"/a//b\" caused by empty node name specified @3",
            ),
            (
                "/a/./b",
                "Invalid path string \"/a/./b\" caused by relative paths not allowed @3",
            ),
            (
                "/a/..",
                "Invalid path string \"/a/..\" caused by relative paths not allowed @4",
            ),
            (
                "/.",
                "Invalid path string \"/.\" caused by relative paths not allowed @1",
            ),
            (
                "/a\u{0}",
                "Invalid path string \"/a\u{0}\" caused by null character not allowed @2",
            ),
            (
                "/a\u{1}",
                "Invalid path string \"/a\u{1}\" caused by invalid character @2",
            ),
            (
                "/\u{7f}",
                "Invalid path string \"/\u{7f}\" caused by invalid character @1",
            ),
            (
                "/\u{e000}",
                "Invalid path string \"/\u{e000}\" caused by invalid character @1",
            ),
            (
                "/\u{1f600}",
                "Invalid path string \"/\u{1f600}\" caused by invalid character @1",
            ),
            (
                "/\u{fff0}",
                "Invalid path string \"/\u{fff0}\" caused by invalid character @1",
            ),
        ];
        for (p, msg) in bad {
            assert_eq!(
                validate_path(p, false).map_err(|e| e.to_string()),
                Err(msg.to_string()),
                "{p:?}"
            );
        }
        assert_eq!(validate_path("/a/", true), Ok(()));
        assert!(validate_path("/a//", true).is_err());
    }

    #[test]
    fn suffix_and_parents() {
        assert_eq!(sequential_suffix(0), "0000000000");
        assert_eq!(sequential_suffix(i32::MAX), "2147483647");
        assert_eq!(sequential_suffix(i32::MIN), "-2147483648");
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(basename("/"), "");
    }
}
