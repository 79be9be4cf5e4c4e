//! [`Balancer`]: picks one instance from a service's current instances with a [`Strategy`], skipping
//! instances marked down after errors ([`DownPolicy`], Curator's `DownInstancePolicy`).
//!
//! Pure and synchronous: it never talks to ZooKeeper, takes the instance list as an argument and
//! the time as an argument in [`Balancer::pick_at`], so every rule is unit-tested with a seeded RNG.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::ServiceInstance;

/// How long an instance stays down once marked: Curator's `DownInstancePolicy` default (30 s).
pub const DEFAULT_DOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors within [`DEFAULT_DOWN_TIMEOUT`] that mark an instance down: Curator's default (2), so a
/// single failed request does not take an instance out.
pub const DEFAULT_DOWN_ERROR_THRESHOLD: u32 = 2;

/// How a [`Balancer`] chooses among the usable instances (enabled, not down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Each pick takes the next instance, in id order (Curator's `RoundRobinStrategy`). The default.
    #[default]
    RoundRobin,
    /// Uniformly random (Curator's `RandomStrategy`).
    Random,
    /// Random with probability proportional to [`ServiceInstance::weight`]; weight 0 is never
    /// picked (a way to drain an instance).
    Weighted,
    /// Keeps returning the same instance while it is registered and usable; then picks a new one
    /// at random (Curator's `StickyStrategy` over `RandomStrategy`).
    Sticky,
}

/// When errors take an instance out of rotation (Curator's `DownInstancePolicy`): after
/// `error_threshold` errors noted within `timeout` of the first, until `timeout` has passed since
/// that first error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownPolicy {
    /// How long an error record lives.
    pub timeout: Duration,
    /// Errors that make the instance down (at least 1).
    pub error_threshold: u32,
}

