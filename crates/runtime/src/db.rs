//! The database port: SeaORM over SQLite (embedded) and MySQL/MariaDB (production) from
//! one codebase. Each service owns its database and its sea-orm-migration `Migrator`.

use crate::config::DatabaseConfig;
use crate::secret::SecretUrl;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    RuntimeErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

pub mod shapes;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database url scheme {0:?} (expected sqlite:// or mysql://)")]
    UnsupportedScheme(String),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("cannot create directory for the SQLite file {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A pooled connection idle this long is pinged before it is handed out, so a connection
/// the server or the network dropped meanwhile (a restart, an idle timeout) is replaced
/// instead of failing the caller's statement. One in steady use is not: a ping on every
/// checkout cost a round trip per transaction and per statement outside one.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Opens a pool to `url`, creating the SQLite file or the MySQL database if needed.
pub async fn connect(
    url: &SecretUrl,
    config: &DatabaseConfig,
) -> Result<DatabaseConnection, DbError> {
    match url.scheme() {
        "sqlite" => prepare_sqlite_file(url.expose())?,
        "mysql" if config.create_if_missing => create_mysql_database(url, config).await?,
        "mysql" => {}
        other => return Err(DbError::UnsupportedScheme(other.to_owned())),
    }
    let mut options = ConnectOptions::new(url.expose());
    options
        .max_connections(config.max_connections)
        .connect_timeout(config.connect_timeout)
        .acquire_timeout(config.connect_timeout)
        .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            // WAL lets readers proceed during a write; the default synchronous=FULL
            // keeps every commit durable, which an acked message requires.
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    if let Some(port) = mysql_tcp_port(url)? {
        options.map_sqlx_mysql_pool_opts(move |pool| {
            pool.after_connect(move |_connection, _meta| {
                Box::pin(async move {
                    // It reads /proc and makes a few system calls per socket.
                    let _ = tokio::task::spawn_blocking(move || no_delay_to(port)).await;
                    Ok(())
                })
            })
        });
    }
    Ok(Database::connect(options).await?)
}

/// The server port of a MySQL URL that connects over TCP (not `?socket=`).
fn mysql_tcp_port(url: &SecretUrl) -> Result<Option<u16>, DbError> {
    if url.scheme() != "mysql" {
        return Ok(None);
    }
    let parsed = url::Url::parse(url.expose()).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    if parsed.query_pairs().any(|(key, _)| key == "socket") {
        return Ok(None);
    }
    Ok(Some(parsed.port().unwrap_or(3306)))
}

/// Turns Nagle's algorithm off on the new connection (see [`crate::nodelay`]); should that be
/// impossible here (a sandbox refusing `pidfd_getfd`), says so once and goes on.
fn no_delay_to(port: u16) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    if let Err(error) = crate::nodelay::set_on_sockets_to(port) {
        WARNED.call_once(|| {
            tracing::warn!(
                %error,
                "cannot set TCP_NODELAY on the database connections: round trips may wait \
                 up to 40 ms for delayed ACKs; a local database can be reached through \
                 its Unix socket instead (mysql://…?socket=/path)"
            );
        });
    }
}

/// Brings the schema up to date; safe to run on every start and from several
/// processes (applied migrations are recorded in `seaql_migrations`).
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    M::up(db, None).await
}

/// Whether `error` is a unique-key violation (a 409 at the edge, never a 500).
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Starts a write transaction: IMMEDIATE on SQLite, so it takes the write lock at once
/// instead of upgrading a read lock mid-transaction (which SQLite refuses with BUSY).
/// On MySQL it is a plain transaction; callers take their row locks explicitly.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether `error` is a transaction losing to another: a deadlock, a lock wait timeout,
/// a row changed under a snapshot (MySQL), or a busy database (SQLite). Such a
/// transaction is safe to retry from the start.
pub fn is_lost_race(error: &DbErr) -> bool {
    use sea_orm::sqlx;
    let (DbErr::Exec(RuntimeErr::SqlxError(error))
    | DbErr::Query(RuntimeErr::SqlxError(error))
    | DbErr::Conn(RuntimeErr::SqlxError(error))) = error
    else {
        return false;
    };
    let sqlx::Error::Database(error) = error.as_ref() else {
        return false;
    };
    if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // 1020 record changed since last read, 1205 lock wait timeout, 1213 deadlock.
        return matches!(mysql.number(), 1020 | 1205 | 1213);
    }
    if error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        // SQLITE_BUSY and SQLITE_LOCKED with their extended codes.
        let code: i64 = error
            .code()
            .and_then(|code| code.parse().ok())
            .unwrap_or_default();
        return matches!(code & 0xff, 5 | 6);
    }
    false
}

fn prepare_sqlite_file(url: &str) -> Result<(), DbError> {
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// `CREATE DATABASE IF NOT EXISTS` for the database named in a MySQL URL.
async fn create_mysql_database(url: &SecretUrl, config: &DatabaseConfig) -> Result<(), DbError> {
    let mut server =
        url::Url::parse(url.expose()).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    let name = server.path().trim_start_matches('/').to_owned();
    if name.is_empty() {
        return Err(DbError::InvalidUrl(format!("{url} names no database")));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(DbError::InvalidUrl(format!(
            "database name {name:?} must be [A-Za-z0-9_]"
        )));
    }
    server.set_path("");
    let mut options = ConnectOptions::new(server.as_str());
    options
        .max_connections(1)
        .connect_timeout(config.connect_timeout)
        .sqlx_logging(false);
    let admin = Database::connect(options).await?;
    admin
        .execute_unprepared(&format!(
            "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await?;
    admin.close().await?;
    Ok(())
}
