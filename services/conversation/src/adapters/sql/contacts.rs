//! Friend requests, contacts and blocks.

use super::entities::{block, contact, friend_request};
use crate::domain::{
    BlockedUser, Blocks, Contact, FriendRequest, FriendRequestStatus, RequestDirection, RequestId,
    UserId, UserPair,
};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

fn to_request(model: friend_request::Model) -> FriendRequest {
    FriendRequest {
        id: RequestId::from_stored(model.id),
        from: UserId::from_stored(model.from_user_id),
        to: UserId::from_stored(model.to_user_id),
        message: model.message,
        status: FriendRequestStatus::from_stored(&model.status),
        created_at_ms: model.created_at_ms,
        updated_at_ms: model.updated_at_ms,
        decided_at_ms: model.decided_at_ms,
    }
}

fn to_contact(model: contact::Model) -> Contact {
    Contact {
        user_id: UserId::from_stored(model.user_id),
        contact_id: UserId::from_stored(model.contact_id),
        remark: model.remark,
        created_at_ms: model.created_at_ms,
    }
}

fn to_block(model: block::Model) -> BlockedUser {
    BlockedUser {
        user_id: UserId::from_stored(model.user_id),
        blocked_user_id: UserId::from_stored(model.blocked_user_id),
        created_at_ms: model.created_at_ms,
    }
}

fn pending_between(from: &UserId, to: &UserId) -> Condition {
    Condition::all()
        .add(friend_request::Column::FromUserId.eq(from.as_str()))
        .add(friend_request::Column::ToUserId.eq(to.as_str()))
        .add(friend_request::Column::Status.eq(FriendRequestStatus::Pending.as_str()))
}

pub(super) async fn friend_request(
    db: &impl ConnectionTrait,
    id: &RequestId,
) -> Result<Option<FriendRequest>, DbErr> {
    Ok(friend_request::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .map(to_request))
}

pub(super) async fn pending_request(
    db: &impl ConnectionTrait,
    from: &UserId,
    to: &UserId,
) -> Result<Option<FriendRequest>, DbErr> {
    Ok(friend_request::Entity::find()
        .filter(pending_between(from, to))
        .order_by_desc(friend_request::Column::Id)
        .one(db)
        .await?
        .map(to_request))
}

