//! Conversation events: membership frames to the members (and the users concerned),
//! contact frames to the pair, and the member cache following membership.

use crate::harness::{QUIET, TestApp, frames, seqs, sorted};
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_event::Kind;
use pb::MemberRole::{Admin, Member, Owner};

fn member(user: &str) -> pb::Member {
    pb::Member {
        user_id: user.into(),
        role: Member.into(),
        muted_until_ms: 0,
        joined_at_ms: 1_700_000_000_000,
    }
}

/// The sessions that received `frame_type` on one node.
fn sessions_of(received: &[crate::fakes::Received], frame_type: &str) -> Vec<String> {
    sorted(
        received
            .iter()
            .filter(|frame| frame.frame_type == frame_type)
            .flat_map(|frame| frame.sessions.clone())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_receives_the_next_message_and_a_kicked_one_does_not() {
    let app = TestApp::spawn(&["n1"]).await;
    app.conversation
        .set_members("c1", &[("ann", Owner), ("bob", Member)]);
    for user in ["ann", "bob", "zoe"] {
        app.presence.connect(user, &format!("{user}-phone"), "n1");
    }
    let n1 = app.node("n1");

    app.send("c1", 1, "ann").await;
    assert_eq!(
        sessions_of(&frames(n1, 1).await, "message"),
        ["ann-phone", "bob-phone"]
    );

    // zoe is invited: the cached members are forgotten.
    app.conversation
        .set_members("c1", &[("ann", Owner), ("bob", Member), ("zoe", Member)]);
    app.publish_conversation(
        "c1",
        "ann",
        Kind::MembersJoined(pb::MembersJoined {
            conversation_id: "c1".into(),
            members: vec![member("zoe")],
            method: pb::JoinMethod::Invited.into(),
        }),
    )
    .await;
    let received = frames(n1, 2).await;
    assert_eq!(received[1].frame_type, "conversation.member_joined");
    assert_eq!(received[1].data["members"][0]["user_id"], "zoe");
    assert_eq!(received[1].data["method"], "invited");
    assert_eq!(received[1].data["actor_id"], "ann");
    assert_eq!(
        sorted(received[1].sessions.clone()),
        ["ann-phone", "bob-phone", "zoe-phone"]
    );

    app.send("c1", 2, "ann").await;
    let received = frames(n1, 3).await;
    assert_eq!(
        sorted(received[2].sessions.clone()),
        ["ann-phone", "bob-phone", "zoe-phone"]
    );

    // bob is kicked: he hears of it, then no more messages.
    app.conversation
        .set_members("c1", &[("ann", Owner), ("zoe", Member)]);
    app.publish_conversation(
        "c1",
        "ann",
        Kind::MemberRemoved(pb::MemberRemoved {
            conversation_id: "c1".into(),
            user_id: "bob".into(),
            reason: pb::RemovalReason::Kicked.into(),
        }),
    )
    .await;
    let received = frames(n1, 4).await;
    assert_eq!(received[3].frame_type, "conversation.member_removed");
    assert_eq!(received[3].data["reason"], "kicked");
    assert_eq!(
        sorted(received[3].sessions.clone()),
        ["ann-phone", "bob-phone", "zoe-phone"]
    );

    app.send("c1", 3, "zoe").await;
    let received = frames(n1, 5).await;
    assert_eq!(seqs(&received), [1, 2, 3]);
    assert_eq!(
        sorted(received[4].sessions.clone()),
        ["ann-phone", "zoe-phone"]
    );
    tokio::time::sleep(QUIET).await;
    assert_eq!(n1.received().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dissolved_group_reaches_its_former_members() {
    let app = TestApp::spawn(&["n1"]).await;
    app.presence.connect("ann", "ann-phone", "n1");
    app.presence.connect("bob", "bob-phone", "n1");
    // Dissolved: the conversation service no longer knows it.
    app.conversation.remove_conversation("c1");

    app.publish_conversation(
        "c1",
        "ann",
        Kind::ConversationDissolved(pb::ConversationDissolved {
            conversation_id: "c1".into(),
            member_ids: vec!["ann".into(), "bob".into()],
        }),
    )
    .await;

    let received = frames(app.node("n1"), 1).await;
    assert_eq!(received[0].frame_type, "conversation.dissolved");
    assert_eq!(received[0].data["conversation_id"], "c1");
    assert_eq!(
        sorted(received[0].sessions.clone()),
        ["ann-phone", "bob-phone"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_updates_and_join_requests() {
    let app = TestApp::spawn(&["n1"]).await;
    app.conversation
        .set_members("c1", &[("ann", Owner), ("mia", Admin), ("bob", Member)]);
    for user in ["ann", "mia", "bob", "zoe"] {
        app.presence.connect(user, &format!("{user}-phone"), "n1");
    }

    app.publish_conversation(
        "c1",
        "mia",
        Kind::ConversationUpdated(pb::ConversationUpdated {
            conversation: Some(pb::Conversation {
                id: "c1".into(),
                kind: pb::ConversationKind::Group.into(),
                name: "Renamed".into(),
                owner_id: "ann".into(),
                ..Default::default()
            }),
            settings: Some(pb::GroupSettings {
                mute_all: true,
                ..Default::default()
            }),
        }),
    )
    .await;
    app.publish_conversation(
        "c1",
        "zoe",
        Kind::JoinRequestChanged(pb::JoinRequestChanged {
            join_request: Some(pb::JoinRequest {
                id: "jr1".into(),
                conversation_id: "c1".into(),
                user_id: "zoe".into(),
                message: "let me in".into(),
                status: pb::JoinRequestStatus::Pending.into(),
                ..Default::default()
            }),
        }),
    )
    .await;

    let received = frames(app.node("n1"), 2).await;
    assert_eq!(received[0].frame_type, "conversation.updated");
    assert_eq!(received[0].data["conversation"]["name"], "Renamed");
    assert_eq!(
        received[0].data["conversation"]["settings"]["mute_all"],
        true
    );
    assert_eq!(
        sorted(received[0].sessions.clone()),
        ["ann-phone", "bob-phone", "mia-phone"]
    );
    // A join request is for the owner, the admins and the requester only.
    assert_eq!(received[1].frame_type, "conversation.join_request");
    assert_eq!(received[1].data["join_request"]["status"], "pending");
    assert_eq!(
        sorted(received[1].sessions.clone()),
        ["ann-phone", "mia-phone", "zoe-phone"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_events_reach_the_pair_and_blocks_only_the_blocker() {
    let app = TestApp::spawn(&["n1"]).await;
    for user in ["ann", "bob", "eve"] {
        app.presence.connect(user, &format!("{user}-phone"), "n1");
    }

    app.publish_conversation(
        "ann",
        "bob",
        Kind::FriendRequestChanged(pb::FriendRequestChanged {
            friend_request: Some(pb::FriendRequest {
                id: "fr1".into(),
                from_user_id: "ann".into(),
                to_user_id: "bob".into(),
                message: "hi".into(),
                status: pb::FriendRequestStatus::Accepted.into(),
                created_at_ms: 1_700_000_000_000,
                decided_at_ms: 1_700_000_001_000,
                updated_at_ms: 1_700_000_001_000,
            }),
        }),
    )
    .await;
    app.publish_conversation(
        "ann",
        "bob",
        Kind::ContactAdded(pb::ContactAdded {
            user_id: "ann".into(),
            contact_id: "bob".into(),
        }),
    )
    .await;
    app.publish_conversation(
        "ann",
        "ann",
        Kind::BlockChanged(pb::BlockChanged {
            user_id: "ann".into(),
            blocked_user_id: "eve".into(),
            blocked: true,
            direct_conversation_id: String::new(),
        }),
    )
    .await;

    let received = frames(app.node("n1"), 3).await;
    assert_eq!(received[0].frame_type, "friend_request.accepted");
    assert_eq!(received[0].data["friend_request"]["from_user_id"], "ann");
    assert_eq!(
        received[0].data["friend_request"]["decided_at"],
        "2023-11-14T22:13:21Z"
    );
    assert_eq!(
        sorted(received[0].sessions.clone()),
        ["ann-phone", "bob-phone"]
    );
    assert_eq!(received[1].frame_type, "contact.added");
    assert_eq!(
        sorted(received[1].sessions.clone()),
        ["ann-phone", "bob-phone"]
    );
    assert_eq!(received[2].frame_type, "block.changed");
    assert_eq!(received[2].sessions, ["ann-phone"], "eve is never told");
}
