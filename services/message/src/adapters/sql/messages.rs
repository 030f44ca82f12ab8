//! The statements behind the store port, over any connection or transaction.

use super::entities::{conversation_seq, hidden_message, message, read_cursor};
use super::{to_i64, to_u64};
use crate::domain::{Body, ClientMsgId, ConversationId, Message, MessageId, MessageType, UserId};
use crate::ports::{ClientKey, Direction, ReadAdvance, SeqRange};
use im_runtime::db::shapes;
use sea_orm::sea_query::{Expr, ExprTrait as _, InsertStatement, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// Ids per `IN (…)` list, padded to few shapes ([`shapes::padded`]).
const CHUNK: usize = 512;
/// Rows per multi-row insert, in runs of few shapes ([`shapes::runs`]): 13 values each
/// at most, well under SQLite's 32,766 and MySQL's 65,535 placeholders.
const ROWS: usize = 256;
/// Client keys looked up per statement (3 values each).
const KEYS: usize = 256;

fn to_domain(row: message::Model) -> Message {
    let mentions: Vec<String> = serde_json::from_str(&row.mentions).unwrap_or_default();
    Message {
        id: MessageId::from_stored(row.id),
        conversation_id: ConversationId::from_stored(row.conversation_id),
        seq: to_u64(row.seq),
        sender_id: UserId::from_stored(row.sender_id),
        client_msg_id: ClientMsgId::from_stored(row.client_msg_id),
        kind: MessageType::from_stored(&row.message_type),
        body: Body::from_stored(row.body),
        reply_to: row.reply_to.map(MessageId::from_stored),
        mentions: mentions.into_iter().map(UserId::from_stored).collect(),
        mention_all: row.mention_all,
        created_at_ms: row.created_at_ms,
        edited_at_ms: row.edited_at_ms,
        recalled: row.recalled,
    }
}

fn mentions_json(message: &Message) -> String {
    let ids: Vec<&str> = message.mentions.iter().map(UserId::as_str).collect();
    serde_json::Value::from(ids).to_string()
}

pub async fn message(db: &impl ConnectionTrait, id: &MessageId) -> Result<Option<Message>, DbErr> {
    Ok(message::Entity::find()
        .filter(message::Column::Id.eq(id.as_str()))
        .one(db)
        .await?
        .map(to_domain))
}

pub async fn by_client_id(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    sender: &UserId,
    client_msg_id: &ClientMsgId,
) -> Result<Option<Message>, DbErr> {
    Ok(message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation.as_str()))
        .filter(message::Column::SenderId.eq(sender.as_str()))
        .filter(message::Column::ClientMsgId.eq(client_msg_id.as_str()))
        .one(db)
        .await?
        .map(to_domain))
}

fn row(m: &Message) -> message::ActiveModel {
    message::ActiveModel {
        conversation_id: Set(m.conversation_id.as_str().to_owned()),
        seq: Set(to_i64(m.seq)),
        id: Set(m.id.as_str().to_owned()),
        sender_id: Set(m.sender_id.as_str().to_owned()),
        client_msg_id: Set(m.client_msg_id.as_str().to_owned()),
        message_type: Set(m.kind.as_str().to_owned()),
        body: Set(m.body.as_str().to_owned()),
        reply_to: Set(m.reply_to.as_ref().map(|id| id.as_str().to_owned())),
        mentions: Set(mentions_json(m)),
        mention_all: Set(m.mention_all),
        created_at_ms: Set(m.created_at_ms),
        edited_at_ms: Set(m.edited_at_ms),
        recalled: Set(m.recalled),
    }
}

