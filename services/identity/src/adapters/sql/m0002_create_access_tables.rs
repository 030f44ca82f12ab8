//! Access control: the rules gateways enforce (`access_policies`) and role inheritance
//! (`role_links`), seeded with IM's defaults (`im_access::default_rules`,
//! `im_access::DEFAULT_ROLE_LINKS`), and an index to list a role's members.
//!
//! Every step may run again after a partial failure (MySQL cannot roll DDL back): tables
//! and the index are created only when missing, and seed rows that exist are kept.

use super::access::rule_key;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string_len, string_len_uniq};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who the seeded rules were made by.
const SEED_ACTOR: &str = "system";
const ROLE_MEMBERS_INDEX: &str = "idx_user_roles_role";

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_create_access_tables"
    }
}

#[derive(DeriveIden)]
enum AccessPolicies {
    Table,
    Id,
    RuleKey,
    Subject,
    Object,
    Action,
    Effect,
    ActorId,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum RoleLinks {
    Table,
    Role,
    Parent,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    Role,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessPolicies::Table)
                    .if_not_exists()
                    .col(string_len(AccessPolicies::Id, 64).primary_key())
                    // SHA-256 hex of the whole rule: the patterns are too long to index.
                    .col(string_len_uniq(AccessPolicies::RuleKey, 64))
                    .col(string_len(AccessPolicies::Subject, 64))
                    .col(string_len(AccessPolicies::Object, 512))
                    .col(string_len(AccessPolicies::Action, 512))
                    .col(string_len(AccessPolicies::Effect, 8))
                    .col(string_len(AccessPolicies::ActorId, 128))
                    .col(big_integer(AccessPolicies::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoleLinks::Table)
                    .if_not_exists()
                    .col(string_len(RoleLinks::Role, 32))
                    .col(string_len(RoleLinks::Parent, 32))
                    .primary_key(Index::create().col(RoleLinks::Role).col(RoleLinks::Parent))
                    .to_owned(),
            )
            .await?;
        // MySQL has no CREATE INDEX IF NOT EXISTS.
        if !manager.has_index("user_roles", ROLE_MEMBERS_INDEX).await? {
            manager
                .create_index(
                    Index::create()
                        .name(ROLE_MEMBERS_INDEX)
                        .table(UserRoles::Table)
                        .col(UserRoles::Role)
                        .to_owned(),
                )
                .await?;
        }
        seed(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(ROLE_MEMBERS_INDEX)
                    .table(UserRoles::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            RoleLinks::Table.into_iden(),
            AccessPolicies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn seed(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            <i64 as TryFrom<u128>>::try_from(since.as_millis()).unwrap_or(i64::MAX)
        });
    for rule in im_access::default_rules() {
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AccessPolicies::Table)
                    .columns([
                        AccessPolicies::Id,
                        AccessPolicies::RuleKey,
                        AccessPolicies::Subject,
                        AccessPolicies::Object,
                        AccessPolicies::Action,
                        AccessPolicies::Effect,
                        AccessPolicies::ActorId,
                        AccessPolicies::CreatedAtMs,
                    ])
                    .values_panic([
                        uuid::Uuid::now_v7().to_string().into(),
                        rule_key(&rule).into(),
                        rule.subject.clone().into(),
                        rule.object.clone().into(),
                        rule.action.clone().into(),
                        rule.effect.as_str().into(),
                        SEED_ACTOR.into(),
                        now_ms.into(),
                    ])
                    .on_conflict(
                        OnConflict::column(AccessPolicies::RuleKey)
                            .do_nothing_on([AccessPolicies::RuleKey])
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
    }
    for (role, parent) in im_access::DEFAULT_ROLE_LINKS {
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(RoleLinks::Table)
                    .columns([RoleLinks::Role, RoleLinks::Parent])
                    .values_panic([role.into(), parent.into()])
                    .on_conflict(
                        OnConflict::columns([RoleLinks::Role, RoleLinks::Parent])
                            .do_nothing_on([RoleLinks::Role])
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}
