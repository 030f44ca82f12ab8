//! Registration, profiles, password changes and account deletion.

use crate::harness::{PASSWORD, TestApp, on_every_backend, refused};
use im_contracts::v1 as pb;
use tonic::Code;

on_every_backend!(
    registration_rules,
    profiles_are_updated_and_read,
    changing_the_password_signs_out_other_devices,
    a_deleted_account_is_gone_but_its_name_stays_reserved,
);

async fn register(
    app: &TestApp,
    username: &str,
    password: &str,
    display_name: &str,
) -> Result<tonic::Response<pb::RegisterResponse>, tonic::Status> {
    app.client
        .clone()
        .register(pb::RegisterRequest {
            username: username.into(),
            password: password.into(),
            display_name: display_name.into(),
        })
        .await
}

async fn registration_rules(app: TestApp) {
    for good in ["bob", "Alice.Smith", "x_y-z", "user123", &"n".repeat(32)] {
        let user = register(&app, good, PASSWORD, "")
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(user.username, good);
        assert_eq!(
            user.display_name, good,
            "the display name defaults to the username"
        );
        assert_eq!(user.roles, ["user"]);
        assert!(!user.id.is_empty() && user.created_at_ms > 0);
    }
    for bad in [
        "",
        "ab",
        &"n".repeat(33),
        "zoë",
        "名字名字",
        "bob smith",
        "bob@example.com",
        "ｂｏｂｂｙ",
        "robert'); DROP TABLE users;--",
    ] {
        refused(
            register(&app, bad, PASSWORD, "").await,
            Code::InvalidArgument,
            "invalid_username",
        );
    }

    // passwords: 8..=128 characters, counted as characters
    refused(
        register(&app, "shorty", "1234567", "").await,
        Code::InvalidArgument,
        "invalid_password",
    );
    refused(
        register(&app, "longy", &"é".repeat(129), "").await,
        Code::InvalidArgument,
        "invalid_password",
    );
    register(&app, "eight", "12345678", "").await.unwrap();
    register(&app, "accents", &"é".repeat(128), "")
        .await
        .unwrap();
    register(&app, "hanzi", "密码密码密码密码", "")
        .await
        .unwrap();

    // display names
    let named = register(&app, "carol", PASSWORD, "  Carol 🚀 O'Brien ")
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(named.display_name, "Carol 🚀 O'Brien");
    refused(
        register(&app, "dave", PASSWORD, &"d".repeat(65)).await,
        Code::InvalidArgument,
        "invalid_display_name",
    );

    // unique without regard to case
    for taken in ["BOB", "alice.smith", "Bob"] {
        let status = refused(
            register(&app, taken, PASSWORD, "").await,
            Code::AlreadyExists,
            "username_taken",
        );
        assert!(status.message().contains("taken"));
    }

    // nothing refused was stored
    let stored = app.usernames("").await;
    assert_eq!(stored.len(), 9, "{stored:?}");
    assert!(!stored.iter().any(|name| name == "dave" || name == "shorty"));
}

