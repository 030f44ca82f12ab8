//! The first schema: per-conversation seq counters (the lock every change of a
//! conversation takes), messages, read cursors, messages hidden by one user, and the
//! outbox. Times are BIGINT unix milliseconds; indexed strings have a length so MySQL
//! can index them; ids are printable ASCII (the database's binary collation sorts them
//! as Rust does).

use im_runtime::outbox;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, string_len, string_len_null, text};

/// User and conversation ids.
const ID: u32 = 128;
/// Message ids and client message ids.
const MESSAGE_ID: u32 = 64;
/// Message types: `text`, `image` …
const WORD: u32 = 16;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_create_message_tables"
    }
}

#[derive(DeriveIden)]
enum ConversationSeqs {
    Table,
    ConversationId,
    MaxSeq,
    LockRevision,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    ConversationId,
    Seq,
    Id,
    SenderId,
    ClientMsgId,
    MessageType,
    Body,
    ReplyTo,
    Mentions,
    MentionAll,
    CreatedAtMs,
    EditedAtMs,
    Recalled,
}

#[derive(DeriveIden)]
enum ReadCursors {
    Table,
    UserId,
    ConversationId,
    ReadSeq,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum HiddenMessages {
    Table,
    UserId,
    ConversationId,
    Seq,
    HiddenAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per conversation that ever had a message or a read cursor.
        manager
            .create_table(
                Table::create()
                    .table(ConversationSeqs::Table)
                    .col(string_len(ConversationSeqs::ConversationId, ID).primary_key())
                    .col(big_integer(ConversationSeqs::MaxSeq))
                    // Bumped by every transaction that locks the conversation.
                    .col(big_integer(ConversationSeqs::LockRevision))
                    .to_owned(),
            )
            .await?;
        // Keyed by (conversation, seq): history and sync read ranges of that key.
        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(string_len(Messages::ConversationId, ID))
                    .col(big_integer(Messages::Seq))
                    .col(string_len(Messages::Id, MESSAGE_ID))
                    .col(string_len(Messages::SenderId, ID))
                    .col(string_len(Messages::ClientMsgId, MESSAGE_ID))
                    .col(string_len(Messages::MessageType, WORD))
                    // Canonical JSON; empty once recalled.
                    .col(text(Messages::Body))
                    .col(string_len_null(Messages::ReplyTo, MESSAGE_ID))
                    // A JSON array of user ids.
                    .col(text(Messages::Mentions))
                    .col(boolean(Messages::MentionAll))
                    .col(big_integer(Messages::CreatedAtMs))
                    .col(big_integer(Messages::EditedAtMs))
                    .col(boolean(Messages::Recalled))
                    .primary_key(
                        Index::create()
                            .col(Messages::ConversationId)
                            .col(Messages::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_messages_id")
                    .table(Messages::Table)
                    .col(Messages::Id)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Idempotent sends: one message per sender and client message id.
        manager
            .create_index(
                Index::create()
                    .name("uq_messages_client_msg")
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::SenderId)
                    .col(Messages::ClientMsgId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReadCursors::Table)
                    .col(string_len(ReadCursors::UserId, ID))
                    .col(string_len(ReadCursors::ConversationId, ID))
                    .col(big_integer(ReadCursors::ReadSeq))
                    .col(big_integer(ReadCursors::UpdatedAtMs))
                    .primary_key(
                        Index::create()
                            .col(ReadCursors::UserId)
                            .col(ReadCursors::ConversationId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HiddenMessages::Table)
                    .col(string_len(HiddenMessages::UserId, ID))
                    .col(string_len(HiddenMessages::ConversationId, ID))
                    .col(big_integer(HiddenMessages::Seq))
                    .col(big_integer(HiddenMessages::HiddenAtMs))
                    .primary_key(
                        Index::create()
                            .col(HiddenMessages::UserId)
                            .col(HiddenMessages::ConversationId)
                            .col(HiddenMessages::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        outbox::schema::create(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        outbox::schema::drop(manager).await?;
        for table in [
            HiddenMessages::Table.into_iden(),
            ReadCursors::Table.into_iden(),
            Messages::Table.into_iden(),
            ConversationSeqs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