impl Default for DownPolicy {
    fn default() -> Self {
        DownPolicy {
            timeout: DEFAULT_DOWN_TIMEOUT,
            error_threshold: DEFAULT_DOWN_ERROR_THRESHOLD,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct DownStatus {
    since: Instant,
    errors: u32,
}

#[derive(Debug)]
struct State {
    next: usize,
    sticky: Option<String>,
    rng: StdRng,
    down: HashMap<String, DownStatus>,
}

/// Chooses instances with a [`Strategy`] and a [`DownPolicy`]. Thread-safe; share it behind an
/// `Arc` (a [`ServiceProvider`](super::ServiceProvider) holds one).
///
/// ```
/// use zk_recipes::registry::{Balancer, ServiceInstance, Strategy};
/// let instances: Vec<_> = ["a", "b", "c"]
///     .iter()
///     .map(|id| ServiceInstance::builder("svc").id(*id).build())
///     .collect();
/// let balancer = Balancer::new(Strategy::RoundRobin);
/// let picks: Vec<_> = (0..4).map(|_| balancer.pick(&instances).unwrap().id).collect();
/// assert_eq!(picks, ["a", "b", "c", "a"]);
/// ```
#[derive(Debug)]
pub struct Balancer {
    strategy: Strategy,
    policy: DownPolicy,
    state: Mutex<State>,
}

impl Balancer {
    /// A balancer with `strategy`, the default [`DownPolicy`] and an RNG seeded from the OS.
    pub fn new(strategy: Strategy) -> Self {
        Self::with_rng(strategy, StdRng::from_rng(&mut rand::rng()))
    }

    /// Like [`Balancer::new`] with a seeded RNG, so random picks repeat (tests, simulations).
    pub fn with_seed(strategy: Strategy, seed: u64) -> Self {
        Self::with_rng(strategy, StdRng::seed_from_u64(seed))
    }

    fn with_rng(strategy: Strategy, rng: StdRng) -> Self {
        Balancer {
            strategy,
            policy: DownPolicy::default(),
            state: Mutex::new(State {
                next: 0,
                sticky: None,
                rng,
                down: HashMap::new(),
            }),
        }
    }

    /// Replaces the down policy.
    pub fn with_down_policy(mut self, policy: DownPolicy) -> Self {
        self.policy = DownPolicy {
            error_threshold: policy.error_threshold.max(1),
            ..policy
        };
        self
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Picks an instance from `instances` (any order; picks are made in id order), or `None` if
    /// none is usable: all disabled, down, or (weighted) of weight 0.
    pub fn pick(&self, instances: &[ServiceInstance]) -> Option<ServiceInstance> {
        self.pick_at(instances, Instant::now())
    }

    /// [`Balancer::pick`] at time `now`.
    pub fn pick_at(&self, instances: &[ServiceInstance], now: Instant) -> Option<ServiceInstance> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let policy = self.policy;
        state
            .down
            .retain(|_, s| now.saturating_duration_since(s.since) < policy.timeout);
        let mut usable: Vec<&ServiceInstance> = instances
            .iter()
            .filter(|i| i.enabled)
            .filter(|i| {
                state
                    .down
                    .get(&i.id)
                    .map_or(true, |s| s.errors < policy.error_threshold)
            })
            .collect();
        usable.sort_by(|a, b| a.id.cmp(&b.id));
        if usable.is_empty() {
            return None;
        }
        let chosen = match self.strategy {
            Strategy::RoundRobin => {
                let i = state.next % usable.len();
                state.next = state.next.wrapping_add(1);
                usable[i]
            }
            Strategy::Random => usable[state.rng.random_range(0..usable.len())],
            Strategy::Weighted => {
                let total: u64 = usable.iter().map(|i| u64::from(i.weight())).sum();
                if total == 0 {
                    return None;
                }
                let mut ticket = state.rng.random_range(0..total);
                let mut chosen = usable[0];
                for instance in &usable {
                    let w = u64::from(instance.weight());
                    if ticket < w {
                        chosen = instance;
                        break;
                    }
                    ticket -= w;
                }
                chosen
            }
            Strategy::Sticky => {
                let current = state
                    .sticky
                    .as_ref()
                    .and_then(|id| usable.iter().find(|i| &i.id == id).copied());
                match current {
                    Some(instance) => instance,
                    None => {
                        let instance = usable[state.rng.random_range(0..usable.len())];
                        tracing::debug!(id = %instance.id, "sticky instance chosen");
                        state.sticky = Some(instance.id.clone());
                        instance
                    }
                }
            }
        };
        Some(chosen.clone())
    }

    /// Records an error talking to `instance`; past the policy's threshold it is skipped until the
    /// policy's timeout has passed since its first recorded error.
    pub fn note_error(&self, instance: &ServiceInstance) {
        self.note_error_at(instance, Instant::now());
    }

    /// [`Balancer::note_error`] at time `now`.
    pub fn note_error_at(&self, instance: &ServiceInstance, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let policy = self.policy;
        state
            .down
            .retain(|_, s| now.saturating_duration_since(s.since) < policy.timeout);
        let status = state.down.entry(instance.id.clone()).or_insert(DownStatus {
            since: now,
            errors: 0,
        });
        status.errors += 1;
        if status.errors == policy.error_threshold {
            tracing::info!(id = %instance.id, timeout = ?policy.timeout, "instance marked down");
        }
    }

    /// Whether `instance` is currently marked down.
    pub fn is_down(&self, instance: &ServiceInstance) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.down.get(&instance.id).is_some_and(|s| {
            s.errors >= self.policy.error_threshold
                && Instant::now().saturating_duration_since(s.since) < self.policy.timeout
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instances(ids_weights: &[(&str, u32)]) -> Vec<ServiceInstance> {
        ids_weights
            .iter()
            .map(|(id, w)| ServiceInstance::builder("svc").id(*id).weight(*w).build())
            .collect()
    }

    fn picks(b: &Balancer, list: &[ServiceInstance], n: usize, now: Instant) -> Vec<String> {
        (0..n)
            .map(|_| b.pick_at(list, now).map(|i| i.id).unwrap_or_default())
            .collect()
    }

    #[test]
    fn round_robin_is_in_id_order_whatever_the_input_order() {
        let list = instances(&[("c", 1), ("a", 1), ("b", 1)]);
        let b = Balancer::with_seed(Strategy::RoundRobin, 1);
        assert_eq!(
            picks(&b, &list, 6, Instant::now()),
            ["a", "b", "c", "a", "b", "c"]
        );
    }

    #[test]
    fn every_strategy_skips_disabled_and_down_instances() {
        let now = Instant::now();
        for strategy in [
            Strategy::RoundRobin,
            Strategy::Random,
            Strategy::Weighted,
            Strategy::Sticky,
        ] {
            let mut list = instances(&[("a", 1), ("b", 1), ("c", 1)]);
            list[2].enabled = false;
            let b = Balancer::with_seed(strategy, 7);
            // One error is below the threshold (2): "a" stays in rotation.
            b.note_error_at(&list[0], now);
            assert!(
                picks(&b, &list, 50, now).contains(&"a".to_owned()),
                "{strategy:?}"
            );
            b.note_error_at(&list[0], now);
            let got = picks(&b, &list, 50, now);
            assert!(got.iter().all(|id| id == "b"), "{strategy:?}: {got:?}");
            // Down ends with the policy timeout.
            let later = now + DEFAULT_DOWN_TIMEOUT;
            assert!(
                picks(&b, &list, 50, later).contains(&"a".to_owned())
                    || strategy == Strategy::Sticky
            );
        }
    }

    #[test]
    fn nothing_usable_gives_none() {
        let now = Instant::now();
        let b = Balancer::with_seed(Strategy::Weighted, 1);
        assert_eq!(b.pick_at(&[], now), None);
        assert_eq!(b.pick_at(&instances(&[("a", 0), ("b", 0)]), now), None);
        let b = Balancer::with_seed(Strategy::RoundRobin, 1).with_down_policy(DownPolicy {
            timeout: Duration::from_secs(1),
            error_threshold: 1,
        });
        let list = instances(&[("a", 1)]);
        b.note_error_at(&list[0], now);
        assert_eq!(b.pick_at(&list, now), None);
        assert!(b.pick_at(&list, now + Duration::from_secs(1)).is_some());
    }

    #[test]
    fn weighted_follows_weights() {
        let list = instances(&[("light", 1), ("heavy", 3), ("drained", 0)]);
        let b = Balancer::with_seed(Strategy::Weighted, 42);
        let got = picks(&b, &list, 4000, Instant::now());
        let heavy = got.iter().filter(|id| *id == "heavy").count();
        let light = got.iter().filter(|id| *id == "light").count();
        assert_eq!(heavy + light, 4000, "weight 0 is never picked");
        // Expected 3000 / 1000; with this seed well within ±10%.
        assert!((2700..=3300).contains(&heavy), "heavy {heavy}");
    }

    #[test]
    fn random_reaches_everyone() {
        let list = instances(&[("a", 1), ("b", 1), ("c", 1)]);
        let b = Balancer::with_seed(Strategy::Random, 3);
        let got = picks(&b, &list, 300, Instant::now());
        for id in ["a", "b", "c"] {
            assert!(got.iter().filter(|g| *g == id).count() > 50, "{id}");
        }
    }

    #[test]
    fn sticky_sticks_until_its_instance_goes() {
        let now = Instant::now();
        let list = instances(&[("a", 1), ("b", 1), ("c", 1)]);
        let b = Balancer::with_seed(Strategy::Sticky, 5);
        let first = b.pick_at(&list, now).unwrap().id;
        assert!(picks(&b, &list, 20, now).iter().all(|id| *id == first));
        let rest: Vec<_> = list.iter().filter(|i| i.id != first).cloned().collect();
        let second = b.pick_at(&rest, now).unwrap().id;
        assert_ne!(second, first);
        // It stays with the new one even when the old one comes back.
        assert!(picks(&b, &list, 20, now).iter().all(|id| *id == second));
    }
}
