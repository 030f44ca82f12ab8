//! The service's SQL schema, one sea-orm-migration file per change.

use sea_orm_migration::prelude::*;

/// Every schema change of the file database, oldest first. Each one runs exactly once per
/// database; the record of applied changes lives in the service's own table, so services
/// that share one MySQL database never confuse each other's history.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }

    fn migration_table_name() -> DynIden {
        "seaql_migrations_file".into_iden()
    }
}
