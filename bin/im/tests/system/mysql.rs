//! The same binary on MariaDB/MySQL, chosen by configuration only.

use crate::process::{ImProcess, get_json, im};
use im_runtime::config::DatabaseConfig;
use im_runtime::db;
use im_runtime::secret::SecretUrl;
use sea_orm::ConnectionTrait;

pub async fn drop_databases(server: &str, prefix: &str) {
    let url = SecretUrl::new(format!("{server}/{prefix}_identity"));
    // One connection, and the database it is attached to dropped last, so the pool never
    // has to reconnect to a database that no longer exists.
    let config = DatabaseConfig {
        max_connections: 1,
        ..DatabaseConfig::default()
    };
    let conn = db::connect(&url, &config).await.unwrap();
    for service in ["conversation", "message", "file", "identity"] {
        let sql = format!("DROP DATABASE IF EXISTS `{prefix}_{service}`");
        conn.execute_unprepared(&sql).await.unwrap();
    }
}

#[tokio::test]
async fn serve_and_migrate_on_mysql() {
    let Some(server) = im_testkit::mysql_server() else {
        return;
    };
    let prefix = im_testkit::unique_name("im_sys");
    let url = format!("{server}/{prefix}_{{service}}");
    let dir = tempfile::tempdir().unwrap();

    let migrate = im(dir.path())
        .env("IM__DATABASE__URL", &url)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let im = ImProcess::start(dir.path(), |command| {
        command.env("IM__DATABASE__URL", &url);
    });
    let (status, body) = get_json(&im.http_url("/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["services"]["message"]["checks"]["database"]["ok"],
        true
    );
    assert!(
        !dir.path().join("identity.db").exists(),
        "no SQLite file when MySQL is configured"
    );
    assert!(im.terminate().0.success());
    drop_databases(&server, &prefix).await;
}
