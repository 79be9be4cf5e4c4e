//! The bench's one error type.

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad command line.
    #[error("usage: {0}")]
    Usage(String),
    /// Socket or file error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not a valid frame.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server answered a request with an error code.
    #[error("server answered {op} with error {code}")]
    Server {
        /// The operation.
        op: &'static str,
        /// The ZooKeeper error code.
        code: i32,
    },
    /// A server process of an ensemble could not start or exited on its own.
    #[error("{server} exited: {detail}")]
    Exited {
        /// Which server (`server.<myid>`).
        server: String,
        /// Exit status or spawn error, and the end of its console output.
        detail: String,
    },
    /// Something did not happen in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl From<zk_proto::FrameError> for BenchError {
    fn from(e: zk_proto::FrameError) -> Self {
        BenchError::Protocol(e.to_string())
    }
}

impl From<zk_proto::DecodeError> for BenchError {
    fn from(e: zk_proto::DecodeError) -> Self {
        BenchError::Protocol(e.to_string())
    }
}
