//! The message activity projection's statements: a batch of events costs one read of
//! its conversations' activity, one compare-and-swap update of those that changed and
//! one update of the read cursors that moved, whatever the number of conversations.

use super::entities::{conversation, member};
use super::{to_i64, to_u64};
use crate::adapters::wire;
use crate::domain::{Activity, ConversationId};
use crate::ports::{ActivityChange, ReadAdvance};
use im_runtime::db::shapes;
use sea_orm::sea_query::{CaseStatement, Condition, Expr, Value};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;

/// Ids per `IN (…)` list, padded to few shapes ([`shapes::padded`]).
const IDS: usize = 512;
/// Rows per `CASE` update, in runs of few shapes ([`shapes::runs`]): at most 10 values
/// each, well under SQLite's 32,766 and MySQL's 65,535 placeholders.
const ROWS: usize = 256;

/// A conversation's id and activity columns: max seq, last message, last activity,
/// revision.
type ActivityRow = (String, i64, Option<Vec<u8>>, i64, i64);

/// The activity as stored in a conversation's row.
pub(super) fn stored(
    max_seq: i64,
    last_message: Option<&[u8]>,
    last_activity_ms: i64,
    revision: i64,
) -> Activity {
    Activity {
        max_seq: to_u64(max_seq),
        last_message: last_message.and_then(wire::decode_snapshot),
        last_activity_ms,
        revision,
    }
}

