//! Cache adapters: [`MemoryCache`] (moka, one process) and [`RedisCache`] (shared by instances).
//!
//! Publish/subscribe: each adapter fans messages out to its local subscribers through a
//! [`Hub`] (one `tokio::sync::broadcast` channel per channel name). The memory cache publishes
//! straight into its hub; the Redis cache publishes with `PUBLISH` and a second connection,
//! subscribed to the deployment's pattern, feeds every message it receives into the hub, so a
//! subscriber on one instance sees what another instance published.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::Expiration;
use futures::StreamExt as _;
use moka::Expiry;
use myqcm_domain::ports::{Cache, PortError, Subscription};
use tokio::sync::broadcast;

/// Messages a slow subscriber may fall behind before it skips ahead.
const HUB_BACKLOG: usize = 64;

/// In-process fan-out of published messages, by channel name.
#[derive(Clone, Default)]
struct Hub {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Vec<u8>>>>>,
}

impl Hub {
    fn subscribe(&self, channel: &str) -> Subscription {
        let rx = {
            let mut map = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            // Channels whose subscribers have all gone are dropped here and on publish.
            map.retain(|_, tx| tx.receiver_count() > 0);
            map.entry(channel.to_owned())
                .or_insert_with(|| broadcast::channel(HUB_BACKLOG).0)
                .subscribe()
        };
        futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(message) => return Some((message, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }

    fn send(&self, channel: &str, message: Vec<u8>) {
        let mut map = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = map.get(channel)
            && tx.send(message).is_err()
        {
            map.remove(channel);
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    expires_at: Instant,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, now: Instant) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(now))
    }
}

/// In-process cache with per-entry expiry, bounded in size.
#[derive(Clone)]
pub struct MemoryCache {
    inner: moka::future::Cache<String, Entry>,
    hub: Hub,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.inner.entry_count())
            .finish()
    }
}

impl MemoryCache {
    /// A cache holding at most `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(capacity)
            .expire_after(EntryExpiry)
            .build();
        Self {
            inner,
            hub: Hub::default(),
        }
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        // moka may hand back an entry in the instant between its expiry and eviction.
        let found = self
            .inner
            .get(key)
            .await
            .filter(|e| e.expires_at > Instant::now())
            .map(|e| e.value);
        counted("memory", Ok(found))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), PortError> {
        let entry = Entry {
            value: value.to_vec(),
            expires_at: Instant::now() + ttl,
        };
        self.inner.insert(key.to_owned(), entry).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.inner.invalidate(key).await;
        Ok(())
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<u64, PortError> {
        let entry = self
            .inner
            .entry(key.to_owned())
            .and_upsert_with(|old| {
                let now = Instant::now();
                let next = match old.map(|e| e.into_value()) {
                    Some(e) if e.expires_at > now => {
                        let n = decode_counter(&e.value).saturating_add(1);
                        Entry {
                            value: n.to_be_bytes().to_vec(),
                            expires_at: e.expires_at,
                        }
                    }
                    _ => Entry {
                        value: 1u64.to_be_bytes().to_vec(),
                        expires_at: now + window,
                    },
                };
                std::future::ready(next)
            })
            .await;
        Ok(decode_counter(&entry.into_value().value))
    }

    async fn ping(&self) -> Result<(), PortError> {
        Ok(())
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), PortError> {
        self.hub.send(channel, message.to_vec());
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, PortError> {
        Ok(self.hub.subscribe(channel))
    }
}

fn decode_counter(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Redis-backed cache; every key is prefixed so several deployments (or tests) can share a
/// server without seeing each other's keys.
#[derive(Clone)]
pub struct RedisCache {
    client: Client,
    prefix: String,
    hub: Hub,
    /// The connection in subscriber mode; closed when the last clone of the cache goes.
    _subscriber: Arc<Subscriber>,
}

/// Owns the subscriber connection. Its listeners hold clones of the client, so it would
/// otherwise stay open (with its tasks) after the cache is dropped.
struct Subscriber(Client);

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let client = self.0.clone();
            rt.spawn(async move {
                let _ = client.quit().await;
            });
        }
    }
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// How long one Redis command may take before it fails as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

