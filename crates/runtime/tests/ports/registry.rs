use im_runtime::ServiceName;
use im_runtime::config::RegistryConfig;
use im_runtime::registry;

#[tokio::test]
async fn static_registry_keeps_the_contract() {
    im_testkit::contract::registry(registry::connect(&RegistryConfig::default()).unwrap()).await;
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
