use im_runtime::ServiceName;
use im_runtime::config::RegistryConfig;
use im_runtime::registry::{self, Instance, Registry};
use std::sync::Arc;

fn instance(service: ServiceName, id: &str, port: u16) -> Instance {
    Instance {
        service,
        id: id.to_owned(),
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// The behaviour every registry adapter must have.
async fn contract(registry: Arc<dyn Registry>) {
    assert!(
        registry
            .resolve(ServiceName::Presence)
            .await
            .unwrap()
            .is_empty()
    );

    let one = instance(ServiceName::Presence, "node-1/presence", 7001);
    let two = instance(ServiceName::Presence, "node-2/presence", 7002);
    registry.register(one.clone()).await.unwrap();
    registry.register(two.clone()).await.unwrap();
    registry
        .register(instance(ServiceName::File, "node-1/file", 7003))
        .await
        .unwrap();
    let found = registry.resolve(ServiceName::Presence).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.contains(&one) && found.contains(&two));

    // re-registering the same id replaces, never duplicates
    let moved = instance(ServiceName::Presence, "node-1/presence", 7101);
    registry.register(moved.clone()).await.unwrap();
    let found = registry.resolve(ServiceName::Presence).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.contains(&moved) && !found.contains(&one));

    registry.deregister(&moved).await.unwrap();
    assert_eq!(
        registry.resolve(ServiceName::Presence).await.unwrap(),
        vec![two.clone()]
    );

    // a malformed endpoint is refused
    let bad = Instance {
        endpoint: "not a url".into(),
        ..two
    };
    assert!(registry.register(bad).await.is_err());
}

#[tokio::test]
async fn static_registry_keeps_the_contract() {
    contract(registry::connect(&RegistryConfig::default()).unwrap()).await;
}

#[tokio::test]
async fn static_registry_serves_configured_endpoints() {
    let mut config = RegistryConfig::default();
    config
        .endpoints
        .insert("media_signal".into(), vec!["http://10.1.2.3:7008".into()]);
    let registry = registry::connect(&config).unwrap();
    let found = registry.resolve(ServiceName::MediaSignal).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].endpoint, "http://10.1.2.3:7008");

    config
        .endpoints
        .insert("identity".into(), vec!["ftp://nope".into()]);
    assert!(
        registry::connect(&config).is_err(),
        "a malformed endpoint fails at start-up"
    );
    let mut unknown = RegistryConfig::default();
    unknown
        .endpoints
        .insert("billing".into(), vec!["http://127.0.0.1:1".into()]);
    assert!(
        registry::connect(&unknown).is_err(),
        "an unknown service fails at start-up"
    );
}
