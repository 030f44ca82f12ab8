//! sea-orm entities of the message tables (schema in `m0001_create_message_tables`).

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

entity!(conversation_seq, "conversation_seqs", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    pub max_seq: i64,
    pub lock_revision: i64,
});

entity!(message, "messages", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub id: String,
    pub sender_id: String,
    pub client_msg_id: String,
    pub message_type: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub reply_to: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub mentions: String,
    pub mention_all: bool,
    pub created_at_ms: i64,
    pub edited_at_ms: i64,
    pub recalled: bool,
});

entity!(read_cursor, "read_cursors", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    pub read_seq: i64,
    pub updated_at_ms: i64,
});

entity!(hidden_message, "hidden_messages", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub hidden_at_ms: i64,
});