pub(super) async fn insert_request(
    db: &impl ConnectionTrait,
    request: &FriendRequest,
) -> Result<(), DbErr> {
    let row = friend_request::ActiveModel {
        id: Set(request.id.as_str().to_owned()),
        from_user_id: Set(request.from.as_str().to_owned()),
        to_user_id: Set(request.to.as_str().to_owned()),
        message: Set(request.message.clone()),
        status: Set(request.status.as_str().to_owned()),
        created_at_ms: Set(request.created_at_ms),
        updated_at_ms: Set(request.updated_at_ms),
        decided_at_ms: Set(request.decided_at_ms),
    };
    friend_request::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub(super) async fn update_request(
    db: &impl ConnectionTrait,
    request: &FriendRequest,
) -> Result<(), DbErr> {
    friend_request::Entity::update_many()
        .col_expr(
            friend_request::Column::Message,
            Expr::value(request.message.as_str()),
        )
        .col_expr(
            friend_request::Column::Status,
            Expr::value(request.status.as_str()),
        )
        .col_expr(
            friend_request::Column::UpdatedAtMs,
            Expr::value(request.updated_at_ms),
        )
        .col_expr(
            friend_request::Column::DecidedAtMs,
            Expr::value(request.decided_at_ms),
        )
        .filter(friend_request::Column::Id.eq(request.id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) async fn cancel_pending(
    db: &impl ConnectionTrait,
    pair: &UserPair,
    now_ms: i64,
) -> Result<Vec<FriendRequest>, DbErr> {
    let either_way = Condition::any()
        .add(pending_between(pair.low(), pair.high()))
        .add(pending_between(pair.high(), pair.low()));
    let pending = friend_request::Entity::find()
        .filter(either_way)
        .all(db)
        .await?;
    let mut cancelled = Vec::with_capacity(pending.len());
    for model in pending {
        let mut request = to_request(model);
        if request
            .decide(FriendRequestStatus::Cancelled, now_ms)
            .is_ok()
        {
            update_request(db, &request).await?;
            cancelled.push(request);
        }
    }
    Ok(cancelled)
}

pub(super) async fn pending_requests(
    db: &impl ConnectionTrait,
    user: &UserId,
    direction: RequestDirection,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<FriendRequest>, DbErr> {
    let side = match direction {
        RequestDirection::Incoming => friend_request::Column::ToUserId,
        RequestDirection::Outgoing => friend_request::Column::FromUserId,
    };
    let mut query = friend_request::Entity::find()
        .filter(side.eq(user.as_str()))
        .filter(friend_request::Column::Status.eq(FriendRequestStatus::Pending.as_str()));
    if let Some(before) = before {
        query = query.filter(friend_request::Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(friend_request::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_request)
        .collect())
}

pub(super) async fn contact(
    db: &impl ConnectionTrait,
    user: &UserId,
    contact_id: &UserId,
) -> Result<Option<Contact>, DbErr> {
    Ok(
        contact::Entity::find_by_id((user.as_str().to_owned(), contact_id.as_str().to_owned()))
            .one(db)
            .await?
            .map(to_contact),
    )
}

pub(super) async fn are_contacts(
    db: &impl ConnectionTrait,
    pair: &UserPair,
) -> Result<bool, DbErr> {
    Ok(contact(db, pair.low(), pair.high()).await?.is_some())
}

pub(super) async fn add_contacts(
    db: &impl ConnectionTrait,
    pair: &UserPair,
    now_ms: i64,
) -> Result<(), DbErr> {
    let side = |user: &UserId, other: &UserId| contact::ActiveModel {
        user_id: Set(user.as_str().to_owned()),
        contact_id: Set(other.as_str().to_owned()),
        remark: Set(String::new()),
        created_at_ms: Set(now_ms),
    };
    contact::Entity::insert_many([side(pair.low(), pair.high()), side(pair.high(), pair.low())])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub(super) async fn remove_contacts(
    db: &impl ConnectionTrait,
    pair: &UserPair,
) -> Result<bool, DbErr> {
    let side = |user: &UserId, other: &UserId| {
        Condition::all()
            .add(contact::Column::UserId.eq(user.as_str()))
            .add(contact::Column::ContactId.eq(other.as_str()))
    };
    let removed = contact::Entity::delete_many()
        .filter(
            Condition::any()
                .add(side(pair.low(), pair.high()))
                .add(side(pair.high(), pair.low())),
        )
        .exec(db)
        .await?;
    Ok(removed.rows_affected > 0)
}

pub(super) async fn contacts(
    db: &impl ConnectionTrait,
    user: &UserId,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Contact>, DbErr> {
    let mut query = contact::Entity::find().filter(contact::Column::UserId.eq(user.as_str()));
    if let Some(after) = after {
        query = query.filter(contact::Column::ContactId.gt(after));
    }
    Ok(query
        .order_by_asc(contact::Column::ContactId)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_contact)
        .collect())
}

pub(super) async fn set_remark(
    db: &impl ConnectionTrait,
    user: &UserId,
    contact_id: &UserId,
    remark: &str,
) -> Result<bool, DbErr> {
    let updated = contact::Entity::update_many()
        .col_expr(contact::Column::Remark, Expr::value(remark))
        .filter(contact::Column::UserId.eq(user.as_str()))
        .filter(contact::Column::ContactId.eq(contact_id.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

pub(super) async fn blocks(
    db: &impl ConnectionTrait,
    a: &UserId,
    b: &UserId,
) -> Result<Blocks, DbErr> {
    let side = |user: &UserId, other: &UserId| {
        Condition::all()
            .add(block::Column::UserId.eq(user.as_str()))
            .add(block::Column::BlockedUserId.eq(other.as_str()))
    };
    let rows = block::Entity::find()
        .filter(Condition::any().add(side(a, b)).add(side(b, a)))
        .all(db)
        .await?;
    Ok(Blocks {
        a_blocks_b: rows.iter().any(|row| row.user_id == a.as_str()),
        b_blocks_a: rows.iter().any(|row| row.user_id == b.as_str()),
    })
}

pub(super) async fn add_block(
    db: &impl ConnectionTrait,
    blocked: &BlockedUser,
) -> Result<Option<BlockedUser>, DbErr> {
    let key = (
        blocked.user_id.as_str().to_owned(),
        blocked.blocked_user_id.as_str().to_owned(),
    );
    if let Some(existing) = block::Entity::find_by_id(key).one(db).await? {
        return Ok(Some(to_block(existing)));
    }
    let row = block::ActiveModel {
        user_id: Set(blocked.user_id.as_str().to_owned()),
        blocked_user_id: Set(blocked.blocked_user_id.as_str().to_owned()),
        created_at_ms: Set(blocked.created_at_ms),
    };
    block::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(None)
}

pub(super) async fn remove_block(
    db: &impl ConnectionTrait,
    user: &UserId,
    blocked: &UserId,
) -> Result<bool, DbErr> {
    let removed = block::Entity::delete_many()
        .filter(block::Column::UserId.eq(user.as_str()))
        .filter(block::Column::BlockedUserId.eq(blocked.as_str()))
        .exec(db)
        .await?;
    Ok(removed.rows_affected > 0)
}

pub(super) async fn blocked_users(
    db: &impl ConnectionTrait,
    user: &UserId,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<BlockedUser>, DbErr> {
    let mut query = block::Entity::find().filter(block::Column::UserId.eq(user.as_str()));
    if let Some(after) = after {
        query = query.filter(block::Column::BlockedUserId.gt(after));
    }
    Ok(query
        .order_by_asc(block::Column::BlockedUserId)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_block)
        .collect())
}
