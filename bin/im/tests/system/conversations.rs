//! Contacts, direct conversations and groups through the gateway alone (issue:
//! conversation service), as new users would use them.

use crate::api::{Api, Reply, token};
use crate::process::ImProcess;
use reqwest::Method;
use serde_json::{Value, json};

struct Person {
    id: String,
    token: String,
}

async fn person(api: &Api, name: &str) -> Person {
    let user = api.register(name).await;
    let login = api.login(name, "laptop").await;
    Person {
        id: user["id"].as_str().unwrap().to_owned(),
        token: token(&login).to_owned(),
    }
}

async fn patch(api: &Api, who: &Person, path: &str, body: Value) -> Reply {
    api.send(Method::PATCH, path, Some(&who.token), Some(body), &[])
        .await
}

async fn delete(api: &Api, who: &Person, path: &str) -> Reply {
    api.send(Method::DELETE, path, Some(&who.token), None, &[])
        .await
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item[field].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn friends_direct_chat_and_a_group_from_creation_to_dissolution() {
    let dir = tempfile::tempdir().unwrap();
    let im = ImProcess::start(dir.path(), |_| {});
    let api = Api::new(&im);
    let alice = person(&api, "alice").await;
    let bob = person(&api, "bob").await;
    let carol = person(&api, "carol").await;
    let dave = person(&api, "dave").await;
    let erin = person(&api, "erin").await;

    // find someone
    let found = api.get("/api/v1/users?q=bo", &alice.token).await;
    assert_eq!(ids(&found.body, "id"), [bob.id.as_str()]);

    // become friends
    let request = api
        .post(
            "/api/v1/friend-requests",
            Some(&alice.token),
            json!({"to_user_id": bob.id, "message": "hi, it's alice"}),
        )
        .await;
    assert_eq!(request.status, 201, "{}", request.body);
    assert_eq!(request.body["status"], "pending");
    assert_eq!(request.body["from_user_id"], alice.id.as_str());
    let again = api
        .post(
            "/api/v1/friend-requests",
            Some(&alice.token),
            json!({"to_user_id": bob.id}),
        )
        .await;
    assert!(
        again.status < 300,
        "a repeated request updates the pending one: {}",
        again.body
    );
    let incoming = api
        .get("/api/v1/friend-requests?direction=incoming", &bob.token)
        .await;
    assert_eq!(incoming.status, 200, "{}", incoming.body);
    assert_eq!(
        incoming.body["items"].as_array().unwrap().len(),
        1,
        "no pile-up: {}",
        incoming.body
    );
    let outgoing = api
        .get("/api/v1/friend-requests?direction=outgoing", &alice.token)
        .await;
    assert_eq!(outgoing.body["items"].as_array().unwrap().len(), 1);
    let request_id = incoming.body["items"][0]["id"].as_str().unwrap();
    let accepted = api
        .post(
            &format!("/api/v1/friend-requests/{request_id}/accept"),
            Some(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "accepted");
    let contacts = api.get("/api/v1/contacts", &alice.token).await;
    assert_eq!(
        ids(&contacts.body, "user_id"),
        [bob.id.as_str()],
        "{}",
        contacts.body
    );
    assert_eq!(
        contacts.body["items"][0]["user"]["username"], "bob",
        "contacts come with profiles"
    );
    let remark = api
        .send(
            Method::PATCH,
            &format!("/api/v1/contacts/{}", bob.id),
            Some(&alice.token),
            Some(json!({"remark": "Bobby"})),
            &[],
        )
        .await;
    assert_eq!(remark.status, 200, "{}", remark.body);
    assert_eq!(remark.body["remark"], "Bobby");

    // the refusals
    let to_self = api
        .post(
            "/api/v1/friend-requests",
            Some(&alice.token),
            json!({"to_user_id": alice.id}),
        )
        .await;
    assert_eq!(to_self.status, 400, "{}", to_self.body);
    let existing = api
        .post(
            "/api/v1/friend-requests",
            Some(&alice.token),
            json!({"to_user_id": bob.id}),
        )
        .await;
    assert_eq!(existing.status, 409, "{}", existing.body);
    let nobody = api
        .post(
            "/api/v1/friend-requests",
            Some(&alice.token),
            json!({"to_user_id": "no-such-user"}),
        )
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.body);

    // one direct conversation per pair, from either side
    let direct = api
        .post(
            "/api/v1/conversations/direct",
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await;
    assert!(matches!(direct.status, 200 | 201), "{}", direct.body);
    assert_eq!(direct.body["kind"], "direct");
    let from_bob = api
        .post(
            "/api/v1/conversations/direct",
            Some(&bob.token),
            json!({"user_id": alice.id}),
        )
        .await;
    assert_eq!(from_bob.body["id"], direct.body["id"]);
    let stranger = api
        .post(
            "/api/v1/conversations/direct",
            Some(&alice.token),
            json!({"user_id": carol.id}),
        )
        .await;
    assert_eq!(
        stranger.status, 403,
        "friends only by default: {}",
        stranger.body
    );

    // a group of five
    let members = [&bob.id, &carol.id, &dave.id, &erin.id];
    let group = api
        .post(
            "/api/v1/groups",
            Some(&alice.token),
            json!({"name": "team", "member_ids": members}),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    assert_eq!(group.body["kind"], "group");
    assert_eq!(group.body["owner_id"], alice.id.as_str());
    let group_id = group.body["id"].as_str().unwrap().to_owned();
    let path = |rest: &str| format!("/api/v1/conversations/{group_id}{rest}");
    let listed = api.get(&path("/members"), &carol.token).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 5);

    // make bob admin; only the owner may
    let member = |target: &str| format!("/api/v1/conversations/{group_id}/members/{target}");
    let role = |role: &str| json!({ "role": role });
    assert_eq!(
        patch(&api, &carol, &member(&dave.id), role("admin"))
            .await
            .status,
        403
    );
    let promoted = patch(&api, &alice, &member(&bob.id), role("admin")).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.body["role"], "admin");

    // mute a member (admins may), not as a plain member
    let until = json!({"muted_until": "2099-01-01T00:00:00Z"});
    assert_eq!(
        patch(&api, &carol, &member(&dave.id), until.clone())
            .await
            .status,
        403
    );
    let muted = patch(&api, &bob, &member(&carol.id), until).await;
    assert_eq!(muted.status, 200, "{}", muted.body);
    assert!(
        muted.body["muted_until"]
            .as_str()
            .unwrap()
            .starts_with("2099-01-01")
    );

    // kick: an admin kicks a member, never the owner
    assert_eq!(delete(&api, &bob, &member(&alice.id)).await.status, 403);
    assert_eq!(delete(&api, &bob, &member(&dave.id)).await.status, 204);
    assert_eq!(
        api.get(&path(""), &dave.token).await.status,
        404,
        "a kicked member no longer sees it"
    );
    assert_eq!(
        api.get(&path("/members"), &alice.token).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // the owner cannot just leave; transfer first, then the new owner dissolves
    let leave = api
        .send(
            Method::DELETE,
            &path(&format!("/members/{}", alice.id)),
            Some(&alice.token),
            None,
            &[],
        )
        .await;
    assert_eq!(leave.status, 422, "{}", leave.body);
    let transferred = api
        .post(
            &path("/transfer"),
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await;
    assert_eq!(transferred.status, 200, "{}", transferred.body);
    assert_eq!(transferred.body["owner_id"], bob.id.as_str());
    assert_eq!(
        api.send(Method::DELETE, &path(""), Some(&alice.token), None, &[])
            .await
            .status,
        403
    );
    assert_eq!(
        api.send(Method::DELETE, &path(""), Some(&bob.token), None, &[])
            .await
            .status,
        204
    );
    for who in [&alice, &bob, &carol, &erin] {
        assert_eq!(api.get(&path(""), &who.token).await.status, 404);
    }

    // the conversation list keeps the direct chat, not the dissolved group
    let mine = api.get("/api/v1/conversations", &alice.token).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(
        ids(&mine.body, "id"),
        [direct.body["id"].as_str().unwrap().to_owned()]
    );
    let item = &mine.body["items"][0];
    for field in ["max_seq", "read_seq", "unread"] {
        assert_eq!(item[field], 0, "{field}: {item}");
    }

    // blocks stop requests
    let block = api
        .send(
            Method::PUT,
            &format!("/api/v1/blocks/{}", alice.id),
            Some(&carol.token),
            None,
            &[],
        )
        .await;
    assert_eq!(block.status, 204, "{}", block.body);
    let blocked = api
        .post(
            "/api/v1/friend-requests",
            Some(&alice.token),
            json!({"to_user_id": carol.id}),
        )
        .await;
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    assert_eq!(
        ids(
            &api.get("/api/v1/blocks", &carol.token).await.body,
            "user_id"
        ),
        [alice.id.as_str()]
    );

    // deleting a contact removes it on both sides
    let removed = api
        .send(
            Method::DELETE,
            &format!("/api/v1/contacts/{}", alice.id),
            Some(&bob.token),
            None,
            &[],
        )
        .await;
    assert_eq!(removed.status, 204);
    assert!(
        ids(
            &api.get("/api/v1/contacts", &alice.token).await.body,
            "user_id"
        )
        .is_empty()
    );
}
