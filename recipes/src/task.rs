//! [`AbortOnDrop`]: a spawned background task that ends with the handle that owns it, so a recipe
//! object (cache, subscription, registration) never leaves work running after it is dropped.

use std::future::Future;

use tokio::task::JoinHandle;

/// Aborts its task when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    /// Spawns `future` on the current runtime.
    pub(crate) fn spawn(future: impl Future<Output = ()> + Send + 'static) -> Self {
        AbortOnDrop(tokio::spawn(future))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
