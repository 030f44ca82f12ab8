//! sea-orm entities of the conversation tables (schema in
//! `m0001_create_conversation_tables`).

macro_rules! entity {
    ($module:ident, $table:literal, { $($body:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($body)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(user_pair, "user_pairs", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_low: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_high: String,
    pub revision: i64,
});

entity!(friend_request, "friend_requests", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub from_user_id: String,
    pub to_user_id: String,
    pub message: String,
    pub status: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub decided_at_ms: Option<i64>,
});

entity!(contact, "contacts", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: String,
    pub remark: String,
    pub created_at_ms: i64,
});

entity!(block, "blocks", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub blocked_user_id: String,
    pub created_at_ms: i64,
});

entity!(conversation, "conversations", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    pub name: String,
    pub avatar_file_id: String,
    pub announcement: String,
    pub owner_id: String,
    pub invite_policy: String,
    pub join_policy: String,
    pub mute_all: bool,
    pub direct_low: Option<String>,
    pub direct_high: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub dissolved_at_ms: Option<i64>,
    pub lock_revision: i64,
    pub max_seq: i64,
    pub last_activity_ms: i64,
    pub activity_revision: i64,
    pub last_message: Option<Vec<u8>>,
});

entity!(member, "members", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub role: String,
    pub muted_until_ms: i64,
    pub joined_at_ms: i64,
    pub read_seq: i64,
});

entity!(join_request, "join_requests", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub conversation_id: String,
    pub user_id: String,
    pub message: String,
    pub status: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
});

entity!(membership_state, "membership_state", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub version: i64,
    pub pruned_through: i64,
});

entity!(membership_log, "membership_log", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    pub kind: String,
    pub conversation_id: Option<String>,
    pub conversation_kind: Option<String>,
    pub user_id: String,
    pub role: Option<String>,
    pub muted_until_ms: i64,
    pub peer_id: String,
    pub blocked: bool,
    pub mute_all: bool,
    pub actor_id: String,
    pub occurred_at_ms: i64,
});
