//! Contract suites: one scripted story per port, run against every implementation.
//! The Redis run needs `MYQCM_TEST_REDIS_URL` and the S3 run `MYQCM_TEST_S3_URL` (an
//! S3-compatible server such as `moto_server` on loopback; CI sets both); without them those
//! tests say so and pass, so the suite also runs on a machine with no service.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::time::Duration;

use bytes::Bytes;
use myqcm_domain::ports::{BlobStore, Cache, Mailer, OutgoingMail, PortError};
use myqcm_integrations::{
    FileMailer, FsBlobStore, MemoryCache, RedisCache, S3BlobStore, S3Settings, SmtpMailer,
};

async fn cache_story(cache: &dyn Cache) {
    cache.ping().await.unwrap();
    assert_eq!(cache.get("absent").await.unwrap(), None);

    cache
        .set("k", b"v1", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    cache
        .set("k", b"v2", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    cache.delete("k").await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), None);
    cache.delete("k").await.unwrap();

    // Binary values survive unchanged.
    let bin: Vec<u8> = (0..=255).collect();
    cache
        .set("bin", &bin, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get("bin").await.unwrap(), Some(bin));

    // Counters count, concurrently too.
    assert_eq!(cache.incr("c", Duration::from_secs(60)).await.unwrap(), 1);
    assert_eq!(cache.incr("c", Duration::from_secs(60)).await.unwrap(), 2);
    let handles: Vec<_> = (0..20)
        .map(|_| cache.incr("c", Duration::from_secs(60)))
        .collect();
    let results = futures_join(handles).await;
    let mut values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    values.sort_unstable();
    assert_eq!(values, (3..=22).collect::<Vec<_>>());

    // Expiry: values and counter windows end.
    cache
        .set("short", b"x", Duration::from_millis(150))
        .await
        .unwrap();
    assert_eq!(
        cache
            .incr("window", Duration::from_millis(150))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        cache
            .incr("window", Duration::from_millis(150))
            .await
            .unwrap(),
        2
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("short").await.unwrap(), None);
    assert_eq!(
        cache
            .incr("window", Duration::from_millis(150))
            .await
            .unwrap(),
        1
    );

    // A counter's window always ends, even when the counter expires between two calls: an
    // implementation that creates the key and increments it in two steps can see the key expire
    // in between and recreate it without any expiry, locking the subject out for good.
    for _ in 0..300 {
        cache.incr("tiny", Duration::from_millis(1)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        cache.incr("tiny", Duration::from_secs(60)).await.unwrap(),
        1,
        "the last window ended: counting starts again"
    );

    pubsub_story(cache, cache).await;
}

/// Publish/subscribe between `publisher` and `subscriber` (the same cache, or two instances
/// sharing one Redis).
async fn pubsub_story(publisher: &dyn Cache, subscriber: &dyn Cache) {
    use futures::StreamExt as _;
    async fn next(s: &mut myqcm_domain::ports::Subscription) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("a published message arrives")
            .expect("the stream is open")
    }
    // Nobody listening: not an error.
    publisher.publish("job:none", b"lost").await.unwrap();
    let mut a = subscriber.subscribe("job:1").await.unwrap();
    let mut b = subscriber.subscribe("job:1").await.unwrap();
    let mut other = subscriber.subscribe("job:2").await.unwrap();
    // The subscription is live once subscribe returns locally; over Redis the pattern was
    // subscribed at connect, so the order holds too.
    publisher.publish("job:1", b"10%").await.unwrap();
    publisher.publish("job:1", &[0, 255, 7]).await.unwrap();
    publisher.publish("job:2", b"other").await.unwrap();
    assert_eq!(next(&mut a).await, b"10%");
    assert_eq!(next(&mut a).await, vec![0, 255, 7], "binary survives");
    assert_eq!(
        next(&mut b).await,
        b"10%",
        "every subscriber gets every message"
    );
    assert_eq!(next(&mut other).await, b"other", "channels are separate");
    drop(b);
    publisher.publish("job:1", b"done").await.unwrap();
    assert_eq!(next(&mut a).await, b"done");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), other.next())
            .await
            .is_err(),
        "nothing more on job:2"
    );
}

