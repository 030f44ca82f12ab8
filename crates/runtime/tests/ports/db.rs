use im_runtime::config::DatabaseConfig;
use im_runtime::db;
use im_runtime::secret::SecretUrl;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set,
    TransactionTrait,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, string_uniq};

mod widget {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "widgets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub name: String,
        pub count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(DeriveIden)]
enum Widgets {
    Table,
    Id,
    Name,
    Count,
}

struct CreateWidgets;

impl MigrationName for CreateWidgets {
    fn name(&self) -> &str {
        "m0001_create_widgets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateWidgets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Widgets::Table)
                    .col(string(Widgets::Id).primary_key())
                    .col(string_uniq(Widgets::Name))
                    .col(big_integer(Widgets::Count))
                    .to_owned(),
            )
            .await
    }
}

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateWidgets)]
    }
}

fn widget(id: &str, name: &str, count: i64) -> widget::ActiveModel {
    widget::ActiveModel {
        id: Set(id.into()),
        name: Set(name.into()),
        count: Set(count),
    }
}

/// The behaviour every database backend must have for our services.
async fn contract(url: &SecretUrl) {
    let config = DatabaseConfig::default();
    let conn: DatabaseConnection = db::connect(url, &config).await.unwrap();
    conn.ping().await.unwrap();

    // migrations apply once and are idempotent on every later start
    db::migrate::<Migrator>(&conn).await.unwrap();
    db::migrate::<Migrator>(&conn).await.unwrap();

    widget("w1", "first", 1).insert(&conn).await.unwrap();
    let found = widget::Entity::find_by_id("w1")
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.name, "first");

    // a unique violation is recognisable (a 409 at the edge), not an opaque failure
    let duplicate = widget("w2", "first", 2).insert(&conn).await.unwrap_err();
    assert!(db::is_unique_violation(&duplicate), "{duplicate:?}");
    let duplicate_key = widget("w1", "other", 2).insert(&conn).await.unwrap_err();
    assert!(db::is_unique_violation(&duplicate_key), "{duplicate_key:?}");
    // ... and it is not mistaken for a lost race, which would be retried in vain
    assert!(!db::is_lost_race(&duplicate), "{duplicate:?}");

    // a write transaction commits like any other
    let txn = db::begin_write(&conn).await.unwrap();
    widget("w0", "zeroth", 0).insert(&txn).await.unwrap();
    widget::Entity::delete_by_id("w0").exec(&txn).await.unwrap();
    txn.commit().await.unwrap();

    // a rolled-back transaction leaves nothing behind
    let txn = conn.begin().await.unwrap();
    widget("w3", "third", 3).insert(&txn).await.unwrap();
    txn.rollback().await.unwrap();
    assert!(
        widget::Entity::find_by_id("w3")
            .one(&conn)
            .await
            .unwrap()
            .is_none()
    );

    // a committed one is visible to other connections of the pool
    let txn = conn.begin().await.unwrap();
    widget("w4", "fourth", 4).insert(&txn).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(widget::Entity::find().count(&conn).await.unwrap(), 2);

    // text is stored byte-exact (emoji need utf8mb4 on MySQL)
    let name = "名字 🚀 O'Brien; DROP TABLE widgets;--";
    widget("w5", name, 5).insert(&conn).await.unwrap();
    let found = widget::Entity::find_by_id("w5")
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.name, name);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = SecretUrl::new(format!(
        "sqlite://{}/nested/dir/test.db",
        dir.path().display()
    ));
    contract(&url).await;
    assert!(
        dir.path().join("nested/dir/test.db").exists(),
        "file and directories created"
    );
}

#[tokio::test]
async fn sqlite_writer_losing_the_lock_is_a_lost_race() {
    let dir = tempfile::tempdir().unwrap();
    let url = SecretUrl::new(format!("sqlite://{}/race.db", dir.path().display()));
    let holder = db::connect(&url, &DatabaseConfig::default()).await.unwrap();
    db::migrate::<Migrator>(&holder).await.unwrap();
    // One connection that gives up at once instead of waiting out the busy timeout.
    let single = DatabaseConfig {
        max_connections: 1,
        ..DatabaseConfig::default()
    };
    let rival = db::connect(&url, &single).await.unwrap();
    rival
        .execute_unprepared("PRAGMA busy_timeout = 0")
        .await
        .unwrap();

    // IMMEDIATE: the first writer holds the write lock before touching anything
    let txn = db::begin_write(&holder).await.unwrap();
    let lost = db::begin_write(&rival).await.unwrap_err();
    assert!(db::is_lost_race(&lost), "{lost:?}");
    txn.rollback().await.unwrap();
    db::begin_write(&rival)
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
}

