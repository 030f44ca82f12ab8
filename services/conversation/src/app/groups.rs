//! Groups: creation, settings, ownership transfer and dissolution.

use super::{App, AppError, AppResult, ConversationView, user_ids};
use crate::domain::{
    Announcement, AvatarFileId, Conversation, ConversationEvent, ConversationId, GroupName,
    GroupSettings, InvitePolicy, JoinPolicy, Member, MembershipChange, MembershipRecord, Refusal,
    Role, UserId, ValidationError, may_manage,
};
use crate::ports::{Lock, Ports, Store, Transaction};

/// A group as asked for.
#[derive(Debug, Clone, Copy)]
pub struct NewGroup<'a> {
    pub owner: &'a str,
    pub name: &'a str,
    /// The first members besides the owner (repeats and the owner are ignored).
    pub member_ids: &'a [String],
    pub avatar_file_id: &'a str,
    pub announcement: &'a str,
    pub settings: GroupSettings,
}

/// The parts of a group to change; `None` leaves a part as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConversationChanges<'a> {
    pub name: Option<&'a str>,
    pub avatar_file_id: Option<&'a str>,
    pub announcement: Option<&'a str>,
    pub invite_policy: Option<InvitePolicy>,
    pub join_policy: Option<JoinPolicy>,
    pub mute_all: Option<bool>,
}

/// Parsed [`ConversationChanges`].
struct ValidChanges {
    name: Option<GroupName>,
    avatar_file_id: Option<AvatarFileId>,
    announcement: Option<Announcement>,
    invite_policy: Option<InvitePolicy>,
    join_policy: Option<JoinPolicy>,
    mute_all: Option<bool>,
}

impl ValidChanges {
    fn parse(changes: &ConversationChanges<'_>) -> AppResult<Self> {
        Ok(Self {
            name: changes.name.map(GroupName::parse).transpose()?,
            avatar_file_id: changes
                .avatar_file_id
                .map(AvatarFileId::parse)
                .transpose()?,
            announcement: changes.announcement.map(Announcement::parse).transpose()?,
            invite_policy: changes.invite_policy,
            join_policy: changes.join_policy,
            mute_all: changes.mute_all,
        })
    }

    /// `conversation` with the changes applied.
    fn applied(&self, conversation: &Conversation, now_ms: i64) -> Conversation {
        let mut next = conversation.clone();
        if let Some(name) = &self.name {
            next.name = name.as_str().to_owned();
        }
        if let Some(avatar) = &self.avatar_file_id {
            next.avatar_file_id = avatar.clone().into_string();
        }
        if let Some(announcement) = &self.announcement {
            next.announcement = announcement.clone().into_string();
        }
        if let Some(policy) = self.invite_policy {
            next.settings.invite_policy = policy;
        }
        if let Some(policy) = self.join_policy {
            next.settings.join_policy = policy;
        }
        if let Some(mute_all) = self.mute_all {
            next.settings.mute_all = mute_all;
        }
        if next != *conversation {
            next.updated_at_ms = now_ms;
        }
        next
    }
}

impl<P: Ports> App<P> {
    /// Creates a group owned by the caller with the first members (the owner included,
    /// repeats dropped), all within the member limit.
    pub async fn create_group(&self, new: NewGroup<'_>) -> AppResult<(Conversation, Vec<Member>)> {
        let owner = UserId::parse(new.owner)?;
        let name = GroupName::parse(new.name)?;
        let avatar = AvatarFileId::parse(new.avatar_file_id)?;
        let announcement = Announcement::parse(new.announcement)?;
        let limit = usize::try_from(self.settings.member_limit).unwrap_or(usize::MAX);
        let mut ids = vec![owner.clone()];
        ids.extend(
            user_ids(new.member_ids, limit)?
                .into_iter()
                .filter(|id| *id != owner),
        );
        self.within_limit(ids.len() as u64)?;
        let mut conversation = Conversation::group(owner.clone(), name, new.settings, 0);
        conversation.avatar_file_id = avatar.into_string();
        conversation.announcement = announcement.into_string();
        self.retrying(|| self.create_group_once(&owner, &conversation, &ids))
            .await
    }

    async fn create_group_once(
        &self,
        owner: &UserId,
        template: &Conversation,
        ids: &[UserId],
    ) -> AppResult<(Conversation, Vec<Member>)> {
        let now = self.now_ms();
        let mut conversation = template.clone();
        conversation.id = ConversationId::generate();
        conversation.created_at_ms = now;
        conversation.updated_at_ms = now;
        conversation.activity.last_activity_ms = now;
        let members: Vec<Member> = ids
            .iter()
            .map(|id| {
                let role = if id == owner {
                    Role::Owner
                } else {
                    Role::Member
                };
                Member::new(id.clone(), role, now, 0)
            })
            .collect();
        let mut tx = self.store.begin(Lock::Nothing).await?;
        tx.insert_conversation(&conversation).await?;
        tx.insert_members(&conversation.id, &members).await?;
        let mut records = vec![MembershipRecord::of(
            &conversation,
            MembershipChange::ConversationCreated,
            owner,
            now,
        )];
        records.extend(members.iter().map(|member| {
            MembershipRecord::of(
                &conversation,
                MembershipChange::MemberJoined(member.clone()),
                owner,
                now,
            )
        }));
        let event = ConversationEvent::Created {
            conversation: conversation.clone(),
            members: members.clone(),
        };
        self.commit(tx, owner, now, &records, vec![event]).await?;
        Ok((conversation, members))
    }

