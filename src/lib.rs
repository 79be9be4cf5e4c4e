//! # zk — ZooKeeper for Rust
//!
//! A facade over the workspace crates, so that one dependency gives an application everything:
//!
//! - [`proto`]: the Apache ZooKeeper wire format (jute records, opcodes, error codes, frame codec).
//! - [`client`]: the async client (session, reconnection, watches).
//! - [`recipes`]: locks, election, configuration, service registry.
//! - [`server`]: a wire-compatible ZooKeeper server.
//!
//! The top-level `tests/` and `examples/` directories belong to this package, so
//! `cargo test` and `cargo run --example NAME` work from the repository root.
#![deny(missing_docs)]

pub use zk_client as client;
pub use zk_proto as proto;
pub use zk_recipes as recipes;
pub use zk_server as server;
