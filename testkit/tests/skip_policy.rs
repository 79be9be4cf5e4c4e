//! Without Java, tests skip unless ZK_REQUIRE_APACHE is set, in which case they fail.
//!
//! This file is its own test binary (process) with a single test, because it changes environment variables.

use std::panic;

use zk_testkit::{apache_or_skip, java_or_skip, REQUIRE_APACHE_ENV};

#[test]
fn missing_java_skips_or_fails() {
    std::env::set_var("JAVA_HOME", "/nonexistent");
    std::env::set_var("PATH", "/nonexistent");

    std::env::remove_var(REQUIRE_APACHE_ENV);
    assert!(java_or_skip("missing_java_skips_or_fails").is_none());
    std::env::set_var(REQUIRE_APACHE_ENV, "0");
    assert!(apache_or_skip("missing_java_skips_or_fails").is_none());

    std::env::set_var(REQUIRE_APACHE_ENV, "1");
    let panic = panic::catch_unwind(|| apache_or_skip("missing_java_skips_or_fails"))
        .expect_err("a required but missing Java must fail the test");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("java not found"), "{message}");
}
