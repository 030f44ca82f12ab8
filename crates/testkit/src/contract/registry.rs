//! The behaviour every registry adapter must have.

#![allow(clippy::unwrap_used)] // a contract fails loudly by design

use im_runtime::ServiceName;
use im_runtime::registry::{Instance, Registry};
use std::sync::Arc;

fn instance(service: ServiceName, id: &str, port: u16) -> Instance {
    Instance {
        service,
        id: id.to_owned(),
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// The behaviour every registry adapter must have.
pub async fn registry(registry: Arc<dyn Registry>) {
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
