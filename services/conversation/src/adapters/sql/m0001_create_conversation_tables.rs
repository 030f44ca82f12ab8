//! The first schema: pair locks, friend requests, contacts, blocks, conversations,
//! members, join requests, the membership log and the outbox. Times are BIGINT unix
//! milliseconds; indexed strings have a length so MySQL can index them; ids are at most
//! 128 printable ASCII characters (the database's binary collation sorts them as Rust
//! does).

use im_runtime::outbox;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, custom_null, integer, string_len, string_len_null, text,
};

const ID: u32 = 128;
/// Enum-like values: `pending`, `any_member`, `invite_only` …
const WORD: u32 = 16;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_create_conversation_tables"
    }
}

#[derive(DeriveIden)]
enum UserPairs {
    Table,
    UserLow,
    UserHigh,
    Revision,
}

#[derive(DeriveIden)]
enum FriendRequests {
    Table,
    Id,
    FromUserId,
    ToUserId,
    Message,
    Status,
    CreatedAtMs,
    UpdatedAtMs,
    DecidedAtMs,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    UserId,
    ContactId,
    Remark,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum Blocks {
    Table,
    UserId,
    BlockedUserId,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    Kind,
    Name,
    AvatarFileId,
    Announcement,
    OwnerId,
    InvitePolicy,
    JoinPolicy,
    MuteAll,
    DirectLow,
    DirectHigh,
    CreatedAtMs,
    UpdatedAtMs,
    DissolvedAtMs,
    LockRevision,
    MaxSeq,
    LastActivityMs,
    ActivityRevision,
    LastMessage,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    ConversationId,
    UserId,
    Role,
    MutedUntilMs,
    JoinedAtMs,
    ReadSeq,
}

#[derive(DeriveIden)]
enum JoinRequests {
    Table,
    Id,
    ConversationId,
    UserId,
    Message,
    Status,
    CreatedAtMs,
    UpdatedAtMs,
    DecidedAtMs,
    DecidedBy,
}

#[derive(DeriveIden)]
enum MembershipState {
    Table,
    Id,
    Version,
    PrunedThrough,
}

#[derive(DeriveIden)]
enum MembershipLog {
    Table,
    Version,
    Kind,
    ConversationId,
    ConversationKind,
    UserId,
    Role,
    MutedUntilMs,
    PeerId,
    Blocked,
    MuteAll,
    ActorId,
    OccurredAtMs,
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: &[DynIden],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column.clone());
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per pair of users that ever interacted: the lock their changes take.
        manager
            .create_table(
                Table::create()
                    .table(UserPairs::Table)
                    .col(string_len(UserPairs::UserLow, ID))
                    .col(string_len(UserPairs::UserHigh, ID))
                    .col(big_integer(UserPairs::Revision))
                    .primary_key(
                        Index::create()
                            .col(UserPairs::UserLow)
                            .col(UserPairs::UserHigh),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FriendRequests::Table)
                    .col(string_len(FriendRequests::Id, ID).primary_key())
                    .col(string_len(FriendRequests::FromUserId, ID))
                    .col(string_len(FriendRequests::ToUserId, ID))
                    .col(string_len(FriendRequests::Message, 200))
                    .col(string_len(FriendRequests::Status, WORD))
                    .col(big_integer(FriendRequests::CreatedAtMs))
                    .col(big_integer(FriendRequests::UpdatedAtMs))
                    .col(big_integer_null(FriendRequests::DecidedAtMs))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_friend_requests_to",
            FriendRequests::Table,
            &[
                FriendRequests::ToUserId.into_iden(),
                FriendRequests::Status.into_iden(),
                FriendRequests::Id.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_friend_requests_from",
            FriendRequests::Table,
            &[
                FriendRequests::FromUserId.into_iden(),
                FriendRequests::Status.into_iden(),
                FriendRequests::Id.into_iden(),
            ],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .col(string_len(Contacts::UserId, ID))
                    .col(string_len(Contacts::ContactId, ID))
                    .col(string_len(Contacts::Remark, 64))
                    .col(big_integer(Contacts::CreatedAtMs))
                    .primary_key(
                        Index::create()
                            .col(Contacts::UserId)
                            .col(Contacts::ContactId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Blocks::Table)
                    .col(string_len(Blocks::UserId, ID))
                    .col(string_len(Blocks::BlockedUserId, ID))
                    .col(big_integer(Blocks::CreatedAtMs))
                    .primary_key(
                        Index::create()
                            .col(Blocks::UserId)
                            .col(Blocks::BlockedUserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(string_len(Conversations::Id, ID).primary_key())
                    .col(string_len(Conversations::Kind, WORD))
                    .col(string_len(Conversations::Name, 64))
                    .col(string_len(Conversations::AvatarFileId, ID))
                    .col(text(Conversations::Announcement))
                    // Empty for direct conversations.
                    .col(string_len(Conversations::OwnerId, ID))
                    .col(string_len(Conversations::InvitePolicy, WORD))
                    .col(string_len(Conversations::JoinPolicy, WORD))
                    .col(boolean(Conversations::MuteAll))
                    // The pair of a direct conversation; NULL for groups, which the
                    // unique index below ignores.
                    .col(string_len_null(Conversations::DirectLow, ID))
                    .col(string_len_null(Conversations::DirectHigh, ID))
                    .col(big_integer(Conversations::CreatedAtMs))
                    .col(big_integer(Conversations::UpdatedAtMs))
                    .col(big_integer_null(Conversations::DissolvedAtMs))
                    // Bumped by every transaction that locks the conversation.
                    .col(big_integer(Conversations::LockRevision))
                    .col(big_integer(Conversations::MaxSeq))
                    .col(big_integer(Conversations::LastActivityMs))
                    .col(big_integer(Conversations::ActivityRevision))
                    // The newest message, an encoded `im.v1.Message`.
                    .col(custom_null(Conversations::LastMessage, "mediumblob"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_conversations_direct_pair",
            Conversations::Table,
            &[
                Conversations::DirectLow.into_iden(),
                Conversations::DirectHigh.into_iden(),
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .col(string_len(Members::ConversationId, ID))
                    .col(string_len(Members::UserId, ID))
                    .col(string_len(Members::Role, WORD))
                    .col(big_integer(Members::MutedUntilMs))
                    .col(big_integer(Members::JoinedAtMs))
                    .col(big_integer(Members::ReadSeq))
                    .primary_key(
                        Index::create()
                            .col(Members::ConversationId)
                            .col(Members::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_members_user_id",
            Members::Table,
            &[Members::UserId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(JoinRequests::Table)
                    .col(string_len(JoinRequests::Id, ID).primary_key())
                    .col(string_len(JoinRequests::ConversationId, ID))
                    .col(string_len(JoinRequests::UserId, ID))
                    .col(string_len(JoinRequests::Message, 200))
                    .col(string_len(JoinRequests::Status, WORD))
                    .col(big_integer(JoinRequests::CreatedAtMs))
                    .col(big_integer(JoinRequests::UpdatedAtMs))
                    .col(big_integer_null(JoinRequests::DecidedAtMs))
                    .col(string_len_null(JoinRequests::DecidedBy, ID))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_join_requests_conversation",
            JoinRequests::Table,
            &[
                JoinRequests::ConversationId.into_iden(),
                JoinRequests::Status.into_iden(),
                JoinRequests::Id.into_iden(),
            ],
            false,
        )
        .await?;
        // One row: the newest membership version (the lock that orders the log) and
        // how far the log has been pruned.
        manager
            .create_table(
                Table::create()
                    .table(MembershipState::Table)
                    .col(integer(MembershipState::Id).primary_key())
                    .col(big_integer(MembershipState::Version))
                    .col(big_integer(MembershipState::PrunedThrough))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(MembershipState::Table)
                    .columns([
                        MembershipState::Id,
                        MembershipState::Version,
                        MembershipState::PrunedThrough,
                    ])
                    .values_panic([1.into(), 0.into(), 0.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MembershipLog::Table)
                    .col(big_integer(MembershipLog::Version).primary_key())
                    .col(string_len(MembershipLog::Kind, 32))
                    .col(string_len_null(MembershipLog::ConversationId, ID))
                    .col(string_len_null(MembershipLog::ConversationKind, WORD))
                    .col(string_len(MembershipLog::UserId, ID))
                    .col(string_len_null(MembershipLog::Role, WORD))
                    .col(big_integer(MembershipLog::MutedUntilMs))
                    .col(string_len(MembershipLog::PeerId, ID))
                    .col(boolean(MembershipLog::Blocked))
                    .col(boolean(MembershipLog::MuteAll))
                    .col(string_len(MembershipLog::ActorId, ID))
                    .col(big_integer(MembershipLog::OccurredAtMs))
                    .to_owned(),
            )
            .await?;
        outbox::schema::create(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        outbox::schema::drop(manager).await?;
        for table in [
            MembershipLog::Table.into_iden(),
            MembershipState::Table.into_iden(),
            JoinRequests::Table.into_iden(),
            Members::Table.into_iden(),
            Conversations::Table.into_iden(),
            Blocks::Table.into_iden(),
            Contacts::Table.into_iden(),
            FriendRequests::Table.into_iden(),
            UserPairs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
