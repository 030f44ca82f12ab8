//! The auth journey on MariaDB/MySQL, the production database.

use crate::auth_flow::the_whole_journey;
use crate::mysql::drop_databases;

#[tokio::test]
async fn the_whole_journey_on_mysql() {
    let Some(server) = im_testkit::mysql_server() else {
        return;
    };
    let prefix = im_testkit::unique_name("im_auth");
    let url = format!("{server}/{prefix}_{{service}}");
    the_whole_journey(&[("IM__DATABASE__URL", &url)]).await;
    drop_databases(&server, &prefix).await;
}
