//! The SQL adapter of the store port (SQLite and MySQL/MariaDB through sea-orm), and the
//! schema, one sea-orm-migration file per change.
//!
//! Locking: every write transaction starts by taking its lock with an UPDATE of the
//! locked row (a pair row, a conversation row). On MySQL that is an exclusive row lock
//! held to commit, taken before the transaction reads anything, so its reads see what
//! earlier holders committed. On SQLite transactions begin IMMEDIATE, which serializes
//! writers outright. The membership log's version row is locked last, briefly.

mod activity;
mod contacts;
mod conversations;
mod entities;
mod m0001_create_conversation_tables;
mod membership;
mod store;
mod tx;

pub use tx::SqlTx;

use crate::ports::StoreError;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::prelude::*;
use std::sync::Arc;
use tokio::sync::Notify;

/// Every schema change of the conversation database, oldest first. Each one runs exactly
/// once per database; the record of applied changes lives in the service's own table,
/// so services that share one MySQL database never confuse each other's history.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_create_conversation_tables::Migration)]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_conversation".into_iden()
    }
}

/// The conversation tables behind the store port.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
    /// Woken after a commit that queued outbox records.
    outbox_wake: Arc<Notify>,
}

impl SqlStore {
    pub fn new(db: DatabaseConnection, outbox_wake: Arc<Notify>) -> Self {
        Self { db, outbox_wake }
    }
}

/// A unique-key violation is a lost race (or a conflict), anything else is unexpected.
fn insert_error(error: DbErr) -> StoreError {
    if im_runtime::db::is_unique_violation(&error) {
        StoreError::Duplicate
    } else {
        StoreError::Other(error.into())
    }
}

/// Milliseconds and seqs are stored as BIGINT.
fn to_i64(value: u64) -> i64 {
    <i64 as TryFrom<u64>>::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    <u64 as TryFrom<i64>>::try_from(value).unwrap_or(0)
}
