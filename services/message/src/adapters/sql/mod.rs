//! The SQL adapter of the store port (SQLite and MySQL/MariaDB through sea-orm), and the
//! schema, one sea-orm-migration file per change.
//!
//! Locking: every write transaction of a conversation starts by taking the
//! conversation's lock with an UPDATE of its counter row. On MySQL that is an exclusive
//! row lock held to commit, taken before the transaction reads anything, so its reads
//! see what earlier holders committed, and seqs (and outbox ids) are taken in commit
//! order. On SQLite transactions begin IMMEDIATE, which serializes writers outright.
//! A batch of sends locks all its conversations with one upsert, in ascending order,
//! so batches sharing conversations wait for each other rather than deadlock; the same
//! upsert adds each conversation's count of new messages to its counter, and one read
//! of the counters gives each run's first seq.

mod batch;
mod entities;
mod m0001_create_message_tables;
mod messages;
mod store;
mod tx;

pub use batch::SqlBatch;
pub use tx::SqlTx;

use crate::ports::StoreError;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::prelude::*;
use std::sync::Arc;
use tokio::sync::Notify;

/// Every schema change of the message database, oldest first. Each one runs exactly once
/// per database; the record of applied changes lives in the service's own table, so
/// services that share one MySQL database never confuse each other's history.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_create_message_tables::Migration)]
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_message".into_iden()
    }
}

/// The message tables behind the store port.
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

/// A unique-key violation is a lost race (or a retry), anything else is unexpected.
fn insert_error(error: DbErr) -> StoreError {
    if im_runtime::db::is_unique_violation(&error) {
        StoreError::Duplicate
    } else {
        StoreError::Other(error.into())
    }
}

/// Seqs are stored as BIGINT.
fn to_i64(value: u64) -> i64 {
    <i64 as TryFrom<u64>>::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    <u64 as TryFrom<i64>>::try_from(value).unwrap_or(0)
}