async fn profiles_are_updated_and_read(app: TestApp) {
    let erin = app.register("erin").await;
    let frank = app.register("frank").await;
    let update = |display_name: Option<&str>, avatar: Option<&str>, bio: Option<&str>| {
        let mut client = app.client.clone();
        let request = pb::UpdateProfileRequest {
            user_id: erin.id.clone(),
            display_name: display_name.map(Into::into),
            avatar_file_id: avatar.map(Into::into),
            bio: bio.map(Into::into),
        };
        async move { client.update_profile(request).await }
    };

    let updated = update(Some("Erin E."), Some("file_123-abc"), Some("Hello\nworld"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        (
            updated.display_name.as_str(),
            updated.avatar_file_id.as_str(),
            updated.bio.as_str()
        ),
        ("Erin E.", "file_123-abc", "Hello\nworld")
    );

    // unset fields stay; an empty avatar id removes the avatar
    let cleared = update(None, Some(""), None)
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(cleared.display_name, "Erin E.");
    assert_eq!(cleared.avatar_file_id, "");
    assert_eq!(cleared.bio, "Hello\nworld");

    refused(
        update(Some(" "), None, None).await,
        Code::InvalidArgument,
        "invalid_display_name",
    );
    refused(
        update(None, Some("../../etc/passwd"), None).await,
        Code::InvalidArgument,
        "invalid_avatar_file_id",
    );
    refused(
        update(None, None, Some(&"b".repeat(501))).await,
        Code::InvalidArgument,
        "invalid_bio",
    );

    let fetched = app
        .client
        .clone()
        .get_user(pb::GetUserRequest {
            user_id: erin.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(fetched, cleared, "refused updates changed nothing");

    for unknown in ["", "no-such-user", "x' OR '1'='1"] {
        refused(
            app.client
                .clone()
                .get_user(pb::GetUserRequest {
                    user_id: unknown.into(),
                })
                .await,
            Code::NotFound,
            "user_not_found",
        );
    }

    let users = app
        .client
        .clone()
        .get_users(pb::GetUsersRequest {
            user_ids: vec![frank.id.clone(), "nobody".into(), erin.id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .users;
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        [frank.id.as_str(), erin.id.as_str()],
        "in the order asked"
    );
}

async fn changing_the_password_signs_out_other_devices(app: TestApp) {
    let user = app.register("grace").await;
    let laptop = app.login("grace").await;
    let phone = app.login("grace").await;
    let change = |old: &str, new: &str| {
        let mut client = app.client.clone();
        let request = pb::ChangePasswordRequest {
            user_id: user.id.clone(),
            old_password: old.into(),
            new_password: new.into(),
            current_session_id: laptop.session_id.clone(),
        };
        async move { client.change_password(request).await }
    };

    refused(
        change("not my password", "brand new password").await,
        Code::PermissionDenied,
        "wrong_password",
    );
    refused(
        change(PASSWORD, "short").await,
        Code::InvalidArgument,
        "invalid_password",
    );
    assert!(
        app.verify(&phone.access_token).await.active,
        "refusals change nothing"
    );

    let revoked = change(PASSWORD, "brand new password")
        .await
        .unwrap()
        .into_inner()
        .revoked_sessions;
    assert_eq!(revoked, 1);
    assert!(
        app.verify(&laptop.access_token).await.active,
        "the asking device stays"
    );
    assert!(!app.verify(&phone.access_token).await.active);
    refused(
        app.try_refresh(&phone.refresh_token).await,
        Code::Unauthenticated,
        "invalid_refresh_token",
    );
    refused(
        app.try_login("grace", PASSWORD, "192.0.2.7").await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    app.try_login("grace", "brand new password", "192.0.2.7")
        .await
        .unwrap();
}

async fn a_deleted_account_is_gone_but_its_name_stays_reserved(app: TestApp) {
    let heidi = app.register("Heidi").await;
    let first = app.login("heidi").await;
    let second = app.login("HEIDI").await;
    let delete = |password: &str| {
        let mut client = app.client.clone();
        let request = pb::DeleteUserRequest {
            user_id: heidi.id.clone(),
            password: password.into(),
        };
        async move { client.delete_user(request).await }
    };

    refused(
        delete("wrong password!").await,
        Code::PermissionDenied,
        "wrong_password",
    );
    assert!(app.verify(&first.access_token).await.active);

    delete(PASSWORD).await.unwrap();
    for tokens in [&first, &second] {
        assert!(!app.verify(&tokens.access_token).await.active);
        assert!(!app.introspect(&tokens.refresh_token).await.active);
        refused(
            app.try_refresh(&tokens.refresh_token).await,
            Code::Unauthenticated,
            "invalid_refresh_token",
        );
    }
    refused(
        app.client
            .clone()
            .get_user(pb::GetUserRequest {
                user_id: heidi.id.clone(),
            })
            .await,
        Code::NotFound,
        "user_not_found",
    );
    let wrong = refused(
        app.try_login("heidi", PASSWORD, "192.0.2.9").await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    let unknown = refused(
        app.try_login("nobody-at-all", PASSWORD, "192.0.2.9").await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    assert_eq!(
        wrong.message(),
        unknown.message(),
        "no hint that the account existed"
    );
    for name in ["Heidi", "heidi"] {
        refused(
            register(&app, name, PASSWORD, "").await,
            Code::AlreadyExists,
            "username_taken",
        );
    }
    assert!(app.usernames("hei").await.is_empty(), "not found by search");
    assert!(
        app.sessions(&heidi.id, "").await.is_empty(),
        "no live session left"
    );
    refused(delete(PASSWORD).await, Code::NotFound, "user_not_found");
}
