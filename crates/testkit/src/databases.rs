//! Fresh SQL databases for one test scenario: SQLite files in a temporary directory, or
//! uniquely named MariaDB databases that are dropped afterwards.
//!
//! Testkit stays free of sea-orm: dropping a database runs through a small function the
//! caller passes, which executes one SQL statement on a URL with the caller's driver.

use std::path::Path;

/// The SQL backends every storage scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlBackend {
    Sqlite,
    MySql,
}

/// The databases handed out to one scenario, remembered so they can be dropped.
#[derive(Debug)]
pub struct TestDatabases {
    /// Holds the SQLite files (and is a data directory for anything else the test
    /// writes); removed when this is dropped.
    dir: tempfile::TempDir,
    /// The MariaDB server, on [`SqlBackend::MySql`].
    mysql_server: Option<String>,
    /// The MariaDB databases handed out, to drop afterwards.
    created: Vec<String>,
}

impl TestDatabases {
    /// Databases on `backend`, or `None` when MariaDB is unreachable outside CI (the
    /// scenario is then skipped).
    ///
    /// # Panics
    /// Under `CI=true` when MariaDB is unreachable, or when no temporary directory can be
    /// made.
    pub fn new(backend: SqlBackend) -> Option<Self> {
        let mysql_server = match backend {
            SqlBackend::Sqlite => None,
            SqlBackend::MySql => Some(crate::mysql_server()?),
        };
        Some(Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            mysql_server,
            created: Vec::new(),
        })
    }

    /// The temporary directory, a service's `data_dir` in tests.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A URL of a fresh database for `service`: `sqlite://<dir>/<service>.db`, or a
    /// MariaDB database named `im_<service>_test_<hex>` (the runtime creates it on
    /// connect).
    pub fn url(&mut self, service: &str) -> String {
        match &self.mysql_server {
            None => format!("sqlite://{}/{service}.db", self.dir.path().display()),
            Some(server) => {
                let name = crate::unique_name(&format!("im_{service}_test"));
                let url = format!("{server}/{name}");
                self.created.push(name);
                url
            }
        }
    }

    /// Drops every MariaDB database handed out, each by `execute(url, statement)` with
    /// `statement` a `DROP DATABASE`, then removes the temporary directory.
    pub async fn drop_all<F, Fut>(self, execute: F)
    where
        F: Fn(String, String) -> Fut,
        Fut: Future<Output = ()>,
    {
        if let Some(server) = &self.mysql_server {
            for name in &self.created {
                execute(
                    format!("{server}/{name}"),
                    format!("DROP DATABASE `{name}`"),
                )
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_files_in_the_directory() {
        let mut databases = TestDatabases::new(SqlBackend::Sqlite).unwrap();
        let url = databases.url("message");
        assert_eq!(
            url,
            format!("sqlite://{}/message.db", databases.dir().display())
        );
    }

    #[tokio::test]
    async fn only_mariadb_databases_are_dropped() {
        let mut databases = TestDatabases::new(SqlBackend::Sqlite).unwrap();
        databases.url("identity");
        let dir = databases.dir().to_owned();
        databases
            .drop_all(|url, _| async move { panic!("nothing to drop, yet asked for {url}") })
            .await;
        assert!(!dir.exists(), "the directory goes with the databases");
    }
}
