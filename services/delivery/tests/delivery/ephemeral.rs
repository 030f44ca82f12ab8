//! `Delivery.DeliverEphemeral`: frames outside the message log (typing), routed like
//! the others, checked on the way in.

use crate::harness::{TestApp, frames, refused, sorted};
use im_contracts::v1 as pb;
use pb::MemberRole::{Member, Owner};
use serde_json::json;
use std::sync::atomic::Ordering;
use tonic::Code;

fn typing(conversation: &str, sender: &str, session: &str) -> pb::DeliverEphemeralRequest {
    pb::DeliverEphemeralRequest {
        recipient_ids: Vec::new(),
        exclude_session_id: session.into(),
        event_type: "typing".into(),
        payload_json: json!({"conversation_id": conversation, "user_id": sender}).to_string(),
        conversation_id: conversation.into(),
        sender_id: sender.into(),
    }
}

fn team(app: &TestApp) {
    app.conversation
        .set_members("c1", &[("ann", Owner), ("bob", Member)]);
    app.presence.connect("ann", "ann-phone", "n1");
    app.presence.connect("ann", "ann-laptop", "n2");
    app.presence.connect("bob", "bob-phone", "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_the_members_except_the_senders_session() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    team(&app);

    let reply = app
        .client()
        .deliver_ephemeral(typing("c1", "ann", "ann-phone"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(reply.accepted, 2);
    assert!(!reply.fallback);
    let n1 = frames(app.node("n1"), 1).await;
    assert_eq!(n1[0].frame_type, "typing");
    assert_eq!(n1[0].sessions, ["bob-phone"]);
    assert_eq!(n1[0].excluded, ["ann-phone"]);
    assert_eq!(
        n1[0].data,
        json!({"conversation_id": "c1", "user_id": "ann"})
    );
    assert_eq!(frames(app.node("n2"), 1).await[0].sessions, ["ann-laptop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_recipients_and_presence_down() {
    let app = TestApp::spawn(&["n1", "n2"]).await;
    team(&app);

    let request = pb::DeliverEphemeralRequest {
        recipient_ids: vec!["bob".into()],
        event_type: "call.invite".into(),
        payload_json: r#"{"call_id":"k1"}"#.into(),
        ..Default::default()
    };
    let reply = app
        .client()
        .deliver_ephemeral(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.accepted, 1);
    assert_eq!(frames(app.node("n1"), 1).await[0].sessions, ["bob-phone"]);
    assert!(app.node("n2").received().is_empty());

    app.presence.down.store(true, Ordering::SeqCst);
    let reply = app
        .client()
        .deliver_ephemeral(request)
        .await
        .unwrap()
        .into_inner();
    assert!(reply.fallback);
    for node in ["n1", "n2"] {
        let received = frames(app.node(node), 1).await;
        assert_eq!(sorted(received.last().unwrap().users.clone()), ["bob"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused() {
    let app = TestApp::spawn(&["n1"]).await;
    team(&app);
    let call = |request: pb::DeliverEphemeralRequest| {
        let mut client = app.client();
        async move { client.deliver_ephemeral(request).await }
    };
    let ok = typing("c1", "ann", "ann-phone");
    let invalid = |code: &'static str, request: pb::DeliverEphemeralRequest| (code, request);
    let cases = [
        invalid(
            "invalid_event_type",
            pb::DeliverEphemeralRequest {
                event_type: String::new(),
                ..ok.clone()
            },
        ),
        invalid(
            "invalid_event_type",
            pb::DeliverEphemeralRequest {
                event_type: "Typing!".into(),
                ..ok.clone()
            },
        ),
        invalid(
            "invalid_payload",
            pb::DeliverEphemeralRequest {
                payload_json: "[1]".into(),
                ..ok.clone()
            },
        ),
        invalid(
            "payload_too_large",
            pb::DeliverEphemeralRequest {
                payload_json: json!({"pad": "x".repeat(16 * 1024)}).to_string(),
                ..ok.clone()
            },
        ),
        invalid(
            "too_many_recipients",
            pb::DeliverEphemeralRequest {
                recipient_ids: (0..2001).map(|n| format!("u{n}")).collect(),
                ..ok.clone()
            },
        ),
        invalid(
            "invalid_user_id",
            pb::DeliverEphemeralRequest {
                recipient_ids: vec!["a b".into()],
                ..ok.clone()
            },
        ),
        invalid(
            "invalid_conversation_id",
            pb::DeliverEphemeralRequest {
                conversation_id: "c 1".into(),
                ..ok.clone()
            },
        ),
        invalid(
            "invalid_session_id",
            pb::DeliverEphemeralRequest {
                exclude_session_id: "x".repeat(129),
                ..ok.clone()
            },
        ),
        invalid(
            "missing_recipients",
            pb::DeliverEphemeralRequest {
                conversation_id: String::new(),
                ..ok.clone()
            },
        ),
    ];
    for (code, request) in cases {
        refused(call(request).await, Code::InvalidArgument, code);
    }
    assert!(
        app.node("n1").received().is_empty(),
        "nothing refused is pushed"
    );

    // Not a member, or no such conversation.
    refused(
        call(typing("c1", "eve", "eve-phone")).await,
        Code::NotFound,
        "conversation_not_found",
    );
    refused(
        call(typing("c9", "ann", "ann-phone")).await,
        Code::NotFound,
        "conversation_not_found",
    );
    app.conversation.down.store(true, Ordering::SeqCst);
    refused(
        call(typing("c2", "ann", "ann-phone")).await,
        Code::Unavailable,
        "conversation_unavailable",
    );
}
