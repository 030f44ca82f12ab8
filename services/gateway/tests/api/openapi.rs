//! The OpenAPI document covers every route the gateway answers.

use crate::spawn_app;

#[tokio::test]
async fn the_document_lists_every_route() {
    let app = spawn_app().await;
    let reply = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    let doc = reply.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/auth/introspect"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/api/v1/users/me"),
        ("patch", "/api/v1/users/me"),
        ("delete", "/api/v1/users/me"),
        ("put", "/api/v1/users/me/password"),
        ("get", "/api/v1/users/{id}"),
        ("get", "/api/v1/users"),
        ("get", "/api/v1/sessions"),
        ("delete", "/api/v1/sessions/{id}"),
        ("get", "/api/v1/admin/users"),
        ("post", "/api/v1/admin/users/{id}/ban"),
        ("delete", "/api/v1/admin/users/{id}/ban"),
        ("get", "/api/v1/admin/ip-blocks"),
        ("post", "/api/v1/admin/ip-blocks"),
        ("delete", "/api/v1/admin/ip-blocks/{id}"),
        ("get", "/api/v1/admin/policies"),
        ("post", "/api/v1/admin/policies"),
        ("delete", "/api/v1/admin/policies/{id}"),
        ("get", "/api/v1/admin/roles"),
        ("post", "/api/v1/admin/roles"),
        ("delete", "/api/v1/admin/roles/{role}/members/{user_id}"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/friend-requests"),
        ("get", "/api/v1/friend-requests"),
        ("post", "/api/v1/friend-requests/{id}/accept"),
        ("post", "/api/v1/friend-requests/{id}/reject"),
        ("post", "/api/v1/friend-requests/{id}/cancel"),
        ("get", "/api/v1/contacts"),
        ("patch", "/api/v1/contacts/{user_id}"),
        ("delete", "/api/v1/contacts/{user_id}"),
        ("get", "/api/v1/blocks"),
        ("put", "/api/v1/blocks/{user_id}"),
        ("delete", "/api/v1/blocks/{user_id}"),
        ("post", "/api/v1/conversations/direct"),
        ("post", "/api/v1/groups"),
        ("get", "/api/v1/conversations"),
        ("get", "/api/v1/conversations/{id}"),
        ("patch", "/api/v1/conversations/{id}"),
        ("delete", "/api/v1/conversations/{id}"),
        ("get", "/api/v1/conversations/{id}/members"),
        ("post", "/api/v1/conversations/{id}/members"),
        ("patch", "/api/v1/conversations/{id}/members/{user_id}"),
        ("delete", "/api/v1/conversations/{id}/members/{user_id}"),
        ("post", "/api/v1/conversations/{id}/transfer"),
        ("post", "/api/v1/conversations/{id}/join"),
        ("get", "/api/v1/conversations/{id}/join-requests"),
        (
            "post",
            "/api/v1/conversations/{id}/join-requests/{user_id}/approve",
        ),
        (
            "post",
            "/api/v1/conversations/{id}/join-requests/{user_id}/reject",
        ),
        ("post", "/api/v1/conversations/{id}/messages"),
        ("get", "/api/v1/conversations/{id}/messages"),
        ("post", "/api/v1/conversations/{id}/read"),
        ("post", "/api/v1/messages/{id}/recall"),
        ("patch", "/api/v1/messages/{id}"),
        ("delete", "/api/v1/messages/{id}"),
        ("get", "/api/v1/sync"),
        ("get", "/api/v1/presence"),
    ];
    for (method, path) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "no undocumented extras, no omissions"
    );

    // Public routes opt out of the default Bearer requirement.
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        doc["paths"]["/api/v1/auth/login"]["post"]["security"],
        serde_json::json!([{}])
    );
    assert!(doc["components"]["schemas"]["UserView"].is_object());
    for schema in [
        "ConversationView",
        "MemberView",
        "MessageView",
        "GroupSettingsView",
        "FriendRequestView",
        "ContactView",
        "JoinRequestView",
        "JoinOutcomeView",
        "PolicyBody",
        "PolicyView",
        "RoleAssignmentView",
        "RoleAssignmentsPage",
        "NewMessage",
        "HistoryPage",
        "SyncView",
        "SyncBatchView",
        "PresencePage",
        "PresenceView",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
