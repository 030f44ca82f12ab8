//! The first schema: users and roles, sessions and refresh tokens, signing keys, bans
//! and IP blocks. Times are BIGINT unix milliseconds; indexed strings have a length so
//! MySQL can index them; everything else is portable between SQLite and MySQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, string_len, string_len_null, string_len_uniq,
};

/// Ids are uuid v7 text (36 characters); the headroom costs nothing.
const ID: u32 = 64;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_create_identity_tables"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
    DisplayName,
    AvatarFileId,
    Bio,
    PasswordHash,
    CreatedAtMs,
    UpdatedAtMs,
    DeletedAtMs,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    Role,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    DeviceId,
    UserAgent,
    ClientIp,
    CreatedAtMs,
    LastUsedAtMs,
    ExpiresAtMs,
    RevokedAtMs,
    RevokedReason,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    CreatedAtMs,
    ExpiresAtMs,
    UsedAtMs,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Secret,
    Public,
    CreatedAtMs,
    RetiredAtMs,
}

#[derive(DeriveIden)]
enum UserBans {
    Table,
    UserId,
    Reason,
    UntilMs,
    ActorId,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum IpBlocks {
    Table,
    Id,
    Cidr,
    Reason,
    UntilMs,
    ActorId,
    CreatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, ID).primary_key())
                    .col(string_len(Users::Username, 32))
                    // Case-folded; kept after deletion so the name stays reserved.
                    .col(string_len_uniq(Users::UsernameKey, 32))
                    .col(string_len(Users::DisplayName, 64))
                    .col(string_len(Users::AvatarFileId, 64))
                    .col(string_len(Users::Bio, 500))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(big_integer(Users::CreatedAtMs))
                    .col(big_integer(Users::UpdatedAtMs))
                    .col(big_integer_null(Users::DeletedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserRoles::Table)
                    .col(string_len(UserRoles::UserId, ID))
                    .col(string_len(UserRoles::Role, 64))
                    .primary_key(Index::create().col(UserRoles::UserId).col(UserRoles::Role))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, ID).primary_key())
                    .col(string_len(Sessions::UserId, ID))
                    .col(string_len(Sessions::DeviceId, 128))
                    .col(string_len(Sessions::UserAgent, 256))
                    .col(string_len(Sessions::ClientIp, 64))
                    .col(big_integer(Sessions::CreatedAtMs))
                    .col(big_integer(Sessions::LastUsedAtMs))
                    .col(big_integer(Sessions::ExpiresAtMs))
                    .col(big_integer_null(Sessions::RevokedAtMs))
                    .col(string_len_null(Sessions::RevokedReason, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_id")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        // The denylist asks for sessions revoked within the last access-token lifetime.
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_revoked_at_ms")
                    .table(Sessions::Table)
                    .col(Sessions::RevokedAtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string_len(RefreshTokens::TokenHash, 64).primary_key())
                    .col(string_len(RefreshTokens::SessionId, ID))
                    .col(big_integer(RefreshTokens::CreatedAtMs))
                    .col(big_integer(RefreshTokens::ExpiresAtMs))
                    .col(big_integer_null(RefreshTokens::UsedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_session_id")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string_len(SigningKeys::Kid, 64).primary_key())
                    // 32 bytes each, base64.
                    .col(string_len(SigningKeys::Secret, 64))
                    .col(string_len(SigningKeys::Public, 64))
                    .col(big_integer(SigningKeys::CreatedAtMs))
                    .col(big_integer_null(SigningKeys::RetiredAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserBans::Table)
                    .col(string_len(UserBans::UserId, ID).primary_key())
                    .col(string_len(UserBans::Reason, 200))
                    .col(big_integer_null(UserBans::UntilMs))
                    .col(string_len(UserBans::ActorId, 128))
                    .col(big_integer(UserBans::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IpBlocks::Table)
                    .col(string_len(IpBlocks::Id, ID).primary_key())
                    .col(string_len_uniq(IpBlocks::Cidr, 64))
                    .col(string_len(IpBlocks::Reason, 200))
                    .col(big_integer_null(IpBlocks::UntilMs))
                    .col(string_len(IpBlocks::ActorId, 128))
                    .col(big_integer(IpBlocks::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IpBlocks::Table.into_iden(),
            UserBans::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            UserRoles::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
