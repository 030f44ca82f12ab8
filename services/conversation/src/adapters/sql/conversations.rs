//! Conversations, members and join requests.

use super::entities::{conversation, join_request, member};
use super::{activity, to_i64, to_u64};
use crate::adapters::wire;
use crate::domain::{
    Conversation, ConversationId, ConversationKind, GroupSettings, InvitePolicy, JoinPolicy,
    JoinRequest, JoinRequestStatus, Member, RequestId, Role, UserId, UserPair,
};
use crate::ports::UserConversation;
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationDef,
};

fn to_conversation(model: conversation::Model) -> Conversation {
    let pair = match (&model.direct_low, &model.direct_high) {
        (Some(low), Some(high)) => UserPair::new(
            &UserId::from_stored(low.clone()),
            &UserId::from_stored(high.clone()),
        ),
        _ => None,
    };
    Conversation {
        id: ConversationId::from_stored(model.id),
        kind: ConversationKind::from_stored(&model.kind),
        name: model.name,
        avatar_file_id: model.avatar_file_id,
        announcement: model.announcement,
        owner_id: (!model.owner_id.is_empty()).then(|| UserId::from_stored(model.owner_id)),
        settings: GroupSettings {
            invite_policy: InvitePolicy::from_stored(&model.invite_policy),
            join_policy: JoinPolicy::from_stored(&model.join_policy),
            mute_all: model.mute_all,
        },
        pair,
        created_at_ms: model.created_at_ms,
        updated_at_ms: model.updated_at_ms,
        dissolved_at_ms: model.dissolved_at_ms,
        activity: activity::stored(
            model.max_seq,
            model.last_message.as_deref(),
            model.last_activity_ms,
            model.activity_revision,
        ),
    }
}

fn to_member(model: member::Model) -> Member {
    Member {
        user_id: UserId::from_stored(model.user_id),
        role: Role::from_stored(&model.role),
        muted_until_ms: model.muted_until_ms,
        joined_at_ms: model.joined_at_ms,
        read_seq: to_u64(model.read_seq),
    }
}

fn to_join_request(model: join_request::Model) -> JoinRequest {
    JoinRequest {
        id: RequestId::from_stored(model.id),
        conversation_id: ConversationId::from_stored(model.conversation_id),
        user_id: UserId::from_stored(model.user_id),
        message: model.message,
        status: JoinRequestStatus::from_stored(&model.status),
        created_at_ms: model.created_at_ms,
        updated_at_ms: model.updated_at_ms,
        decided_at_ms: model.decided_at_ms,
        decided_by: model.decided_by.map(UserId::from_stored),
    }
}

/// Takes the conversation's row lock; false when there is no such conversation.
pub(super) async fn lock(db: &impl ConnectionTrait, id: &ConversationId) -> Result<bool, DbErr> {
    let locked = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LockRevision,
            Expr::col(conversation::Column::LockRevision).add(1),
        )
        .filter(conversation::Column::Id.eq(id.as_str()))
        .exec(db)
        .await?;
    Ok(locked.rows_affected > 0)
}

pub(super) async fn conversation(
    db: &impl ConnectionTrait,
    id: &ConversationId,
) -> Result<Option<Conversation>, DbErr> {
    Ok(conversation::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .map(to_conversation))
}

pub(super) async fn direct_conversation(
    db: &impl ConnectionTrait,
    pair: &UserPair,
) -> Result<Option<Conversation>, DbErr> {
    Ok(conversation::Entity::find()
        .filter(conversation::Column::DirectLow.eq(pair.low().as_str()))
        .filter(conversation::Column::DirectHigh.eq(pair.high().as_str()))
        .one(db)
        .await?
        .map(to_conversation))
}