async fn futures_join<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(fs.len());
    // Drive them concurrently on one task.
    let pinned: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut pending: Vec<_> = pinned.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in &mut pending {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        out.push(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out
}

#[tokio::test]
async fn cache_contract_memory() {
    cache_story(&MemoryCache::new(1000)).await;
}

#[tokio::test]
async fn cache_contract_redis() {
    let Ok(url) = std::env::var("MYQCM_TEST_REDIS_URL") else {
        eprintln!("cache_contract_redis: MYQCM_TEST_REDIS_URL unset, Redis run skipped");
        return;
    };
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    let cache = RedisCache::connect(&url, &prefix)
        .await
        .expect("redis reachable");
    cache_story(&cache).await;
}

#[tokio::test]
async fn redis_messages_reach_subscribers_of_another_instance_only_in_the_same_deployment() {
    let Ok(url) = std::env::var("MYQCM_TEST_REDIS_URL") else {
        eprintln!("MYQCM_TEST_REDIS_URL unset, Redis run skipped");
        return;
    };
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    let instance_a = RedisCache::connect(&url, &prefix).await.unwrap();
    let instance_b = RedisCache::connect(&url, &prefix).await.unwrap();
    pubsub_story(&instance_b, &instance_a).await;

    // Another deployment on the same server (another prefix) hears nothing.
    use futures::StreamExt as _;
    let elsewhere = RedisCache::connect(&url, &format!("test:{}:", uuid::Uuid::new_v4()))
        .await
        .unwrap();
    let mut stranger = elsewhere.subscribe("job:1").await.unwrap();
    instance_b.publish("job:1", b"private").await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stranger.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn redis_counter_left_without_expiry_gets_its_window_back() {
    use fred::prelude::*;
    let Ok(url) = std::env::var("MYQCM_TEST_REDIS_URL") else {
        eprintln!("MYQCM_TEST_REDIS_URL unset, Redis run skipped");
        return;
    };
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    let cache = RedisCache::connect(&url, &prefix)
        .await
        .expect("redis reachable");
    // What the old two-step increment could leave behind: a counter with no expiry.
    let raw = Builder::from_config(Config::from_url(&url).unwrap())
        .build()
        .unwrap();
    raw.init().await.unwrap();
    let key = format!("{prefix}rl:stuck");
    let _: i64 = raw.incr(&key).await.unwrap();
    assert_eq!(raw.pttl::<i64, _>(&key).await.unwrap(), -1, "no expiry yet");
    assert_eq!(
        cache
            .incr("rl:stuck", Duration::from_millis(200))
            .await
            .unwrap(),
        2
    );
    let ttl: i64 = raw.pttl(&key).await.unwrap();
    assert!(ttl > 0 && ttl <= 200, "the window was set: {ttl}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cache
            .incr("rl:stuck", Duration::from_secs(60))
            .await
            .unwrap(),
        1
    );
    let _: i64 = raw.del(&key).await.unwrap();
}

#[tokio::test]
async fn redis_connect_failure_is_an_error_not_a_hang() {
    let res = tokio::time::timeout(
        Duration::from_secs(20),
        RedisCache::connect("redis://127.0.0.1:1/0", "x:"),
    )
    .await
    .expect("connect gives up on its own");
    assert!(matches!(res, Err(PortError::Unavailable(_))));
}

async fn blob_story(store: &dyn BlobStore) {
    assert_eq!(store.keys().await.unwrap(), Vec::<String>::new());
    assert!(!store.exists("a/b.png").await.unwrap());
    assert!(matches!(
        store.get("a/b.png").await,
        Err(PortError::NotFound)
    ));
    store
        .put("a/b.png", Bytes::from_static(b"one"))
        .await
        .unwrap();
    assert!(store.exists("a/b.png").await.unwrap());
    assert_eq!(
        store.get("a/b.png").await.unwrap(),
        Bytes::from_static(b"one")
    );
    store
        .put("a/b.png", Bytes::from_static(b"two"))
        .await
        .unwrap();
    assert_eq!(
        store.get("a/b.png").await.unwrap(),
        Bytes::from_static(b"two")
    );
    // Keys come back sorted, nested ones with `/`, binary content unchanged.
    let bin: Vec<u8> = (0..=255).collect();
    store
        .put("0-first.pdf", Bytes::from(bin.clone()))
        .await
        .unwrap();
    store
        .put("media/2026/x.webp", Bytes::from_static(b"three"))
        .await
        .unwrap();
    assert_eq!(
        store.keys().await.unwrap(),
        ["0-first.pdf", "a/b.png", "media/2026/x.webp"]
    );
    assert_eq!(store.get("0-first.pdf").await.unwrap(), bin);
    store.delete("0-first.pdf").await.unwrap();
    store.delete("media/2026/x.webp").await.unwrap();
    store.delete("a/b.png").await.unwrap();
    store.delete("a/b.png").await.unwrap();
    assert!(!store.exists("a/b.png").await.unwrap());
    assert_eq!(store.keys().await.unwrap(), Vec::<String>::new());
    for bad in ["../etc/passwd", "/abs", "a/../../b"] {
        assert!(matches!(
            store.put(bad, Bytes::new()).await,
            Err(PortError::Invalid(_))
        ));
        assert!(matches!(store.get(bad).await, Err(PortError::Invalid(_))));
    }
}

#[tokio::test]
async fn blob_contract_fs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path().join("blobs"));
    blob_story(&store).await;
    // Nothing escaped the root and no temporary file was left behind.
    let leftovers: Vec<_> = walk(dir.path());
    assert!(
        leftovers
            .iter()
            .all(|p| p.starts_with(dir.path().join("blobs")))
    );
    assert!(
        leftovers
            .iter()
            .all(|p| !p.to_string_lossy().contains(".tmp-"))
    );
}

#[tokio::test]
async fn fs_keys_skip_unfinished_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path());
    store
        .put("a/b.png", Bytes::from_static(b"x"))
        .await
        .unwrap();
    std::fs::write(dir.path().join("a/.tmp-123"), b"half").unwrap();
    assert_eq!(store.keys().await.unwrap(), ["a/b.png"]);
}

