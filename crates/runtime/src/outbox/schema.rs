//! The outbox tables, created by the owning service's first migration that needs them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, custom, string_len};

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Topic,
    RecordKey,
    Payload,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum OutboxLease {
    Table,
    Name,
    Holder,
    ExpiresAtMs,
}

pub async fn create(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Outbox::Table)
                .col(big_pk_auto(Outbox::Id))
                .col(string_len(Outbox::Topic, 128))
                .col(string_len(Outbox::RecordKey, 255))
                .col(custom(Outbox::Payload, "mediumblob"))
                .col(big_integer(Outbox::CreatedAtMs))
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(OutboxLease::Table)
                .col(string_len(OutboxLease::Name, 64).primary_key())
                .col(string_len(OutboxLease::Holder, 64))
                .col(big_integer(OutboxLease::ExpiresAtMs))
                .to_owned(),
        )
        .await?;
    manager
        .exec_stmt(
            Query::insert()
                .into_table(OutboxLease::Table)
                .columns([
                    OutboxLease::Name,
                    OutboxLease::Holder,
                    OutboxLease::ExpiresAtMs,
                ])
                .values_panic([super::LEASE_NAME.into(), "".into(), 0.into()])
                .to_owned(),
        )
        .await?;
    Ok(())
}

pub async fn drop(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for table in [OutboxLease::Table.into_iden(), Outbox::Table.into_iden()] {
        manager
            .drop_table(Table::drop().table(table).to_owned())
            .await?;
    }
    Ok(())
}
