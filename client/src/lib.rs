//! zk-client: not implemented yet (see the project's issues). This crate intentionally exports nothing,
//! so nothing can pretend to work.
#![deny(missing_docs)]
