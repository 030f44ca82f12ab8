//! The SQL adapter of every identity repository (SQLite and MySQL/MariaDB through
//! sea-orm), and the schema, one sea-orm-migration file per change.

mod access;
mod entities;
mod keys;
mod m0001_create_identity_tables;
mod m0002_create_access_tables;
mod moderation;
mod sessions;
mod users;

use crate::ports::StoreError;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::prelude::*;

/// Every schema change of the identity database, oldest first. Each one runs exactly once per
/// database; the record of applied changes lives in the service's own table, so services
/// that share one MySQL database never confuse each other's history.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_identity_tables::Migration),
            Box::new(m0002_create_access_tables::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_identity".into_iden()
    }
}

/// Identity's tables behind the repository ports.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl SqlStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A unique-key violation is a domain answer (a conflict), anything else is unexpected.
fn insert_error(error: DbErr) -> StoreError {
    if im_runtime::db::is_unique_violation(&error) {
        StoreError::Duplicate
    } else {
        StoreError::Other(error.into())
    }
}
