//! The admin API: only for the `admin` role; bans and IP blocks act at once.

use crate::spawn_app;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn admin_routes_need_the_admin_role() {
    let app = spawn_app().await;
    let user = app.token("u1", "s1");
    for (method, path) in [
        (Method::GET, "/api/v1/admin/users"),
        (Method::GET, "/api/v1/admin/ip-blocks"),
        (Method::POST, "/api/v1/admin/users/u2/ban"),
        (Method::DELETE, "/api/v1/admin/ip-blocks/b1"),
    ] {
        let reply = app
            .send(method, path, Some(&user), Some(json!({})), &[])
            .await;
        assert_eq!((reply.status, reply.code()), (403, "forbidden"), "{path}");
    }
    let reply = app
        .get("/api/v1/admin/users", Some(&app.admin_token()))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["items"][0]["roles"], json!(["user"]));
    assert_eq!(reply.body["next_cursor"], "c2");
}

#[tokio::test]
async fn a_ban_refuses_the_user_at_once_and_an_unban_lifts_it() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let victim = app.token("u-spam", "s1");
    let path = "/api/v1/admin/users/u-spam/ban";

    let past = app
        .post(path, Some(&admin), json!({"until": "2001-01-01T00:00:00Z"}))
        .await;
    assert_eq!((past.status, past.code()), (400, "invalid_request"));
    let bad_time = app
        .post(path, Some(&admin), json!({"until": "tomorrow"}))
        .await;
    assert_eq!((bad_time.status, bad_time.code()), (400, "invalid_request"));

    let ban = app
        .post(
            path,
            Some(&admin),
            json!({"reason": "spam", "until": "2999-01-01T00:00:00+02:00"}),
        )
        .await;
    assert_eq!(ban.status, 201, "{:?}", ban.body);
    assert_eq!(
        ban.body,
        json!({
            "user_id": "u-spam",
            "reason": "spam",
            "until": "2998-12-31T22:00:00Z",
            "actor_id": "u-admin",
            "created_at": "2023-11-14T22:13:20Z"
        })
    );
    let reply = app.get("/api/v1/users/me", Some(&victim)).await;
    assert_eq!((reply.status, reply.code()), (403, "user_banned"));

    let unban = app
        .send(Method::DELETE, path, Some(&admin), None, &[])
        .await;
    assert_eq!(unban.status, 204);
    assert_eq!(app.get("/api/v1/users/me", Some(&victim)).await.status, 200);
}

#[tokio::test]
async fn ip_blocks_are_validated_listed_and_removed() {
    let app = spawn_app().await;
    let admin = app.admin_token();
    let list = app.get("/api/v1/admin/ip-blocks", Some(&admin)).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"][0]["cidr"], "192.0.2.0/24");
    assert!(list.body["items"][0]["until"].is_null());

    let bad = app
        .post(
            "/api/v1/admin/ip-blocks",
            Some(&admin),
            json!({"cidr": "300.1.2.3/99"}),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_cidr"));
    let own = app
        .post(
            "/api/v1/admin/ip-blocks",
            Some(&admin),
            json!({"cidr": "127.0.0.0/8"}),
        )
        .await;
    assert_eq!((own.status, own.code()), (422, "would_block_yourself"));

    let block = app
        .post(
            "/api/v1/admin/ip-blocks",
            Some(&admin),
            json!({"cidr": "203.0.113.77/24", "reason": "abuse"}),
        )
        .await;
    assert_eq!(block.status, 201, "{:?}", block.body);
    assert_eq!(block.body["id"], "b1");
    assert_eq!(block.body["cidr"], "203.0.113.0/24", "normalized");
    assert_eq!(block.body["reason"], "abuse");

    let removed = app
        .send(
            Method::DELETE,
            "/api/v1/admin/ip-blocks/b1",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(removed.status, 204);
}
