//! The skip policy: a test that needs Apache ZooKeeper skips when Java or the jars are missing, unless
//! [`REQUIRE_APACHE_ENV`] says they must be there (CI sets it).

use crate::{ApacheEnsemble, ApacheOptions, ApacheServer, Error, Java};

/// When set to anything but empty or `0`, a missing Java or ZooKeeper jar fails the test instead of
/// skipping it. `.ci/run` sets `ZK_REQUIRE_APACHE=1`.
pub const REQUIRE_APACHE_ENV: &str = "ZK_REQUIRE_APACHE";

/// True if [`REQUIRE_APACHE_ENV`] is set to anything but empty or `0`.
pub fn apache_required() -> bool {
    crate::env_flag(REQUIRE_APACHE_ENV)
}

/// Locates Java and the ZooKeeper jars, or applies the skip policy: prints `skipping <test_name>: <reason>`
/// to stderr and returns `None`, or panics if [`apache_required`].
///
/// Use it directly for tests that run a Java program (the Apache client, Curator) without an Apache server.
pub fn java_or_skip(test_name: &str) -> Option<Java> {
    match Java::locate() {
        Ok(java) => Some(java),
        Err(e) => {
            skip_or_panic(test_name, &e);
            None
        }
    }
}

/// A started standalone [`ApacheServer`] with default options, or `None` (after printing why) when Java or
/// the jars are missing and [`apache_required`] is false.
///
/// ```no_run
/// #[test]
/// fn creates_a_node() {
///     let Some(server) = zk_testkit::apache_or_skip("creates_a_node") else { return };
///     // ... connect to server.connect_string() ...
/// }
/// ```
///
/// # Panics
/// If the dependencies are missing and [`apache_required`], or if they are present and the server does not
/// start (the message carries the server's log tail). A start failure is never a skip.
pub fn apache_or_skip(test_name: &str) -> Option<ApacheServer> {
    apache_with_or_skip(test_name, ApacheOptions::default())
}

/// [`apache_or_skip`] with options.
///
/// # Panics
/// As [`apache_or_skip`].
pub fn apache_with_or_skip(test_name: &str, options: ApacheOptions) -> Option<ApacheServer> {
    java_or_skip(test_name)?;
    Some(
        ApacheServer::start_with(options)
            .unwrap_or_else(|e| panic!("{test_name}: Apache ZooKeeper did not start: {e}")),
    )
}

/// A started `n`-server [`ApacheEnsemble`] with default options, or `None` under the same policy as
/// [`apache_or_skip`].
///
/// # Panics
/// As [`apache_or_skip`].
pub fn ensemble_or_skip(test_name: &str, n: usize) -> Option<ApacheEnsemble> {
    ensemble_with_or_skip(test_name, n, ApacheOptions::default())
}

/// [`ensemble_or_skip`] with options.
///
/// # Panics
/// As [`apache_or_skip`].
pub fn ensemble_with_or_skip(
    test_name: &str,
    n: usize,
    options: ApacheOptions,
) -> Option<ApacheEnsemble> {
    java_or_skip(test_name)?;
    Some(ApacheEnsemble::start_with(n, options).unwrap_or_else(|e| {
        panic!("{test_name}: Apache ZooKeeper ensemble of {n} did not start: {e}")
    }))
}

fn skip_or_panic(test_name: &str, reason: &Error) {
    if apache_required() {
        panic!("{test_name}: {REQUIRE_APACHE_ENV} is set but {reason}");
    }
    eprintln!("skipping {test_name}: {reason}");
}