/// Inserts `messages`, up to [`ROWS`] per statement.
pub async fn insert_many(db: &impl ConnectionTrait, messages: &[Message]) -> Result<(), DbErr> {
    for chunk in shapes::runs(messages, ROWS) {
        message::Entity::insert_many(chunk.iter().map(row))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The stored messages among `keys`: one lookup of the unique (conversation, sender,
/// client message id) index per key, [`KEYS`] keys per statement.
pub async fn by_client_ids(
    db: &impl ConnectionTrait,
    keys: &[ClientKey],
) -> Result<Vec<Message>, DbErr> {
    let mut found = Vec::new();
    for chunk in shapes::padded(keys, KEYS) {
        let any = chunk.iter().fold(Condition::any(), |any, key| {
            any.add(
                Condition::all()
                    .add(message::Column::ConversationId.eq(key.conversation_id.as_str()))
                    .add(message::Column::SenderId.eq(key.sender_id.as_str()))
                    .add(message::Column::ClientMsgId.eq(key.client_msg_id.as_str())),
            )
        });
        let rows = message::Entity::find().filter(any).all(db).await?;
        found.extend(rows.into_iter().map(to_domain));
    }
    Ok(found)
}

pub async fn update(db: &impl ConnectionTrait, m: &Message) -> Result<(), DbErr> {
    message::Entity::update_many()
        .col_expr(message::Column::Body, Expr::value(m.body.as_str()))
        .col_expr(message::Column::Mentions, Expr::value(mentions_json(m)))
        .col_expr(message::Column::MentionAll, Expr::value(m.mention_all))
        .col_expr(message::Column::EditedAtMs, Expr::value(m.edited_at_ms))
        .col_expr(message::Column::Recalled, Expr::value(m.recalled))
        .filter(message::Column::ConversationId.eq(m.conversation_id.as_str()))
        .filter(message::Column::Seq.eq(to_i64(m.seq)))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn page(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    viewer: &UserId,
    range: SeqRange,
    direction: Direction,
    limit: u64,
) -> Result<Vec<Message>, DbErr> {
    let hidden = Query::select()
        .expr(Expr::val(1))
        .from(hidden_message::Entity)
        .and_where(
            Expr::col((hidden_message::Entity, hidden_message::Column::UserId)).eq(viewer.as_str()),
        )
        .and_where(
            Expr::col((
                hidden_message::Entity,
                hidden_message::Column::ConversationId,
            ))
            .equals((message::Entity, message::Column::ConversationId)),
        )
        .and_where(
            Expr::col((hidden_message::Entity, hidden_message::Column::Seq))
                .equals((message::Entity, message::Column::Seq)),
        )
        .to_owned();
    let mut query = message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation.as_str()))
        .filter(message::Column::Seq.gt(to_i64(range.after)))
        .filter(Expr::not_exists(hidden));
    if let Some(before) = range.before {
        query = query.filter(message::Column::Seq.lt(to_i64(before)));
    }
    let query = match direction {
        Direction::Forward => query.order_by_asc(message::Column::Seq),
        Direction::Backward => query.order_by_desc(message::Column::Seq),
    };
    Ok(query
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

pub async fn max_seqs(
    db: &impl ConnectionTrait,
    conversations: &[ConversationId],
) -> Result<HashMap<ConversationId, u64>, DbErr> {
    let mut seqs = HashMap::with_capacity(conversations.len());
    for chunk in shapes::padded(conversations, CHUNK) {
        let rows = conversation_seq::Entity::find()
            .filter(
                conversation_seq::Column::ConversationId
                    .is_in(chunk.iter().map(ConversationId::as_str)),
            )
            .all(db)
            .await?;
        seqs.extend(rows.into_iter().map(|row| {
            (
                ConversationId::from_stored(row.conversation_id),
                to_u64(row.max_seq),
            )
        }));
    }
    Ok(seqs)
}

pub async fn read_seqs(
    db: &impl ConnectionTrait,
    user: &UserId,
    conversations: &[ConversationId],
) -> Result<HashMap<ConversationId, u64>, DbErr> {
    let mut seqs = HashMap::with_capacity(conversations.len());
    for chunk in shapes::padded(conversations, CHUNK) {
        let rows = read_cursor::Entity::find()
            .filter(read_cursor::Column::UserId.eq(user.as_str()))
            .filter(
                read_cursor::Column::ConversationId.is_in(chunk.iter().map(ConversationId::as_str)),
            )
            .all(db)
            .await?;
        seqs.extend(rows.into_iter().map(|row| {
            (
                ConversationId::from_stored(row.conversation_id),
                to_u64(row.read_seq),
            )
        }));
    }
    Ok(seqs)
}

/// Moves the cursor forward only: an update that only matches a lower cursor, then an
/// insert that does nothing when a cursor exists.
pub async fn advance_read(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    user: &UserId,
    seq: u64,
    now_ms: i64,
) -> Result<(), DbErr> {
    let seq = to_i64(seq);
    let moved = read_cursor::Entity::update_many()
        .col_expr(read_cursor::Column::ReadSeq, Expr::value(seq))
        .col_expr(read_cursor::Column::UpdatedAtMs, Expr::value(now_ms))
        .filter(read_cursor::Column::UserId.eq(user.as_str()))
        .filter(read_cursor::Column::ConversationId.eq(conversation.as_str()))
        .filter(read_cursor::Column::ReadSeq.lt(seq))
        .exec(db)
        .await?;
    if moved.rows_affected == 0 {
        let row = read_cursor::ActiveModel {
            user_id: Set(user.as_str().to_owned()),
            conversation_id: Set(conversation.as_str().to_owned()),
            read_seq: Set(seq),
            updated_at_ms: Set(now_ms),
        };
        read_cursor::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Moves many cursors forward in one upsert per [`ROWS`]: a cursor already past its
/// seq keeps its seq and time. One cursor per (user, conversation), please.
pub async fn advance_reads(
    db: &impl ConnectionTrait,
    cursors: &[ReadAdvance],
) -> Result<(), DbErr> {
    use read_cursor::Column::{ConversationId, ReadSeq, UpdatedAtMs, UserId};
    // MySQL applies its assignments left to right, each seeing the ones before: the
    // time is decided before the seq moves.
    let (moved_at, seq) = match db.get_database_backend() {
        DbBackend::MySql => (
            "IF(VALUES(read_seq) > read_seq, VALUES(updated_at_ms), updated_at_ms)",
            "GREATEST(read_seq, VALUES(read_seq))",
        ),
        _ => (
            "CASE WHEN excluded.read_seq > read_seq THEN excluded.updated_at_ms ELSE updated_at_ms END",
            "MAX(read_seq, excluded.read_seq)",
        ),
    };
    let on_conflict = OnConflict::columns([UserId, ConversationId])
        .value(UpdatedAtMs, Expr::cust(moved_at))
        .value(ReadSeq, Expr::cust(seq))
        .to_owned();
    for chunk in shapes::runs(cursors, ROWS) {
        let rows = chunk.iter().map(|cursor| read_cursor::ActiveModel {
            user_id: Set(cursor.user_id.as_str().to_owned()),
            conversation_id: Set(cursor.conversation_id.as_str().to_owned()),
            read_seq: Set(to_i64(cursor.seq)),
            updated_at_ms: Set(cursor.at_ms),
        });
        read_cursor::Entity::insert_many(rows)
            .on_conflict(on_conflict.clone())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn hide(
    db: &impl ConnectionTrait,
    user: &UserId,
    m: &Message,
    now_ms: i64,
) -> Result<(), DbErr> {
    let row = hidden_message::ActiveModel {
        user_id: Set(user.as_str().to_owned()),
        conversation_id: Set(m.conversation_id.as_str().to_owned()),
        seq: Set(to_i64(m.seq)),
        hidden_at_ms: Set(now_ms),
    };
    hidden_message::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes the conversation's lock; false when it has no counter row yet.
pub async fn lock(db: &impl ConnectionTrait, conversation: &ConversationId) -> Result<bool, DbErr> {
    let locked = conversation_seq::Entity::update_many()
        .col_expr(
            conversation_seq::Column::LockRevision,
            Expr::col(conversation_seq::Column::LockRevision).add(1),
        )
        .filter(conversation_seq::Column::ConversationId.eq(conversation.as_str()))
        .exec(db)
        .await?;
    Ok(locked.rows_affected > 0)
}

/// Makes the conversation's counter row (at seq 0) unless it exists.
pub async fn ensure_counter(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
) -> Result<(), DbErr> {
    let row = conversation_seq::ActiveModel {
        conversation_id: Set(conversation.as_str().to_owned()),
        max_seq: Set(0),
        lock_revision: Set(0),
    };
    conversation_seq::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes the locks of the conversations in their order and adds each count to its
/// counter, making the missing ones (from 0); returns each counter's new value. The
/// upsert also bumps each counter row's lock revision: an exclusive row lock to commit
/// on MySQL. SQLite reads the counters back from the upsert itself (`RETURNING`), and
/// so does MySQL for one conversation (`LAST_INSERT_ID(expr)`, the most common batch
/// at low rates); MySQL reads a batch of several back with a `SELECT`.
pub async fn add_to_max_seqs(
    db: &impl ConnectionTrait,
    counts: &[(ConversationId, u64)],
) -> Result<HashMap<ConversationId, u64>, DbErr> {
    match (db.get_database_backend(), counts) {
        (DbBackend::MySql, [(conversation, count)]) => {
            let max = add_to_one_max_seq(db, conversation, *count).await?;
            Ok(HashMap::from([(conversation.clone(), max)]))
        }
        (DbBackend::MySql, _) => {
            for chunk in shapes::runs(counts, ROWS) {
                db.execute(&counter_upsert(chunk, "max_seq + VALUES(max_seq)"))
                    .await?;
            }
            let conversations: Vec<ConversationId> =
                counts.iter().map(|(c, _)| c.clone()).collect();
            max_seqs(db, &conversations).await
        }
        _ => {
            use conversation_seq::Column::{ConversationId as Id, MaxSeq};
            let mut seqs = HashMap::with_capacity(counts.len());
            for chunk in shapes::runs(counts, ROWS) {
                let mut upsert = counter_upsert(chunk, "max_seq + excluded.max_seq");
                upsert.returning(Query::returning().columns([Id, MaxSeq]));
                for row in db.query_all(&upsert).await? {
                    let id: String = row.try_get_by_index(0)?;
                    let max: i64 = row.try_get_by_index(1)?;
                    seqs.insert(ConversationId::from_stored(id), to_u64(max));
                }
            }
            Ok(seqs)
        }
    }
}

/// `INSERT INTO conversation_seqs … ON CONFLICT/DUPLICATE KEY UPDATE max_seq = {added}`,
/// bumping the lock revision.
fn counter_upsert(counts: &[(ConversationId, u64)], added: &'static str) -> InsertStatement {
    use conversation_seq::Column::{ConversationId, LockRevision, MaxSeq};
    let mut upsert = Query::insert()
        .into_table(conversation_seq::Entity)
        .columns([ConversationId, MaxSeq, LockRevision])
        .on_conflict(
            OnConflict::column(ConversationId)
                .value(MaxSeq, Expr::cust(added))
                .value(LockRevision, Expr::col(LockRevision).add(1))
                .to_owned(),
        )
        .to_owned();
    for (conversation, count) in counts {
        upsert.values_panic([
            conversation.as_str().into(),
            to_i64(*count).into(),
            0i64.into(),
        ]);
    }
    upsert
}

/// MySQL, one conversation: the upsert hands the new counter back in its reply, as
/// the insert id (`LAST_INSERT_ID(expr)`) when it updated the row (2 rows affected),
/// and a new row holds `count`.
async fn add_to_one_max_seq(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    count: u64,
) -> Result<u64, DbErr> {
    let upsert = counter_upsert(
        &[(conversation.clone(), count)],
        "LAST_INSERT_ID(max_seq + VALUES(max_seq))",
    );
    let done = db.execute(&upsert).await?;
    match done.rows_affected() {
        1 => Ok(count),
        2 => Ok(done.last_insert_id()),
        n => Err(DbErr::Custom(format!(
            "the seq counter upsert of {conversation} affected {n} rows"
        ))),
    }
}
