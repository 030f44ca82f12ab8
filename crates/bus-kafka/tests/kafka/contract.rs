use crate::fresh_bus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_bus_keeps_the_contract() {
    let Some((bus, _)) = fresh_bus().await else {
        return;
    };
    im_testkit::contract::bus(bus).await;
}
