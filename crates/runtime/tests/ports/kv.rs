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

    for k in ["bin", "lock", "n", "ttl", "window", "p"] {
        kv.delete(&key(k)).await.unwrap();
    }
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
