//! Searching users by username prefix.

use crate::harness::{TestApp, on_every_backend};

on_every_backend!(search_is_a_literal_case_insensitive_prefix_match_in_pages);

async fn search_is_a_literal_case_insensitive_prefix_match_in_pages(app: TestApp) {
    for name in [
        "al_ice", "alxice", "Alfred", "bob", "_under", "al.dot", "al-dash",
    ] {
        app.register(name).await;
    }
    assert_eq!(
        app.usernames("al").await,
        ["al-dash", "al.dot", "al_ice", "Alfred", "alxice"]
    );
    assert_eq!(app.usernames("AL").await, app.usernames("al").await);
    // `_` and `%` are characters here, not LIKE wildcards
    assert_eq!(app.usernames("al_").await, ["al_ice"]);
    assert_eq!(app.usernames("_").await, ["_under"]);
    assert!(app.usernames("%").await.is_empty());
    assert!(app.usernames("a%").await.is_empty());
    assert!(app.usernames("\\").await.is_empty());
    assert!(app.usernames("%' OR '1'='1").await.is_empty());
    assert_eq!(app.usernames("bob").await, ["bob"]);
    assert!(app.usernames("bobby").await.is_empty());

    // an empty prefix lists everyone, in pages
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = app.search("", 3, &cursor).await;
        pages += 1;
        assert!(page.users.len() <= 3);
        seen.extend(page.users.into_iter().map(|user| user.username));
        cursor = page.page_info.unwrap().next_cursor;
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        [
            "_under", "al-dash", "al.dot", "al_ice", "Alfred", "alxice", "bob"
        ]
    );
    let exact = app.search("", 7, "").await;
    assert_eq!(exact.users.len(), 7);
    assert_eq!(
        exact.page_info.unwrap().next_cursor,
        "",
        "no empty last page"
    );
}