fn unavailable(e: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(e.to_string())
}

impl RedisCache {
    /// Connects to `url` (`redis://host:port/db`), waiting for the first connection.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, PortError> {
        let config = Config::from_url(url).map_err(unavailable)?;
        // Lost Redis: commands fail within a second (callers answer 503 or fall back) instead
        // of queueing until it returns, and the client keeps reconnecting (100 ms doubling to
        // 2 s, without end) so the platform recovers by itself (`scripts/fault-tests.sh redis`).
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
            })
            .with_performance_config(|p| {
                p.default_command_timeout = COMMAND_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(unavailable)?;
        client.init().await.map_err(unavailable)?;
        let subscriber = client.clone_new();
        subscriber.init().await.map_err(unavailable)?;
        let hub = Hub::default();
        let events = format!("{prefix}ev:");
        let pattern = format!("{events}*");
        let feed = hub.clone();
        subscriber.on_message(move |m: fred::types::Message| {
            if let Some(name) = m.channel.strip_prefix(events.as_str())
                && let Some(bytes) = m.value.as_bytes()
            {
                feed.send(name, bytes.to_vec());
            }
            std::future::ready(Ok(()))
        });
        // A reconnected connection has lost its subscription: take it again.
        let again = subscriber.clone();
        let again_pattern = pattern.clone();
        subscriber.on_reconnect(move |_| {
            let c = again.clone();
            let p = again_pattern.clone();
            async move {
                if let Err(e) = c.psubscribe(p).await {
                    tracing::warn!(error = %e, "redis: subscribing again after a reconnect failed");
                }
                Ok(())
            }
        });
        subscriber.psubscribe(pattern).await.map_err(unavailable)?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            hub,
            _subscriber: Arc::new(Subscriber(subscriber)),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

/// `INCR` and, when the key has no expiry, `PEXPIRE` with the window (`ARGV[1]`, ms).
const INCR_WITH_WINDOW: &str = "local n = redis.call('INCR', KEYS[1]) \
     if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
     return n";

/// Cache look-ups by `cache` (`memory`, `redis`) and `result` (`hit`, `miss`, `error`): the hit
/// rate on the dashboard is `hit / (hit + miss)`.
pub const LOOKUPS_METRIC: &str = "myqcm_cache_lookups_total";

fn counted(
    cache: &'static str,
    got: Result<Option<Vec<u8>>, PortError>,
) -> Result<Option<Vec<u8>>, PortError> {
    let result = match &got {
        Ok(Some(_)) => "hit",
        Ok(None) => "miss",
        Err(_) => "error",
    };
    metrics::counter!(LOOKUPS_METRIC, "cache" => cache, "result" => result).increment(1);
    got
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        counted(
            "redis",
            self.client
                .get::<Option<Vec<u8>>, _>(self.key(key))
                .await
                .map_err(unavailable),
        )
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), PortError> {
        self.client
            .set::<(), _, _>(
                self.key(key),
                value,
                Some(Expiration::PX(millis(ttl))),
                None,
                false,
            )
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.client
            .del::<i64, _>(self.key(key))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<u64, PortError> {
        // One script, so the increment and the expiry are one atomic step on the server: a
        // counter can never exist without its window (which a separate `SET NX` + `INCR` allowed
        // when the key expired in between, leaving a counter that never expires). A counter
        // found without an expiry (left by that older code) gets one here.
        let n: i64 = self
            .client
            .eval(INCR_WITH_WINDOW, vec![self.key(key)], vec![millis(window)])
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.client
            .ping::<String>(None)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), PortError> {
        self.client
            .publish::<i64, _, _>(format!("{}ev:{channel}", self.prefix), message)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, PortError> {
        Ok(self.hub.subscribe(channel))
    }
}
