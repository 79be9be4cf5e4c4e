//! proptest strategies for every wire type (feature `arbitrary`, always on in this crate's tests).
//!
//! `Arb::arb()` builds a strategy for a whole record from its fields' strategies, so round-trip
//! and decoder-robustness property tests cover every record without hand-written generators.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// A type with a proptest strategy covering its wire domain.
pub trait Arb: Sized + std::fmt::Debug {
    /// The strategy.
    fn arb() -> BoxedStrategy<Self>;
}

impl Arb for i32 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i32>().boxed()
    }
}

impl Arb for i64 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i64>().boxed()
    }
}

impl Arb for bool {
    fn arb() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

impl Arb for String {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![".{0,24}", "(/[a-z0-9]{1,6}){0,4}"].boxed()
    }
}

impl Arb for Bytes {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl Arb for Option<Bytes> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(Bytes::arb()).boxed()
    }
}

impl<T: Arb + 'static> Arb for Vec<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(T::arb(), 0..4).boxed()
    }
}

impl Arb for Option<String> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(String::arb()).boxed()
    }
}