/// Creates `bucket` on the S3-compatible server at `endpoint` (object_store does not create
/// buckets; moto accepts an unsigned `PUT /bucket`).
async fn create_bucket(endpoint: &str, bucket: &str) {
    let res = reqwest::Client::new()
        .put(format!("{}/{bucket}", endpoint.trim_end_matches('/')))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "creating the bucket: {res:?}");
}

fn s3_settings(endpoint: &str, bucket: &str) -> S3Settings {
    S3Settings {
        bucket: bucket.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        region: "us-east-1".into(),
        access_key_id: Some("test-access-key".into()),
        secret_access_key: Some("test-secret-key".into()),
    }
}

#[tokio::test]
async fn blob_contract_s3() {
    let Ok(endpoint) = std::env::var("MYQCM_TEST_S3_URL") else {
        eprintln!("MYQCM_TEST_S3_URL unset: the S3 blob contract is skipped");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bucket = format!("contract-{}", uuid::Uuid::new_v4().simple());
    create_bucket(&endpoint, &bucket).await;
    let store = S3BlobStore::new(&s3_settings(&endpoint, &bucket)).unwrap();
    blob_story(&store).await;
    // Two instances configured alike share the objects.
    let other = S3BlobStore::new(&s3_settings(&endpoint, &bucket)).unwrap();
    store
        .put("shared/doc.pdf", Bytes::from_static(b"%PDF"))
        .await
        .unwrap();
    assert_eq!(
        other.get("shared/doc.pdf").await.unwrap(),
        Bytes::from_static(b"%PDF")
    );
    // An object another tool wrote under a name no caller could choose is left out of the
    // listing (a backup would otherwise turn it into a path).
    let odd = reqwest::Client::new()
        .put(format!(
            "{}/{bucket}/odd%20name.png",
            endpoint.trim_end_matches('/')
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(odd.status().is_success(), "{odd:?}");
    assert_eq!(store.keys().await.unwrap(), ["shared/doc.pdf"]);
    // The credentials never show in debug output.
    assert!(!format!("{store:?}").contains("test-secret-key"));
    // A missing bucket is an outage, not an empty store or a missing object.
    let gone = S3BlobStore::new(&s3_settings(&endpoint, "no-such-bucket-here")).unwrap();
    let listed = gone.keys().await;
    assert!(
        matches!(&listed, Err(PortError::Unavailable(_))),
        "{listed:?}"
    );
}

#[tokio::test]
async fn s3_store_reports_a_dead_endpoint_as_unavailable() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store =
        S3BlobStore::new(&s3_settings(&format!("http://127.0.0.1:{port}"), "nowhere")).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(60), store.get("a.png"))
        .await
        .expect("bounded retries");
    assert!(matches!(res, Err(PortError::Unavailable(_))), "{res:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn file_mailer_writes_a_readable_eml() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::new(dir.path(), "MyQCM <no-reply@myqcm.local>").unwrap();
    let mail = OutgoingMail {
        to: "learner@example.org".into(),
        subject: "Bienvenue".into(),
        text: "Votre code : 123456".into(),
        html: Some("<p>Votre code : <b>123456</b></p>".into()),
    };
    mailer.send(&mail).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: learner@example.org"));
    assert!(raw.contains("Subject: Bienvenue"));
    assert!(raw.contains("multipart/alternative"));

    let bad = OutgoingMail {
        to: "not an address".into(),
        ..mail
    };
    assert!(matches!(
        mailer.send(&bad).await,
        Err(PortError::Invalid(_))
    ));
}

/// A minimal SMTP server on loopback that accepts one message and returns its DATA.
async fn fake_smtp_once(listener: tokio::net::TcpListener) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (stream, _) = listener.accept().await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"220 fake.smtp ESMTP ready\r\n")
        .await
        .unwrap();
    let mut data = String::new();
    let mut in_data = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        if in_data {
            if line == "." {
                // The pooled transport keeps the connection open; one message is all we need.
                write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                break;
            } else {
                data.push_str(&line);
                data.push('\n');
            }
            continue;
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-fake.smtp\r\n250 8BITMIME\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.1.0 ok\r\n",
            "DATA" => {
                in_data = true;
                b"354 end with <CRLF>.<CRLF>\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await.unwrap();
                break;
            }
            _ => b"502 5.5.2 unknown\r\n",
        };
        write.write_all(reply).await.unwrap();
    }
    data
}

#[tokio::test]
async fn smtp_mailer_delivers_through_a_relay() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(fake_smtp_once(listener));
    let mailer = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "MyQCM <no-reply@myqcm.local>",
    )
    .unwrap();
    let mail = OutgoingMail {
        to: "learner@example.org".into(),
        subject: "Code de vérification".into(),
        text: "Votre code : 654321".into(),
        html: None,
    };
    mailer.send(&mail).await.unwrap();
    let data = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(data.contains("To: learner@example.org"), "{data}");
    assert!(data.contains("654321"));
    assert!(matches!(
        SmtpMailer::new("not a url", "MyQCM <no-reply@myqcm.local>"),
        Err(PortError::Invalid(_))
    ));
}
