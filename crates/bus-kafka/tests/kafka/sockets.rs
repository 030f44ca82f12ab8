//! The adapter's broker connections send at once (no Nagle's algorithm).

use crate::fresh_bus;
use im_runtime::bus::Record;

#[cfg(target_os = "linux")]
#[tokio::test]
async fn broker_connections_send_without_nagles_delay() {
    let Some((bus, url)) = fresh_bus().await else {
        return;
    };
    bus.publish("probe", Record::new("k", "v")).await.unwrap();
    let port = url::Url::parse(&url).unwrap().port().unwrap_or(9092);
    let states = im_runtime::nodelay::states_of_sockets_to(port).unwrap();
    assert!(!states.is_empty(), "the broker connections are found");
    assert!(
        states.iter().all(|on| *on),
        "TCP_NODELAY on each: {states:?}"
    );
}
