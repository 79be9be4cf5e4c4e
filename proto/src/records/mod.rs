//! Every jute record of `zookeeper.jute` that clients, servers and peers exchange, one file per
//! record family. Field order and types follow Apache ZooKeeper 3.8 exactly.

pub mod acl;
pub mod auth;
pub mod children;
pub mod connect;
pub mod header;
pub mod multi;
pub mod node;
pub mod quorum;
pub mod reconfig;
pub mod stat;
pub mod txn;
pub mod watches;

#[cfg(test)]
mod tests;
