//! People of the scenarios: registered, logged in, befriended, in a chat together.

use crate::api::{Api, token};
use serde_json::json;

pub struct User {
    pub id: String,
    pub token: String,
}

pub async fn user(api: &Api, name: &str, device: &str) -> User {
    let registered = api.register(name).await;
    let login = api.login(name, device).await;
    User {
        id: registered["id"].as_str().unwrap().to_owned(),
        token: token(&login).to_owned(),
    }
}

pub async fn befriend(api: &Api, a: &User, b: &User) {
    let request = api
        .post(
            "/api/v1/friend-requests",
            Some(&a.token),
            json!({"to_user_id": b.id}),
        )
        .await;
    assert_eq!(request.status, 201, "{}", request.body);
    let id = request.body["id"].as_str().unwrap();
    let accepted = api
        .post(
            &format!("/api/v1/friend-requests/{id}/accept"),
            Some(&b.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

/// alice (on her laptop) and bob (on his phone), friends, and their direct conversation.
pub async fn friends_in_a_direct_chat(api: &Api) -> (User, User, String) {
    let alice = user(api, "alice", "laptop").await;
    let bob = user(api, "bob", "phone").await;
    befriend(api, &alice, &bob).await;
    let direct = api
        .post(
            "/api/v1/conversations/direct",
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await;
    assert!(matches!(direct.status, 200 | 201), "{}", direct.body);
    (alice, bob, direct.body["id"].as_str().unwrap().to_owned())
}

/// A group owned by `owner` with `members`; returns its conversation id.
pub async fn group(api: &Api, owner: &User, members: &[&User], name: &str) -> String {
    let ids: Vec<&str> = members.iter().map(|u| u.id.as_str()).collect();
    let group = api
        .post(
            "/api/v1/groups",
            Some(&owner.token),
            json!({"name": name, "member_ids": ids}),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    group.body["id"].as_str().unwrap().to_owned()
}
