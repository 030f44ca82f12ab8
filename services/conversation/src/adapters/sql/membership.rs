//! The membership log: a version row locked by each membership change (so versions are
//! gapless and committed in order), the log entries, and pruning to the retention.

use super::entities::{membership_log, membership_state};
use super::{to_i64, to_u64};
use crate::domain::{
    ConversationId, ConversationKind, Member, MembershipChange, MembershipEntry, MembershipRecord,
    Role, UserId,
};
use crate::ports::MembershipLogPage;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

/// The id of the one state row.
const STATE: i32 = 1;

mod kind {
    pub const CREATED: &str = "conversation_created";
    pub const DISSOLVED: &str = "conversation_dissolved";
    pub const UPDATED: &str = "conversation_updated";
    pub const JOINED: &str = "member_joined";
    pub const REMOVED: &str = "member_removed";
    pub const MEMBER_UPDATED: &str = "member_updated";
    pub const BLOCK: &str = "block_changed";
}

fn row(version: u64, record: &MembershipRecord) -> membership_log::ActiveModel {
    let mut user_id = String::new();
    let mut role = None;
    let mut muted_until_ms = 0;
    let mut peer_id = String::new();
    let mut blocked = false;
    let mut mute_all = false;
    let kind = match &record.change {
        MembershipChange::ConversationCreated => kind::CREATED,
        MembershipChange::ConversationDissolved => kind::DISSOLVED,
        MembershipChange::SettingsChanged { mute_all: muted } => {
            mute_all = *muted;
            kind::UPDATED
        }
        MembershipChange::MemberJoined(member) | MembershipChange::MemberUpdated(member) => {
            user_id = member.user_id.as_str().to_owned();
            role = Some(member.role.as_str().to_owned());
            muted_until_ms = member.muted_until_ms;
            if matches!(record.change, MembershipChange::MemberJoined(_)) {
                kind::JOINED
            } else {
                kind::MEMBER_UPDATED
            }
        }
        MembershipChange::MemberRemoved(user) => {
            user_id = user.as_str().to_owned();
            kind::REMOVED
        }
        MembershipChange::BlockChanged {
            user,
            peer,
            blocked: is_blocked,
        } => {
            user_id = user.as_str().to_owned();
            peer_id = peer.as_str().to_owned();
            blocked = *is_blocked;
            kind::BLOCK
        }
    };
    membership_log::ActiveModel {
        version: Set(to_i64(version)),
        kind: Set(kind.to_owned()),
        conversation_id: Set(record
            .conversation_id
            .as_ref()
            .map(|id| id.as_str().to_owned())),
        conversation_kind: Set(record.conversation_kind.map(|k| k.as_str().to_owned())),
        user_id: Set(user_id),
        role: Set(role),
        muted_until_ms: Set(muted_until_ms),
        peer_id: Set(peer_id),
        blocked: Set(blocked),
        mute_all: Set(mute_all),
        actor_id: Set(record.actor_id.as_str().to_owned()),
        occurred_at_ms: Set(record.occurred_at_ms),
    }
}

fn to_entry(model: membership_log::Model) -> MembershipEntry {
    let member = || Member {
        user_id: UserId::from_stored(model.user_id.clone()),
        role: Role::from_stored(model.role.as_deref().unwrap_or_default()),
        muted_until_ms: model.muted_until_ms,
        joined_at_ms: 0,
        read_seq: 0,
    };
    let change = match model.kind.as_str() {
        kind::CREATED => MembershipChange::ConversationCreated,
        kind::DISSOLVED => MembershipChange::ConversationDissolved,
        kind::UPDATED => MembershipChange::SettingsChanged {
            mute_all: model.mute_all,
        },
        kind::JOINED => MembershipChange::MemberJoined(member()),
        kind::MEMBER_UPDATED => MembershipChange::MemberUpdated(member()),
        kind::REMOVED => {
            MembershipChange::MemberRemoved(UserId::from_stored(model.user_id.clone()))
        }
        _ => MembershipChange::BlockChanged {
            user: UserId::from_stored(model.user_id.clone()),
            peer: UserId::from_stored(model.peer_id.clone()),
            blocked: model.blocked,
        },
    };
    MembershipEntry {
        version: to_u64(model.version),
        record: MembershipRecord {
            conversation_id: model.conversation_id.map(ConversationId::from_stored),
            conversation_kind: model
                .conversation_kind
                .as_deref()
                .map(ConversationKind::from_stored),
            change,
            actor_id: UserId::from_stored(model.actor_id),
            occurred_at_ms: model.occurred_at_ms,
        },
    }
}

async fn state(db: &impl ConnectionTrait) -> Result<membership_state::Model, DbErr> {
    membership_state::Entity::find_by_id(STATE)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("membership_state".to_owned()))
}

/// Appends `records` with the next versions; returns the last. Locks the state row
/// until the transaction ends.
pub(super) async fn append(
    db: &impl ConnectionTrait,
    records: &[MembershipRecord],
) -> Result<u64, DbErr> {
    let count = records.len() as u64;
    membership_state::Entity::update_many()
        .col_expr(
            membership_state::Column::Version,
            Expr::col(membership_state::Column::Version).add(to_i64(count)),
        )
        .filter(membership_state::Column::Id.eq(STATE))
        .exec(db)
        .await?;
    let last = to_u64(state(db).await?.version);
    let first = last + 1 - count;
    let rows: Vec<_> = records
        .iter()
        .zip(first..)
        .map(|(record, version)| row(version, record))
        .collect();
    for chunk in rows.chunks(500) {
        membership_log::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(last)
}

pub(super) async fn version(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Ok(to_u64(state(db).await?.version))
}

pub(super) async fn page(
    db: &impl ConnectionTrait,
    after: u64,
    limit: u64,
) -> Result<MembershipLogPage, DbErr> {
    let entries = membership_log::Entity::find()
        .filter(membership_log::Column::Version.gt(to_i64(after)))
        .order_by_asc(membership_log::Column::Version)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_entry)
        .collect();
    // Read after the entries: a prune in between shows here, and the caller re-reads.
    let state = state(db).await?;
    Ok(MembershipLogPage {
        entries,
        pruned_through: to_u64(state.pruned_through),
        current: to_u64(state.version),
    })
}

/// Raises `pruned_through` to keep the newest `keep` versions, then deletes what lies
/// below it. Readers compare against `pruned_through`, so they never trust a log with a
/// hole even before the rows are gone.
pub(super) async fn prune(db: &impl ConnectionTrait, keep: u64) -> Result<u64, DbErr> {
    let floor = Expr::col(membership_state::Column::Version).sub(to_i64(keep));
    membership_state::Entity::update_many()
        .col_expr(membership_state::Column::PrunedThrough, floor.clone())
        .filter(membership_state::Column::Id.eq(STATE))
        .filter(floor.gt(Expr::col(membership_state::Column::PrunedThrough)))
        .exec(db)
        .await?;
    let pruned_through = state(db).await?.pruned_through;
    membership_log::Entity::delete_many()
        .filter(membership_log::Column::Version.lte(pruned_through))
        .exec(db)
        .await?;
    Ok(to_u64(pruned_through))
}
