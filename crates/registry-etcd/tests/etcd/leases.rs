//! How long an instance outlives its process, and how a process gets its instances back
//! after etcd forgot its lease.

use crate::{PROPAGATION, TTL, eventually, fresh_url, handle, ids, instance};
use im_runtime::ServiceName::{File, Presence};
use im_runtime::registry::Registry;

#[tokio::test]
async fn a_killed_process_disappears_within_its_ttl() {
    let Some(url) = fresh_url() else { return };
    let (doomed, observer) = (handle(&url).await, handle(&url).await);
    doomed
        .register(instance(Presence, "node-1", 7001))
        .await
        .unwrap();
    observer
        .register(instance(Presence, "node-2", 7002))
        .await
        .unwrap();
    eventually(PROPAGATION, "both instances listed", || async {
        ids(&observer, Presence).await.len() == 2
    })
    .await;
    // Still listed after several renewals: the lease is kept alive, not just granted.
    tokio::time::sleep(TTL * 2).await;
    assert_eq!(ids(&observer, Presence).await.len(), 2);

    // Like kill -9: renewals stop, nothing is deregistered or revoked.
    drop(doomed);
    let gone = eventually(TTL + PROPAGATION, "the killed instance expires", || async {
        ids(&observer, Presence).await == ["node-2/presence"]
    })
    .await;
    eprintln!("a killed instance disappeared after {gone:?} (ttl {TTL:?})");
}

#[tokio::test]
async fn release_withdraws_every_own_instance_at_once() {
    let Some(url) = fresh_url() else { return };
    let (leaving, observer) = (handle(&url).await, handle(&url).await);
    leaving
        .register(instance(Presence, "node-1", 7001))
        .await
        .unwrap();
    leaving
        .register(instance(File, "node-1", 7002))
        .await
        .unwrap();
    eventually(PROPAGATION, "both instances listed", || async {
        ids(&observer, Presence).await.len() == 1 && ids(&observer, File).await.len() == 1
    })
    .await;

    leaving.release().await.unwrap();
    eventually(
        PROPAGATION,
        "released instances vanish without waiting for the TTL",
        || async {
            ids(&observer, Presence).await.is_empty() && ids(&observer, File).await.is_empty()
        },
    )
    .await;

    // The handle stays usable.
    leaving
        .register(instance(File, "node-1", 7003))
        .await
        .unwrap();
    eventually(PROPAGATION, "a later registration is seen", || async {
        ids(&observer, File).await == ["node-1/file"]
    })
    .await;
}

#[tokio::test]
async fn instances_come_back_when_etcd_forgets_the_lease() {
    let Some(url) = fresh_url() else { return };
    let (owner, observer) = (handle(&url).await, handle(&url).await);
    let presence = instance(Presence, "node-1", 7001);
    owner.register(presence.clone()).await.unwrap();
    owner
        .register(instance(File, "node-1", 7002))
        .await
        .unwrap();

    // What etcd does to a lease it did not hear from for a TTL: revoke it, keys and all.
    let parsed = url::Url::parse(&url).unwrap();
    let member = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(2379)
    );
    let mut admin = etcd_client::Client::connect([member], None).await.unwrap();
    let key = format!("{}/services/presence/node-1/presence", parsed.path());
    let lease = admin.get(key, None).await.unwrap().kvs()[0].lease();
    assert_ne!(lease, 0, "instances are written under a lease");
    admin.lease_revoke(lease).await.unwrap();
    eventually(PROPAGATION, "the revoked instances vanish", || async {
        ids(&observer, Presence).await.is_empty()
    })
    .await;

    let back = eventually(
        TTL + PROPAGATION,
        "the owner registers its instances again",
        || async {
            ids(&observer, Presence).await == ["node-1/presence"]
                && ids(&observer, File).await == ["node-1/file"]
        },
    )
    .await;
    eprintln!("instances were back {back:?} after their lease was found gone");
    assert_eq!(observer.resolve(Presence).await.unwrap(), [presence]);
}
