//! What clients may send: each type's body shape and bounds, server-made types, and
//! malformed ids. Refused input is InvalidArgument with a precise code, never Internal,
//! and stores nothing.

use crate::harness::{TestApp, on_every_backend, refused, seqs};
use im_contracts::v1 as pb;
use pb::MessageType as T;
use tonic::Code;

on_every_backend!(each_type_takes_its_own_body, malformed_sends_are_refused);

async fn each_type_takes_its_own_body(app: TestApp) {
    app.members.group("g", &["ann"]);
    let accepted = [
        (T::Text, r#"{ "text": "hi 👋" }"#, r#"{"text":"hi 👋"}"#),
        (
            T::Image,
            r#"{"file_id":"f1","mime":"image/png","size":2048,"width":640,"height":480}"#,
            r#"{"file_id":"f1","height":480,"mime":"image/png","size":2048,"width":640}"#,
        ),
        (
            T::File,
            r#"{"file_id":"f2","name":"report.pdf","size":10}"#,
            r#"{"file_id":"f2","name":"report.pdf","size":10}"#,
        ),
        (
            T::Video,
            r#"{"file_id":"f3","duration_ms":60000,"width":1920,"height":1080}"#,
            r#"{"duration_ms":60000,"file_id":"f3","height":1080,"width":1920}"#,
        ),
        (
            T::Voice,
            r#"{"file_id":"f4","duration_ms":4000,"mime":"audio/ogg"}"#,
            r#"{"duration_ms":4000,"file_id":"f4","mime":"audio/ogg"}"#,
        ),
        (
            T::Custom,
            r#"{"card":{"title":"Lunch?","options":["yes","no"]}}"#,
            r#"{"card":{"options":["yes","no"],"title":"Lunch?"}}"#,
        ),
    ];
    for (i, (kind, body, stored)) in accepted.iter().enumerate() {
        let message = app
            .try_send("g", "ann", &format!("ok{i}"), *kind, body)
            .await
            .unwrap()
            .into_inner()
            .message
            .unwrap();
        assert_eq!(message.r#type(), *kind);
        assert_eq!(
            message.body_json, *stored,
            "{kind:?} is kept in canonical form"
        );
    }
    let longest = serde_json::json!({ "text": "字".repeat(4000) }).to_string();
    app.try_send("g", "ann", "longest", T::Text, &longest)
        .await
        .unwrap();

    let too_large = [
        (
            T::Text,
            serde_json::json!({ "text": "a".repeat(4001) }).to_string(),
        ),
        (
            T::Custom,
            serde_json::json!({ "blob": "x".repeat(8200) }).to_string(),
        ),
        (T::Custom, format!(r#"{{"blob":"{}"}}"#, "x".repeat(70_000))),
    ];
    for (i, (kind, body)) in too_large.iter().enumerate() {
        refused(
            app.try_send("g", "ann", &format!("big{i}"), *kind, body)
                .await,
            Code::InvalidArgument,
            "body_too_large",
        );
    }
    let invalid = [
        (T::Text, ""),
        (T::Text, "not json"),
        (T::Text, r#"{"text":""}"#),
        (T::Text, r#"{"text":"  "}"#),
        (T::Text, r#"{"text":42}"#),
        (T::Text, r#"{"text":"hi","color":"red"}"#),
        (T::Text, r#"["hi"]"#),
        (T::Image, r#"{"mime":"image/png"}"#),
        (T::Image, r#"{"file_id":"f1","width":-3}"#),
        (T::Image, r#"{"file_id":"f1","width":99999}"#),
        (T::File, r#"{"file_id":"f1","size":0}"#),
        (T::File, r#"{"file_id":"has space"}"#),
        (T::Video, r#"{"file_id":"f1","duration_ms":"long"}"#),
        (T::Voice, r#"{"file_id":"f1","duration_ms":3600001}"#),
        (T::Voice, r#"{"file_id":"f1","mime":"noslash"}"#),
        (T::Custom, "17"),
    ];
    for (i, (kind, body)) in invalid.iter().enumerate() {
        refused(
            app.try_send("g", "ann", &format!("bad{i}"), *kind, body)
                .await,
            Code::InvalidArgument,
            "invalid_body",
        );
    }
    for kind in [T::System, T::Call] {
        refused(
            app.try_send("g", "ann", "server", kind, r#"{"event":"x"}"#)
                .await,
            Code::InvalidArgument,
            "type_not_allowed",
        );
    }
    refused(
        app.try_send("g", "ann", "none", T::Unspecified, r#"{"text":"x"}"#)
            .await,
        Code::InvalidArgument,
        "invalid_type",
    );
    let history = app.all_history("g", "ann").await;
    assert_eq!(
        seqs(&history),
        (1..=7).collect::<Vec<_>>(),
        "only accepted bodies are stored"
    );
}

async fn malformed_sends_are_refused(app: TestApp) {
    app.members.group("g", &["ann"]);
    let body = crate::harness::text_body("hi");
    let cases = [
        ("", "ann", "c1", "invalid_conversation_id"),
        ("g", "", "c1", "invalid_user_id"),
        ("g", "a n", "c1", "invalid_user_id"),
        ("g", "system", "c1", "invalid_user_id"),
        ("g", "ann", "", "invalid_client_msg_id"),
        ("g", "ann", &"c".repeat(65), "invalid_client_msg_id"),
        ("g", "ann", "tab\tid", "invalid_client_msg_id"),
    ];
    for (conversation, sender, client_msg_id, code) in cases {
        refused(
            app.try_send(conversation, sender, client_msg_id, T::Text, &body)
                .await,
            Code::InvalidArgument,
            code,
        );
    }
    let unknown_type = app
        .c()
        .send(pb::SendRequest {
            conversation_id: "g".into(),
            sender_id: "ann".into(),
            client_msg_id: "c2".into(),
            r#type: 99,
            body_json: body.clone(),
            ..pb::SendRequest::default()
        })
        .await;
    refused(unknown_type, Code::InvalidArgument, "invalid_type");
    app.try_send("g", "ann", &"c".repeat(64), T::Text, &body)
        .await
        .unwrap();
    assert_eq!(seqs(&app.all_history("g", "ann").await), [1]);
}
