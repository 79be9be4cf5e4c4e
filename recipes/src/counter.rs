//! [`SharedCount`]: an integer shared by every client, changed with compare-and-set (Curator's
//! `SharedCount`, kazoo's `Counter`).
//!
//! The node holds exactly what Curator's `SharedCount` stores: a 4-byte big-endian signed integer
//! ([`Int32`]). A Rust and a Java process can share one counter.
//!
//! ## Guarantees
//! - [`SharedCount::try_set`] succeeds only if nobody changed the counter since the version it was
//!   given (Curator's `trySetCount`); [`SharedCount::add`] retries that until it wins, so
//!   concurrent adds are never lost.
//! - A compare-and-set whose reply is lost (connection loss) is resolved by reading back: if the
//!   node holds our value at the next version the write counts as done; if the version did not
//!   move it is retried; if it moved further the outcome cannot be known and
//!   [`Error::OutcomeUnknown`] says so (never a silent double add).
//! - [`SharedCount::subscribe`] follows the value like a [`Config`]
//!   subscription: current value first, every later change, the last never lost.
//!
//! ```no_run
//! # async fn f(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
//! use zk_recipes::counter::SharedCount;
//! let count = SharedCount::new(&client, "/app/visits", 0).await?;
//! let after = count.add(1).await?;
//! let current = count.get().await?;
//! if !count.try_set(after * 2, current.version).await? {
//!     println!("someone else changed it first");
//! }
//! # Ok(()) }
//! ```

use tracing::debug;
use zk_client::{Client, CreateOptions};

use crate::config::{Codec, Config, Subscription, Versioned};
use crate::protected::ensure_path;
use crate::Error;

/// How many bytes the counter node holds (Curator's `SharedCount`: `ByteBuffer.putInt`).
pub const COUNT_BYTES: usize = 4;

/// How many lost races [`SharedCount::add`] tolerates before giving up: under contention from N
/// clients an add wins within about N tries, so this is generous.
pub const MAX_ADD_ATTEMPTS: usize = 1000;

/// The codec of Curator's `SharedCount`: a 4-byte big-endian `i32`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Int32;

impl Codec<i32> for Int32 {
    fn encode(&self, value: &i32) -> Result<Vec<u8>, Error> {
        Ok(value.to_be_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<i32, Error> {
        let bytes: [u8; COUNT_BYTES] = bytes.try_into().map_err(|_| {
            Error::Serialization(format!(
                "a shared count holds {COUNT_BYTES} bytes, found {}",
                bytes.len()
            ))
        })?;
        Ok(i32::from_be_bytes(bytes))
    }
}

/// A shared `i32` at one path. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SharedCount {
    client: Client,
    value: Config<i32, Int32>,
}

impl SharedCount {
    /// Opens the counter at `path`, creating it with `seed` (and its parents, as containers) if it
    /// does not exist, as Curator's `SharedCount.start()` does.
    pub async fn new(client: &Client, path: &str, seed: i32) -> Result<Self, Error> {
        let value = Config::with_codec(client, path, Int32)?;
        let data = Int32.encode(&seed)?;
        let create = client.create(path, &data, &CreateOptions::persistent());
        let created = match create.await {
            Err(zk_client::Error::NoNode) => {
                if let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
                    ensure_path(client, parent).await?;
                }
                client
                    .create(path, &data, &CreateOptions::persistent())
                    .await
            }
            other => other,
        };
        match created {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(SharedCount {
            client: client.clone(),
            value,
        })
    }

    /// The path.
    pub fn path(&self) -> &str {
        self.value.path()
    }

    /// The current value and its version.
    pub async fn get(&self) -> Result<Versioned<i32>, Error> {
        self.value
            .get()
            .await?
            .ok_or(Error::Client(zk_client::Error::NoNode))
    }

    /// Sets the value whatever it is now.
    pub async fn set(&self, value: i32) -> Result<Versioned<i32>, Error> {
        self.value.set(&value).await
    }

    /// Sets the value if the counter is still at `version` (from [`SharedCount::get`] or a
    /// subscription); `Ok(false)` if someone changed it first.
    pub async fn try_set(&self, value: i32, version: i32) -> Result<bool, Error> {
        Ok(self.cas(value, version).await?.is_some())
    }

    /// Adds `delta` (wrapping on overflow, as Java's `int`) and returns the new value. Retries
    /// lost races; never applies `delta` twice.
    pub async fn add(&self, delta: i32) -> Result<i32, Error> {
        for _ in 0..MAX_ADD_ATTEMPTS {
            let current = self.get().await?;
            let next = current.value.wrapping_add(delta);
            if self.cas(next, current.version).await?.is_some() {
                return Ok(next);
            }
        }
        Err(Error::Client(zk_client::Error::BadVersion))
    }

    /// Follows the value (see [`Config::subscribe`]).
    pub fn subscribe(&self) -> Subscription<i32> {
        self.value.subscribe()
    }

    /// Compare-and-set with the lost-reply resolution described in the module docs. `None` when
    /// the version did not match.
    async fn cas(&self, value: i32, version: i32) -> Result<Option<Versioned<i32>>, Error> {
        let data = Int32.encode(&value)?;
        loop {
            match self
                .client
                .set_data(self.path(), &data, Some(version))
                .await
            {
                Ok(stat) => {
                    return Ok(Some(Versioned {
                        value,
                        version: stat.version,
                        stat,
                    }))
                }
                Err(zk_client::Error::BadVersion) => return Ok(None),
                Err(e) if e.is_retryable() => {
                    debug!(path = self.path(), error = %e, "counter write outcome unknown; reading back");
                    let policy = zk_client::RetryPolicy::default();
                    let (now, stat) =
                        zk_client::retry(&policy, || self.client.get_data(self.path())).await?;
                    if stat.version == version {
                        continue; // not applied: try again
                    }
                    if stat.version == version + 1 && now == data {
                        return Ok(Some(Versioned {
                            value,
                            version: stat.version,
                            stat,
                        }));
                    }
                    return Err(Error::OutcomeUnknown(format!(
                        "set of {} to {value} at version {version}: the connection dropped and the \
                         counter has since moved to version {}",
                        self.path(),
                        stat.version
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int32_is_curators_layout() {
        let table: [(i32, [u8; 4]); 4] = [
            (0, [0, 0, 0, 0]),
            (1, [0, 0, 0, 1]),
            (-1, [0xff, 0xff, 0xff, 0xff]),
            (0x0102_0304, [1, 2, 3, 4]),
        ];
        for (value, bytes) in table {
            assert_eq!(Int32.encode(&value).unwrap(), bytes, "{value}");
            assert_eq!(Int32.decode(&bytes).unwrap(), value);
        }
        assert!(Int32.decode(&[0, 1]).is_err());
        assert!(Int32.decode(&[0; 5]).is_err());
    }
}