/// The activity of those of `ids` that exist.
pub(super) async fn activities(
    db: &impl ConnectionTrait,
    ids: &[ConversationId],
) -> Result<HashMap<ConversationId, Activity>, DbErr> {
    use conversation::Column::{ActivityRevision, Id, LastActivityMs, LastMessage, MaxSeq};
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in shapes::padded(ids, IDS) {
        let rows: Vec<ActivityRow> = conversation::Entity::find()
            .select_only()
            .columns([Id, MaxSeq, LastMessage, LastActivityMs, ActivityRevision])
            .filter(Id.is_in(chunk.iter().map(ConversationId::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(
            |(id, max_seq, last_message, last_activity_ms, revision)| {
                let activity = stored(max_seq, last_message.as_deref(), last_activity_ms, revision);
                (ConversationId::from_stored(id), activity)
            },
        ));
    }
    Ok(found)
}

/// Replaces the activity of each conversation still at its expected revision, one
/// `UPDATE … SET column = CASE id WHEN … END` per [`ROWS`]; returns how many were.
/// One change per conversation, please.
pub(super) async fn replace_activities(
    db: &impl ConnectionTrait,
    changes: &[ActivityChange],
) -> Result<u64, DbErr> {
    use conversation::Column::{ActivityRevision, Id, LastActivityMs, LastMessage, MaxSeq};
    let mut replaced = 0;
    for chunk in shapes::runs(changes, ROWS) {
        let per_row = |column: conversation::Column, value: fn(&Activity) -> Value| -> Expr {
            chunk
                .iter()
                .fold(CaseStatement::new(), |case, change| {
                    case.case(
                        Id.eq(change.conversation.as_str()),
                        Expr::value(value(&change.next)),
                    )
                })
                .finally(Expr::col(column))
                .into()
        };
        let unchanged = chunk.iter().fold(Condition::any(), |any, change| {
            any.add(
                Condition::all()
                    .add(Id.eq(change.conversation.as_str()))
                    .add(ActivityRevision.eq(change.expected_revision)),
            )
        });
        let updated = conversation::Entity::update_many()
            .col_expr(MaxSeq, per_row(MaxSeq, |a| to_i64(a.max_seq).into()))
            .col_expr(
                LastActivityMs,
                per_row(LastActivityMs, |a| a.last_activity_ms.into()),
            )
            .col_expr(
                LastMessage,
                per_row(LastMessage, |a| {
                    a.last_message.as_ref().map(wire::encode_snapshot).into()
                }),
            )
            .col_expr(
                ActivityRevision,
                per_row(ActivityRevision, |a| a.revision.into()),
            )
            .filter(unchanged)
            .exec(db)
            .await?;
        replaced += updated.rows_affected;
    }
    Ok(replaced)
}

/// Moves each member's read cursor to its seq where it is behind, one `UPDATE … SET
/// read_seq = CASE … END` per [`ROWS`]; cursors of non-members are left alone. One
/// cursor per (conversation, user), please.
pub(super) async fn advance_reads(
    db: &impl ConnectionTrait,
    reads: &[ReadAdvance],
) -> Result<(), DbErr> {
    use member::Column::{ConversationId, ReadSeq, UserId};
    let cursor = |read: &ReadAdvance| {
        Condition::all()
            .add(ConversationId.eq(read.conversation.as_str()))
            .add(UserId.eq(read.user.as_str()))
    };
    for chunk in shapes::runs(reads, ROWS) {
        let seq: Expr = chunk
            .iter()
            .fold(CaseStatement::new(), |case, read| {
                case.case(cursor(read), Expr::value(to_i64(read.seq)))
            })
            .finally(Expr::col(ReadSeq))
            .into();
        let behind = chunk.iter().fold(Condition::any(), |any, read| {
            any.add(cursor(read).add(ReadSeq.lt(to_i64(read.seq))))
        });
        member::Entity::update_many()
            .col_expr(ReadSeq, seq)
            .filter(behind)
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Migrator, conversations};
    use super::*;
    use crate::domain::{Conversation, GroupName, GroupSettings, UserId};
    use im_runtime::config::DatabaseConfig;
    use im_runtime::secret::SecretUrl;
    use im_testkit::{SqlBackend, TestDatabases};
    use sea_orm::DatabaseConnection;
    use sea_orm_migration::MigratorTrait as _;

    async fn with_store<F, Fut>(backend: SqlBackend, scenario: F)
    where
        F: FnOnce(DatabaseConnection) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(mut databases) = TestDatabases::new(backend) else {
            return;
        };
        let url = SecretUrl::new(databases.url("conversation"));
        let db = im_runtime::db::connect(&url, &DatabaseConfig::default())
            .await
            .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let run = scenario(db.clone());
        let cleanup = async move {
            db.close().await.unwrap();
            databases
                .drop_all(|url, statement| async move {
                    let db = sea_orm::Database::connect(url).await.unwrap();
                    db.execute_unprepared(&statement).await.unwrap();
                    db.close().await.unwrap();
                })
                .await;
        };
        im_testkit::run_then_clean_up(run, cleanup).await;
    }

    async fn group(db: &DatabaseConnection) -> ConversationId {
        let owner = UserId::parse("olive").unwrap();
        let name = GroupName::parse("g").unwrap();
        let conversation = Conversation::group(owner, name, GroupSettings::default(), 1);
        conversations::insert_conversation(db, &conversation)
            .await
            .unwrap();
        conversation.id
    }

    fn change(id: &ConversationId, expected_revision: i64, max_seq: u64) -> ActivityChange {
        ActivityChange {
            conversation: id.clone(),
            expected_revision,
            next: Activity {
                max_seq,
                last_message: None,
                last_activity_ms: 10 + max_seq as i64,
                revision: expected_revision + 1,
            },
        }
    }

    /// A conversation whose revision moved since it was read is left alone, and the
    /// count says how many were replaced.
    async fn only_rows_still_at_their_revision_are_replaced(db: DatabaseConnection) {
        let (a, b) = (group(&db).await, group(&db).await);
        let read = activities(&db, &[a.clone(), b.clone()]).await.unwrap();
        let (ra, rb) = (read[&a].revision, read[&b].revision);
        assert_eq!(
            replace_activities(&db, &[change(&a, ra, 1), change(&b, rb, 1)])
                .await
                .unwrap(),
            2
        );
        // a second writer that read before the first wrote: `a` moved on, `b` did not
        assert_eq!(
            replace_activities(&db, &[change(&a, ra, 5), change(&b, rb + 1, 2)])
                .await
                .unwrap(),
            1,
            "only b was still at the expected revision"
        );
        let now = activities(&db, &[a.clone(), b.clone()]).await.unwrap();
        assert_eq!((now[&a].max_seq, now[&a].revision), (1, ra + 1));
        assert_eq!(
            (now[&b].max_seq, now[&b].revision, now[&b].last_activity_ms),
            (2, rb + 2, 12)
        );
    }

    #[tokio::test]
    async fn sqlite_only_rows_still_at_their_revision_are_replaced() {
        with_store(
            SqlBackend::Sqlite,
            only_rows_still_at_their_revision_are_replaced,
        )
        .await;
    }

    #[tokio::test]
    async fn mysql_only_rows_still_at_their_revision_are_replaced() {
        with_store(
            SqlBackend::MySql,
            only_rows_still_at_their_revision_are_replaced,
        )
        .await;
    }
}
