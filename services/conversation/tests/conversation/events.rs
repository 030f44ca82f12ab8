//! Conversation events on the bus: published after commit through the outbox, in order
//! per conversation, and none lost when the bus is down for a while.

use crate::harness::{Events, TestApp, on_every_backend};
use im_contracts::v1 as pb;
use im_contracts::v1::conversation_event::Kind;

on_every_backend!(
    group_changes_are_published_in_order,
    contact_changes_are_published_per_pair,
    a_bus_outage_delays_events_but_loses_none,
);

/// Plays a group's life: create, invite, promote, kick, rename, transfer, leave, dissolve.
async fn group_life(app: &TestApp) -> String {
    let group = app.group("olive", &["mia", "max"]).await;
    app.invite(&group, "olive", &["zoe"]).await.unwrap();
    app.set_role(&group, "olive", "mia", pb::MemberRole::Admin)
        .await
        .unwrap();
    app.remove(&group, "mia", "max").await.unwrap();
    // refused: nothing is published for it
    app.remove(&group, "zoe", "mia").await.unwrap_err();
    app.update(pb::UpdateConversationRequest {
        conversation_id: group.clone(),
        actor_id: "mia".into(),
        name: Some("Renamed".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    app.c()
        .transfer_ownership(pb::TransferOwnershipRequest {
            conversation_id: group.clone(),
            actor_id: "olive".into(),
            new_owner_id: "mia".into(),
        })
        .await
        .unwrap();
    app.remove(&group, "olive", "olive").await.unwrap();
    app.c()
        .dissolve_group(pb::DissolveGroupRequest {
            conversation_id: group.clone(),
            actor_id: "mia".into(),
        })
        .await
        .unwrap();
    group
}

/// Asserts the events of [`group_life`], in order, keyed by the group.
async fn expect_group_life(events: &mut Events, group: &str) {
    let mut versions = Vec::new();
    let mut next = async || {
        let (key, event) = events.next().await;
        assert_eq!(key, group);
        versions.push(event.membership_version);
        (event.actor_id, event.kind.unwrap())
    };
    let (actor, Kind::ConversationCreated(created)) = next().await else {
        panic!("expected the group's creation first");
    };
    assert_eq!(actor, "olive");
    assert_eq!(created.conversation.unwrap().name, "Team");
    let members: Vec<_> = created.members.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!(members, ["olive", "mia", "max"]);

    let (_, Kind::MembersJoined(joined)) = next().await else {
        panic!("expected the invitation");
    };
    assert_eq!(joined.members[0].user_id, "zoe");
    assert_eq!(joined.method(), pb::JoinMethod::Invited);

    let (_, Kind::MemberUpdated(updated)) = next().await else {
        panic!("expected the promotion");
    };
    assert_eq!(updated.member.unwrap().role(), pb::MemberRole::Admin);

    let (actor, Kind::MemberRemoved(kicked)) = next().await else {
        panic!("expected the kick");
    };
    assert_eq!((actor.as_str(), kicked.user_id.as_str()), ("mia", "max"));
    assert_eq!(kicked.reason(), pb::RemovalReason::Kicked);

    let (_, Kind::ConversationUpdated(renamed)) = next().await else {
        panic!("expected the rename");
    };
    assert_eq!(renamed.conversation.unwrap().name, "Renamed");

    let (_, Kind::OwnershipTransferred(transfer)) = next().await else {
        panic!("expected the transfer");
    };
    assert_eq!(
        (
            transfer.previous_owner_id.as_str(),
            transfer.new_owner_id.as_str()
        ),
        ("olive", "mia")
    );

    let (_, Kind::MemberRemoved(left)) = next().await else {
        panic!("expected the owner leaving");
    };
    assert_eq!(left.user_id, "olive");
    assert_eq!(left.reason(), pb::RemovalReason::Left);

    let (_, Kind::ConversationDissolved(dissolved)) = next().await else {
        panic!("expected the dissolution");
    };
    assert_eq!(dissolved.member_ids, ["mia", "zoe"]);

    // membership versions grow with each membership change (a rename changes none)
    assert_eq!(versions[4], 0, "{versions:?}");
    let membership: Vec<u64> = versions.into_iter().filter(|v| *v > 0).collect();
    assert!(membership.windows(2).all(|w| w[0] < w[1]), "{membership:?}");
}

async fn group_changes_are_published_in_order(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    let group = group_life(&app).await;
    expect_group_life(&mut events, &group).await;
    events.assert_quiet().await;
}

async fn contact_changes_are_published_per_pair(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    // keyed by the smaller user id of the pair, whoever acts
    app.send_request("zed", "amy", "hi").await.unwrap();
    let (key, event) = events.next().await;
    assert_eq!((key.as_str(), event.actor_id.as_str()), ("amy", "zed"));
    let Some(Kind::FriendRequestChanged(sent)) = event.kind else {
        panic!("expected the request");
    };
    let request = sent.friend_request.unwrap();
    assert_eq!(request.status(), pb::FriendRequestStatus::Pending);
    assert_eq!(event.membership_version, 0);

    app.c()
        .accept_friend_request(pb::AcceptFriendRequestRequest {
            request_id: request.id,
            user_id: "amy".into(),
        })
        .await
        .unwrap();
    let (key, event) = events.next().await;
    assert_eq!(key, "amy");
    let Some(Kind::FriendRequestChanged(accepted)) = event.kind else {
        panic!("expected the acceptance");
    };
    assert_eq!(
        accepted.friend_request.unwrap().status(),
        pb::FriendRequestStatus::Accepted
    );
    let (key, event) = events.next().await;
    assert_eq!(key, "amy");
    let Some(Kind::ContactAdded(added)) = event.kind else {
        panic!("expected the new contact");
    };
    assert_eq!(
        (added.user_id.as_str(), added.contact_id.as_str()),
        ("amy", "zed")
    );

    let direct = app.direct("zed", "amy").await;
    let (key, _) = events.next().await;
    assert_eq!(key, direct.id);
    app.block("zed", "amy").await;
    let (key, event) = events.next().await;
    assert_eq!(key, "amy");
    let Some(Kind::BlockChanged(block)) = event.kind else {
        panic!("expected the block");
    };
    assert!(block.blocked);
    assert_eq!(block.direct_conversation_id, direct.id);
    assert!(event.membership_version > 0, "a block changes who may send");
    events.assert_quiet().await;
}

async fn a_bus_outage_delays_events_but_loses_none(app: TestApp) {
    let mut events = Events::subscribe(&app).await;
    app.bus_down(true);
    let group = group_life(&app).await;
    events.assert_quiet().await;
    app.bus_down(false);
    expect_group_life(&mut events, &group).await;
    events.assert_quiet().await;
}
