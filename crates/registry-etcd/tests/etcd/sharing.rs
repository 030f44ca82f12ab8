//! What two processes sharing one etcd see of each other.

use crate::{PROPAGATION, config, eventually, fresh_url, handle, ids, instance};
use im_runtime::ServiceName::{Gateway, Identity, Presence};
use im_runtime::registry::Registry;

#[tokio::test]
async fn two_processes_see_each_other_come_and_go_within_a_second() {
    let Some(url) = fresh_url() else { return };
    let (one, two) = (handle(&url).await, handle(&url).await);

    let gateway_one = instance(Gateway, "node-1", 7001);
    one.register(gateway_one.clone()).await.unwrap();
    eventually(
        PROPAGATION,
        "the other process sees a registration",
        || async { ids(&two, Gateway).await == ["node-1/gateway"] },
    )
    .await;

    two.register(instance(Gateway, "node-2", 7002))
        .await
        .unwrap();
    eventually(PROPAGATION, "and the first sees the second's", || async {
        ids(&one, Gateway).await == ["node-1/gateway", "node-2/gateway"]
    })
    .await;
    assert_eq!(
        two.resolve(Gateway).await.unwrap()[0],
        gateway_one,
        "endpoint and id arrive intact"
    );

    one.deregister(&gateway_one).await.unwrap();
    eventually(
        PROPAGATION,
        "the other process sees a deregistration",
        || async { ids(&two, Gateway).await == ["node-2/gateway"] },
    )
    .await;
    assert!(ids(&two, Presence).await.is_empty());
}

#[tokio::test]
async fn configured_endpoints_are_served_beside_registered_instances() {
    let Some(url) = fresh_url() else { return };
    let mut with_endpoints = config(&url);
    with_endpoints
        .endpoints
        .insert("identity".into(), vec!["http://10.1.2.3:7002".into()]);
    let registry = im_registry_etcd::connect(&with_endpoints).await.unwrap();
    registry
        .register(instance(Identity, "node-1", 7102))
        .await
        .unwrap();
    let found = registry.resolve(Identity).await.unwrap();
    let listed: Vec<_> = found
        .iter()
        .map(|i| (i.id.as_str(), i.endpoint.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("node-1/identity", "http://127.0.0.1:7102"),
            ("static:http://10.1.2.3:7002", "http://10.1.2.3:7002"),
        ],
        "sorted by id"
    );

    with_endpoints
        .endpoints
        .insert("presence".into(), vec!["ftp://nope".into()]);
    assert!(
        im_registry_etcd::connect(&with_endpoints).await.is_err(),
        "a malformed configured endpoint fails at start-up"
    );
}
