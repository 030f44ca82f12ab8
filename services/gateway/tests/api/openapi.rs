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
        "PolicyBody",
        "PolicyView",
        "RoleAssignmentView",
        "RoleAssignmentsPage",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