pub(super) async fn insert_conversation(
    db: &impl ConnectionTrait,
    c: &Conversation,
) -> Result<(), DbErr> {
    let row = conversation::ActiveModel {
        id: Set(c.id.as_str().to_owned()),
        kind: Set(c.kind.as_str().to_owned()),
        name: Set(c.name.clone()),
        avatar_file_id: Set(c.avatar_file_id.clone()),
        announcement: Set(c.announcement.clone()),
        owner_id: Set(c
            .owner_id
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default()),
        invite_policy: Set(c.settings.invite_policy.as_str().to_owned()),
        join_policy: Set(c.settings.join_policy.as_str().to_owned()),
        mute_all: Set(c.settings.mute_all),
        direct_low: Set(c.pair.as_ref().map(|p| p.low().as_str().to_owned())),
        direct_high: Set(c.pair.as_ref().map(|p| p.high().as_str().to_owned())),
        created_at_ms: Set(c.created_at_ms),
        updated_at_ms: Set(c.updated_at_ms),
        dissolved_at_ms: Set(c.dissolved_at_ms),
        lock_revision: Set(0),
        max_seq: Set(to_i64(c.activity.max_seq)),
        last_activity_ms: Set(c.activity.last_activity_ms),
        activity_revision: Set(c.activity.revision),
        last_message: Set(c.activity.last_message.as_ref().map(wire::encode_snapshot)),
    };
    conversation::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Saves what use cases change; the activity columns belong to the projection.
pub(super) async fn update_conversation(
    db: &impl ConnectionTrait,
    c: &Conversation,
) -> Result<(), DbErr> {
    let owner = c
        .owner_id
        .as_ref()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    conversation::Entity::update_many()
        .col_expr(conversation::Column::Name, Expr::value(c.name.as_str()))
        .col_expr(
            conversation::Column::AvatarFileId,
            Expr::value(c.avatar_file_id.as_str()),
        )
        .col_expr(
            conversation::Column::Announcement,
            Expr::value(c.announcement.as_str()),
        )
        .col_expr(conversation::Column::OwnerId, Expr::value(owner))
        .col_expr(
            conversation::Column::InvitePolicy,
            Expr::value(c.settings.invite_policy.as_str()),
        )
        .col_expr(
            conversation::Column::JoinPolicy,
            Expr::value(c.settings.join_policy.as_str()),
        )
        .col_expr(
            conversation::Column::MuteAll,
            Expr::value(c.settings.mute_all),
        )
        .col_expr(
            conversation::Column::UpdatedAtMs,
            Expr::value(c.updated_at_ms),
        )
        .col_expr(
            conversation::Column::DissolvedAtMs,
            Expr::value(c.dissolved_at_ms),
        )
        .filter(conversation::Column::Id.eq(c.id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

fn member_key(conversation: &ConversationId, user: &str) -> (String, String) {
    (conversation.as_str().to_owned(), user.to_owned())
}

pub(super) async fn member(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    user: &UserId,
) -> Result<Option<Member>, DbErr> {
    Ok(
        member::Entity::find_by_id(member_key(conversation, user.as_str()))
            .one(db)
            .await?
            .map(to_member),
    )
}

pub(super) async fn members_among(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    users: &[UserId],
) -> Result<Vec<UserId>, DbErr> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut present = Vec::new();
    // Bounded IN lists: a member limit's worth of ids is too many for one statement.
    for chunk in users.chunks(500) {
        let ids: Vec<String> = member::Entity::find()
            .select_only()
            .column(member::Column::UserId)
            .filter(member::Column::ConversationId.eq(conversation.as_str()))
            .filter(member::Column::UserId.is_in(chunk.iter().map(|u| u.as_str().to_owned())))
            .into_tuple()
            .all(db)
            .await?;
        present.extend(ids.into_iter().map(UserId::from_stored));
    }
    Ok(present)
}

pub(super) async fn member_count(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
) -> Result<u64, DbErr> {
    member::Entity::find()
        .filter(member::Column::ConversationId.eq(conversation.as_str()))
        .count(db)
        .await
}

pub(super) async fn member_ids(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
) -> Result<Vec<UserId>, DbErr> {
    let ids: Vec<String> = member::Entity::find()
        .select_only()
        .column(member::Column::UserId)
        .filter(member::Column::ConversationId.eq(conversation.as_str()))
        .order_by_asc(member::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().map(UserId::from_stored).collect())
}

pub(super) async fn members(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Member>, DbErr> {
    let mut query =
        member::Entity::find().filter(member::Column::ConversationId.eq(conversation.as_str()));
    if let Some(after) = after {
        query = query.filter(member::Column::UserId.gt(after));
    }
    Ok(query
        .order_by_asc(member::Column::UserId)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_member)
        .collect())
}

pub(super) async fn insert_members(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    members: &[Member],
) -> Result<(), DbErr> {
    for chunk in members.chunks(500) {
        let rows = chunk.iter().map(|m| member::ActiveModel {
            conversation_id: Set(conversation.as_str().to_owned()),
            user_id: Set(m.user_id.as_str().to_owned()),
            role: Set(m.role.as_str().to_owned()),
            muted_until_ms: Set(m.muted_until_ms),
            joined_at_ms: Set(m.joined_at_ms),
            read_seq: Set(to_i64(m.read_seq)),
        });
        member::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Saves role and mute; the read cursor belongs to the projection.
pub(super) async fn update_member(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    m: &Member,
) -> Result<(), DbErr> {
    member::Entity::update_many()
        .col_expr(member::Column::Role, Expr::value(m.role.as_str()))
        .col_expr(member::Column::MutedUntilMs, Expr::value(m.muted_until_ms))
        .filter(member::Column::ConversationId.eq(conversation.as_str()))
        .filter(member::Column::UserId.eq(m.user_id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) async fn remove_member(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    user: &UserId,
) -> Result<bool, DbErr> {
    let removed = member::Entity::delete_by_id(member_key(conversation, user.as_str()))
        .exec(db)
        .await?;
    Ok(removed.rows_affected > 0)
}

pub(super) async fn remove_all_members(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
) -> Result<(), DbErr> {
    member::Entity::delete_many()
        .filter(member::Column::ConversationId.eq(conversation.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

fn member_of_conversation() -> RelationDef {
    member::Entity::belongs_to(conversation::Entity)
        .from(member::Column::ConversationId)
        .to(conversation::Column::Id)
        .into()
}

pub(super) async fn user_conversations(
    db: &impl ConnectionTrait,
    user: &UserId,
    after: Option<(i64, &str)>,
    limit: u64,
) -> Result<Vec<UserConversation>, DbErr> {
    let mut query = member::Entity::find()
        .select_also(conversation::Entity)
        .join(JoinType::InnerJoin, member_of_conversation())
        .filter(member::Column::UserId.eq(user.as_str()))
        .filter(conversation::Column::DissolvedAtMs.is_null());
    if let Some((activity_ms, id)) = after {
        query = query.filter(
            Condition::any()
                .add(conversation::Column::LastActivityMs.lt(activity_ms))
                .add(
                    Condition::all()
                        .add(conversation::Column::LastActivityMs.eq(activity_ms))
                        .add(conversation::Column::Id.lt(id)),
                ),
        );
    }
    let rows = query
        .order_by_desc(conversation::Column::LastActivityMs)
        .order_by_desc(conversation::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(member, conversation)| {
            Some(UserConversation {
                conversation: to_conversation(conversation?),
                member: to_member(member),
            })
        })
        .collect())
}

pub(super) async fn join_request(
    db: &impl ConnectionTrait,
    id: &RequestId,
) -> Result<Option<JoinRequest>, DbErr> {
    Ok(join_request::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .map(to_join_request))
}

pub(super) async fn pending_join_request(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    user: &UserId,
) -> Result<Option<JoinRequest>, DbErr> {
    Ok(join_request::Entity::find()
        .filter(join_request::Column::ConversationId.eq(conversation.as_str()))
        .filter(join_request::Column::UserId.eq(user.as_str()))
        .filter(join_request::Column::Status.eq(JoinRequestStatus::Pending.as_str()))
        .one(db)
        .await?
        .map(to_join_request))
}

pub(super) async fn pending_join_requests(
    db: &impl ConnectionTrait,
    conversation: &ConversationId,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<JoinRequest>, DbErr> {
    let mut query = join_request::Entity::find()
        .filter(join_request::Column::ConversationId.eq(conversation.as_str()))
        .filter(join_request::Column::Status.eq(JoinRequestStatus::Pending.as_str()));
    if let Some(after) = after {
        query = query.filter(join_request::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(join_request::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_join_request)
        .collect())
}

pub(super) async fn insert_join_request(
    db: &impl ConnectionTrait,
    r: &JoinRequest,
) -> Result<(), DbErr> {
    let row = join_request::ActiveModel {
        id: Set(r.id.as_str().to_owned()),
        conversation_id: Set(r.conversation_id.as_str().to_owned()),
        user_id: Set(r.user_id.as_str().to_owned()),
        message: Set(r.message.clone()),
        status: Set(r.status.as_str().to_owned()),
        created_at_ms: Set(r.created_at_ms),
        updated_at_ms: Set(r.updated_at_ms),
        decided_at_ms: Set(r.decided_at_ms),
        decided_by: Set(r.decided_by.as_ref().map(|u| u.as_str().to_owned())),
    };
    join_request::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub(super) async fn update_join_request(
    db: &impl ConnectionTrait,
    r: &JoinRequest,
) -> Result<(), DbErr> {
    join_request::Entity::update_many()
        .col_expr(
            join_request::Column::Message,
            Expr::value(r.message.as_str()),
        )
        .col_expr(join_request::Column::Status, Expr::value(r.status.as_str()))
        .col_expr(
            join_request::Column::UpdatedAtMs,
            Expr::value(r.updated_at_ms),
        )
        .col_expr(
            join_request::Column::DecidedAtMs,
            Expr::value(r.decided_at_ms),
        )
        .col_expr(
            join_request::Column::DecidedBy,
            Expr::value(r.decided_by.as_ref().map(|u| u.as_str().to_owned())),
        )
        .filter(join_request::Column::Id.eq(r.id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
