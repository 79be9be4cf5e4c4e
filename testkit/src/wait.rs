//! Polling a condition until it holds or a deadline passes: the testkit's replacement for fixed sleeps.

use std::thread;
use std::time::{Duration, Instant};

use crate::Error;

/// How often [`wait_for`] and [`try_wait_for`] probe. Short, because a probe is cheap (a loopback
/// connection) and every millisecond waited is test time.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` every [`DEFAULT_POLL_INTERVAL`] until it returns `Some`, for at most `timeout`.
///
/// The probe always runs at least once, and once more after the deadline if the previous attempt was
/// early, so a condition that holds at the deadline is seen. `what` names the condition in the
/// [`Error::Timeout`].
///
/// ```
/// use std::time::Duration;
/// let mut n = 0;
/// let found = zk_testkit::wait_for("n to reach 3", Duration::from_secs(5), || {
///     n += 1;
///     (n == 3).then_some(n)
/// })
/// .unwrap();
/// assert_eq!(found, 3);
/// ```
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, Error> {
    try_wait_for(what, timeout, || Ok(probe()))
}

/// Like [`wait_for`], but the probe can give up early with an error (for example because the process it
/// waits for has exited), which is returned as is.
pub fn try_wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe()? {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                what: what.to_owned(),
                timeout,
            });
        }
        thread::sleep(DEFAULT_POLL_INTERVAL.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_with_the_condition_name() {
        let err = wait_for::<()>("never", Duration::from_millis(20), || None).unwrap_err();
        assert!(matches!(err, Error::Timeout { ref what, .. } if what == "never"));
    }

    #[test]
    fn probe_error_stops_waiting() {
        let err = try_wait_for::<()>("x", Duration::from_secs(10), || {
            Err(Error::Config("boom".into()))
        })
        .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
    }
}