    /// Changes a group's name, avatar, announcement or settings (owner or admins).
    pub async fn update_conversation(
        &self,
        conversation_id: &str,
        actor: &str,
        changes: ConversationChanges<'_>,
    ) -> AppResult<Conversation> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        let changes = ValidChanges::parse(&changes)?;
        self.retrying(|| self.update_conversation_once(&id, &actor, &changes))
            .await
    }

    async fn update_conversation_once(
        &self,
        id: &ConversationId,
        actor: &UserId,
        changes: &ValidChanges,
    ) -> AppResult<Conversation> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (conversation, member) = Self::member_view(&mut tx, id, actor).await?;
        conversation.ensure_group()?;
        may_manage(&member)?;
        let next = changes.applied(&conversation, now);
        if next == conversation {
            return Ok(conversation);
        }
        tx.update_conversation(&next).await?;
        let mut records = Vec::new();
        if next.settings.mute_all != conversation.settings.mute_all {
            records.push(MembershipRecord::of(
                &next,
                MembershipChange::SettingsChanged {
                    mute_all: next.settings.mute_all,
                },
                actor,
                now,
            ));
        }
        let event = ConversationEvent::Updated {
            conversation: next.clone(),
        };
        self.commit(tx, actor, now, &records, vec![event]).await?;
        Ok(next)
    }

    /// Dissolves a group (owner only): every membership ends.
    pub async fn dissolve_group(&self, conversation_id: &str, actor: &str) -> AppResult<()> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        self.retrying(|| self.dissolve_once(&id, &actor)).await
    }

    async fn dissolve_once(&self, id: &ConversationId, actor: &UserId) -> AppResult<()> {
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (conversation, member) = Self::member_view(&mut tx, id, actor).await?;
        conversation.ensure_group()?;
        if member.role != Role::Owner {
            return Err(Refusal::InsufficientRole.into());
        }
        self.dissolve_locked(tx, conversation, actor).await
    }

    /// Ends every membership of `conversation`, whose lock `tx` holds, and commits.
    pub(super) async fn dissolve_locked(
        &self,
        mut tx: <P::Store as Store>::Tx,
        mut conversation: Conversation,
        actor: &UserId,
    ) -> AppResult<()> {
        let now = self.now_ms();
        let id = conversation.id.clone();
        let member_ids = tx.member_ids(&id).await?;
        tx.remove_all_members(&id).await?;
        conversation.dissolved_at_ms = Some(now);
        conversation.updated_at_ms = now;
        tx.update_conversation(&conversation).await?;
        let record = MembershipRecord::of(
            &conversation,
            MembershipChange::ConversationDissolved,
            actor,
            now,
        );
        let event = ConversationEvent::Dissolved {
            conversation_id: id,
            member_ids,
        };
        self.commit(tx, actor, now, &[record], vec![event]).await?;
        Ok(())
    }

    /// Hands the group to another member (owner only); the old owner becomes an admin.
    pub async fn transfer_ownership(
        &self,
        conversation_id: &str,
        actor: &str,
        new_owner: &str,
    ) -> AppResult<ConversationView> {
        let id = ConversationId::parse(conversation_id)?;
        let actor = UserId::parse(actor)?;
        let new_owner = UserId::parse(new_owner)?;
        if new_owner == actor {
            return Err(ValidationError::SelfTarget.into());
        }
        self.retrying(|| self.transfer_once(&id, &actor, &new_owner))
            .await
    }

    async fn transfer_once(
        &self,
        id: &ConversationId,
        actor: &UserId,
        new_owner: &UserId,
    ) -> AppResult<ConversationView> {
        let now = self.now_ms();
        let mut tx = self.store.begin(Lock::Conversation(id)).await?;
        let (mut conversation, mut previous) = Self::member_view(&mut tx, id, actor).await?;
        conversation.ensure_group()?;
        if previous.role != Role::Owner {
            return Err(Refusal::InsufficientRole.into());
        }
        let mut next = tx
            .member(id, new_owner)
            .await?
            .ok_or(AppError::MemberNotFound)?;
        next.role = Role::Owner;
        previous.role = Role::Admin;
        conversation.owner_id = Some(new_owner.clone());
        conversation.updated_at_ms = now;
        tx.update_member(id, &next).await?;
        tx.update_member(id, &previous).await?;
        tx.update_conversation(&conversation).await?;
        let member_count = tx.member_count(id).await?;
        let records = [&next, &previous].map(|member| {
            MembershipRecord::of(
                &conversation,
                MembershipChange::MemberUpdated(member.clone()),
                actor,
                now,
            )
        });
        let event = ConversationEvent::OwnershipTransferred {
            conversation_id: id.clone(),
            previous_owner: actor.clone(),
            new_owner: new_owner.clone(),
        };
        self.commit(tx, actor, now, &records, vec![event]).await?;
        Ok(ConversationView {
            conversation,
            member: previous,
            member_count,
        })
    }
}
