//! Dynamic reconfiguration (answered with the new config as a getData response).

use crate::jute::record;

record! {
    /// reconfig.
    pub struct ReconfigRequest {
        /// Comma-separated server specs to add (`None` is Java's `null`).
        pub joining_servers: Option<String>,
        /// Comma-separated server ids to remove.
        pub leaving_servers: Option<String>,
        /// A whole new membership (non-incremental mode).
        pub new_members: Option<String>,
        /// Expected current config version, -1 for any.
        pub cur_config_id: i64,
    }
}