#[tokio::test]
async fn mysql_keeps_the_contract() {
    let Some(server) = im_testkit::mysql_server() else {
        return;
    };
    let name = im_testkit::unique_name("im_test");
    contract(&SecretUrl::new(format!("{server}/{name}"))).await;

    let admin = db::connect(
        &SecretUrl::new(format!("{server}/{name}")),
        &DatabaseConfig::default(),
    )
    .await
    .unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE `{name}`"))
        .await
        .unwrap();
}

/// sqlx 0.9.0 leaves Nagle's algorithm on; every pooled connection to MariaDB must have
/// it off, or round trips wait for delayed ACKs.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn mysql_connections_send_without_nagles_delay() {
    let Some(server) = im_testkit::mysql_server() else {
        return;
    };
    let port = url::Url::parse(&server).unwrap().port().unwrap_or(3306);
    let name = im_testkit::unique_name("im_test");
    let url = SecretUrl::new(format!("{server}/{name}"));
    let pool = db::connect(&url, &DatabaseConfig::default()).await.unwrap();
    // Two transactions at once hold two connections of the pool.
    let first = pool.begin().await.unwrap();
    let second = pool.begin().await.unwrap();
    for txn in [&first, &second] {
        txn.execute_unprepared("SELECT 1").await.unwrap();
    }
    let states = im_runtime::nodelay::states_of_sockets_to(port).unwrap();
    assert!(
        states.len() >= 2,
        "the pool's connections are found: {states:?}"
    );
    assert!(
        states.iter().all(|on| *on),
        "TCP_NODELAY on each: {states:?}"
    );
    drop((first, second));
    pool.execute_unprepared(&format!("DROP DATABASE `{name}`"))
        .await
        .unwrap();
}

/// The one row `sql` reads.
async fn one_row(pool: &DatabaseConnection, sql: &str) -> sea_orm::QueryResult {
    pool.query_one_raw(sea_orm::Statement::from_string(
        pool.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .unwrap()
}

/// The counter of `COM_PING`s (and other admin commands) of the one connection of `pool`.
async fn pings_of(pool: &DatabaseConnection) -> i64 {
    let row = one_row(pool, "SHOW SESSION STATUS LIKE 'Com_admin_commands'").await;
    let value: String = row.try_get_by_index(1).unwrap();
    value.parse().unwrap()
}

/// A connection in steady use goes out of the pool without a ping (a round trip per
/// checkout otherwise, on top of sqlx's own when it comes back); one the server dropped
/// while it sat idle is found out by the ping before use and replaced, so the caller's
/// statement does not fail.
#[tokio::test]
async fn mysql_pools_ping_only_idle_connections() {
    let Some(server) = im_testkit::mysql_server() else {
        return;
    };
    let name = im_testkit::unique_name("im_test");
    let url = SecretUrl::new(format!("{server}/{name}"));
    let config = DatabaseConfig {
        max_connections: 1,
        ..DatabaseConfig::default()
    };
    let pool = db::connect(&url, &config).await.unwrap();
    let before = pings_of(&pool).await;
    for _ in 0..20 {
        pool.execute_unprepared("SELECT 1").await.unwrap();
    }
    let after = pings_of(&pool).await;
    // 21 checkouts (the counter's read included): sqlx pings once as each connection
    // goes back to its pool, whatever the options; a ping on checkout would double it.
    assert!(
        after - before <= 21,
        "no ping on checkout: {} pings for 21 checkouts",
        after - before
    );

    let id: u64 = one_row(&pool, "SELECT CONNECTION_ID() AS id")
        .await
        .try_get("", "id")
        .unwrap();
    let admin = db::connect(&SecretUrl::new(format!("{server}/{name}")), &config)
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("KILL CONNECTION {id}"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    pool.execute_unprepared("SELECT 1")
        .await
        .expect("the dropped connection is replaced before use");
    admin
        .execute_unprepared(&format!("DROP DATABASE `{name}`"))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_urls_are_refused() {
    let config = DatabaseConfig::default();
    assert!(
        db::connect(&SecretUrl::new("oracle://x/y"), &config)
            .await
            .is_err()
    );
    assert!(
        db::connect(
            &SecretUrl::new("mysql://root@127.0.0.1:3306/bad-name"),
            &config
        )
        .await
        .is_err()
    );
    assert!(
        db::connect(&SecretUrl::new("mysql://root@127.0.0.1:3306"), &config)
            .await
            .is_err()
    );
}
