use im_runtime::kv::{self, Kv, KvError, MemoryKv};
use im_runtime::secret::SecretUrl;
use std::sync::Arc;
use std::time::Duration;

/// The behaviour every kv adapter must have. Keys are namespaced so runs never collide.
async fn contract(kv: Arc<dyn Kv>) {
    let ns = im_testkit::unique_name("kvtest");
    let key = |k: &str| format!("{ns}:{k}");

    kv.ping().await.unwrap();

    // get / set / overwrite / delete
    assert_eq!(kv.get(&key("a")).await.unwrap(), None);
    kv.set(&key("a"), b"one", None).await.unwrap();
    assert_eq!(
        kv.get(&key("a")).await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    kv.set(&key("a"), b"two", None).await.unwrap();
    assert_eq!(
        kv.get(&key("a")).await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert!(kv.delete(&key("a")).await.unwrap());
    assert!(!kv.delete(&key("a")).await.unwrap());
    assert_eq!(kv.get(&key("a")).await.unwrap(), None);

    // binary values survive unchanged
    let binary = [0_u8, 255, 10, 13, 0];
    kv.set(&key("bin"), &binary, None).await.unwrap();
    assert_eq!(
        kv.get(&key("bin")).await.unwrap().as_deref(),
        Some(&binary[..])
    );

    // set_if_absent stores once
    assert!(
        kv.set_if_absent(&key("lock"), b"me", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !kv.set_if_absent(&key("lock"), b"you", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert_eq!(
        kv.get(&key("lock")).await.unwrap().as_deref(),
        Some(&b"me"[..])
    );

    // increment counts from zero, and rejects non-integers without changing them
    assert_eq!(kv.increment(&key("n"), 1, None).await.unwrap(), 1);
    assert_eq!(kv.increment(&key("n"), 41, None).await.unwrap(), 42);
    assert_eq!(kv.increment(&key("n"), -2, None).await.unwrap(), 40);
    assert!(matches!(
        kv.increment(&key("bin"), 1, None).await,
        Err(KvError::NotAnInteger { .. })
    ));
    assert_eq!(
        kv.get(&key("bin")).await.unwrap().as_deref(),
        Some(&binary[..])
    );

    // expiry: values and counters disappear after their ttl, and a counter's window is
    // not extended by later increments
    let ttl = Duration::from_millis(300);
    kv.set(&key("ttl"), b"x", Some(ttl)).await.unwrap();
    assert!(!kv.set_if_absent(&key("ttl"), b"y", ttl).await.unwrap());
    kv.increment(&key("window"), 1, Some(ttl)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        kv.increment(&key("window"), 1, Some(Duration::from_secs(60)))
            .await
            .unwrap(),
        2
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kv.get(&key("ttl")).await.unwrap(), None);
    assert_eq!(
        kv.get(&key("window")).await.unwrap(),
        None,
        "window kept its first ttl"
    );
    assert!(
        kv.set_if_absent(&key("ttl"), b"y", ttl).await.unwrap(),
        "expired key is absent"
    );
    assert_eq!(kv.increment(&key("window"), 1, None).await.unwrap(), 1);

    // set without ttl clears an earlier ttl
    kv.set(&key("p"), b"1", Some(Duration::from_millis(100)))
        .await
        .unwrap();
    kv.set(&key("p"), b"2", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(kv.get(&key("p")).await.unwrap().as_deref(), Some(&b"2"[..]));

    hashes(&*kv, &key).await;

    for k in ["bin", "lock", "n", "ttl", "window", "p", "h", "hx", "hd"] {
        kv.delete(&key(k)).await.unwrap();
    }
}

/// Hashes: fields set, read, replaced and removed one by one; a hash without fields is
/// gone; expiry applies to the whole hash; values and hashes do not mix.
async fn hashes(kv: &dyn Kv, key: &impl Fn(&str) -> String) {
    let sorted = |mut fields: Vec<(String, Vec<u8>)>| {
        fields.sort();
        fields
    };
    let h = key("h");
    assert!(kv.hash_get_all(&h).await.unwrap().is_empty());
    assert_eq!(kv.hash_get(&h, "a").await.unwrap(), None);
    assert!(!kv.hash_delete(&h, "a").await.unwrap());

    let binary = [0_u8, 255, 10, 13, 0];
    kv.hash_set(&h, "a", b"one").await.unwrap();
    kv.hash_set(&h, "b", &binary).await.unwrap();
    kv.hash_set(&h, "a", b"uno").await.unwrap();
    assert_eq!(
        sorted(kv.hash_get_all(&h).await.unwrap()),
        [
            ("a".to_owned(), b"uno".to_vec()),
            ("b".to_owned(), binary.to_vec())
        ]
    );
    assert_eq!(
        kv.hash_get(&h, "b").await.unwrap().as_deref(),
        Some(&binary[..])
    );
    assert_eq!(kv.hash_get(&h, "c").await.unwrap(), None);

    assert!(kv.hash_delete(&h, "a").await.unwrap());
    assert!(!kv.hash_delete(&h, "a").await.unwrap());
    assert_eq!(
        sorted(kv.hash_get_all(&h).await.unwrap()),
        [("b".to_owned(), binary.to_vec())]
    );
    assert!(kv.hash_delete(&h, "b").await.unwrap());
    assert!(kv.hash_get_all(&h).await.unwrap().is_empty());
    assert!(
        !kv.expire(&h, Duration::from_secs(30)).await.unwrap(),
        "a hash without fields no longer exists"
    );
    assert!(
        kv.set_if_absent(&h, b"x", Duration::from_secs(30))
            .await
            .unwrap(),
        "a hash without fields no longer exists"
    );
    kv.delete(&h).await.unwrap();

    // expiry covers the whole hash; a later write to the hash keeps it, `expire` replaces it
    let hx = key("hx");
    kv.hash_set(&hx, "a", b"1").await.unwrap();
    assert!(kv.expire(&hx, Duration::from_millis(300)).await.unwrap());
    kv.hash_set(&hx, "b", b"2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(kv.hash_get_all(&hx).await.unwrap().len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        kv.hash_get_all(&hx).await.unwrap().is_empty(),
        "the hash expired"
    );
    assert!(!kv.expire(&hx, Duration::from_secs(30)).await.unwrap());
    kv.hash_set(&hx, "c", b"3").await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        kv.hash_get(&hx, "c").await.unwrap().as_deref(),
        Some(&b"3"[..]),
        "a hash created after expiry has no expiry"
    );
    assert!(kv.expire(&hx, Duration::from_millis(100)).await.unwrap());
    assert!(kv.expire(&hx, Duration::from_secs(30)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        kv.hash_get(&hx, "c").await.unwrap().is_some(),
        "expire replaced the shorter ttl"
    );

    // expire works on values too
    let hd = key("hd");
    kv.set(&hd, b"v", None).await.unwrap();
    assert!(kv.expire(&hd, Duration::from_millis(100)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(kv.get(&hd).await.unwrap(), None);

    // values and hashes do not mix; `set` and `delete` take either
    kv.set(&hd, b"v", None).await.unwrap();
    for result in [
        kv.hash_set(&hd, "a", b"1").await.map(drop),
        kv.hash_get(&hd, "a").await.map(drop),
        kv.hash_delete(&hd, "a").await.map(drop),
        kv.hash_get_all(&hd).await.map(drop),
    ] {
        assert!(
            matches!(result, Err(KvError::WrongType { .. })),
            "{result:?}"
        );
    }
    assert_eq!(kv.get(&hd).await.unwrap().as_deref(), Some(&b"v"[..]));
    kv.hash_set(&hx, "a", b"1").await.unwrap();
    assert!(matches!(kv.get(&hx).await, Err(KvError::WrongType { .. })));
    assert!(matches!(
        kv.increment(&hx, 1, None).await,
        Err(KvError::WrongType { .. })
    ));
    assert!(
        !kv.set_if_absent(&hx, b"x", Duration::from_secs(30))
            .await
            .unwrap()
    );
    kv.set(&hx, b"replaced", None).await.unwrap();
    assert_eq!(
        kv.get(&hx).await.unwrap().as_deref(),
        Some(&b"replaced"[..])
    );
    kv.hash_set(&h, "a", b"1").await.unwrap();
    assert!(kv.delete(&h).await.unwrap());
    assert!(kv.hash_get_all(&h).await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_kv_keeps_the_contract() {
    contract(Arc::new(MemoryKv::default())).await;
}

#[tokio::test]
async fn redis_kv_keeps_the_contract() {
    let Some(url) = im_testkit::redis() else {
        return;
    };
    contract(kv::connect(&SecretUrl::new(url)).await.unwrap()).await;
}

/// redis-rs leaves Nagle's algorithm on unless told; the KV's connection has it off.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn redis_connections_send_without_nagles_delay() {
    let Some(url) = im_testkit::redis() else {
        return;
    };
    let port = url::Url::parse(&url).unwrap().port().unwrap_or(6379);
    let kv = kv::connect(&SecretUrl::new(url)).await.unwrap();
    kv.get("nagle-probe").await.unwrap();
    let states = im_runtime::nodelay::states_of_sockets_to(port).unwrap();
    assert!(!states.is_empty(), "the connection is found");
    assert!(
        states.iter().all(|on| *on),
        "TCP_NODELAY on each: {states:?}"
    );
}

#[tokio::test]
async fn unknown_scheme_is_rejected() {
    assert!(matches!(
        kv::connect(&SecretUrl::new("memcached://x")).await,
        Err(KvError::UnsupportedScheme(_))
    ));
}

#[tokio::test]
async fn unreachable_redis_is_an_error_not_a_hang() {
    let started = std::time::Instant::now();
    assert!(
        kv::connect(&SecretUrl::new("redis://127.0.0.1:1"))
            .await
            .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn redis_outage_is_served_locally_until_redis_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut redis) = im_testkit::servers::redis_server(dir.path()) else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port());
    let kv = kv::connect(&SecretUrl::new(&url)).await.unwrap();
    assert!(kv.has_fallback());
    kv.set("before", b"shared", None).await.unwrap();
    assert!(kv.ping().await.is_ok());

    redis.kill();
    let started = std::time::Instant::now();
    // Every operation keeps answering, from local state, without waiting out timeouts.
    kv.set("during", b"local", None).await.unwrap();
    assert_eq!(
        kv.get("during").await.unwrap().as_deref(),
        Some(&b"local"[..])
    );
    assert_eq!(kv.increment("counter", 2, None).await.unwrap(), 2);
    assert!(kv.ping().await.is_err(), "readiness shows the outage");
    assert!(started.elapsed() < Duration::from_secs(5));

    redis.restart();
    // Within a few probe intervals, operations reach Redis again (which kept nothing).
    let back = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            kv.ping().await.ok();
            let _ = kv.get("probe").await;
            if kv.ping().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "redis used again after it returned");
    assert_eq!(
        kv.get("during").await.unwrap(),
        None,
        "Redis is the store again"
    );
    let direct = kv::RedisKv::connect(&url).await.unwrap();
    kv.set("after", b"shared", None).await.unwrap();
    assert_eq!(
        direct.get("after").await.unwrap().as_deref(),
        Some(&b"shared"[..])
    );
}
