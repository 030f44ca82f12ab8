//! `GET /api/v1/openapi.json`: the OpenAPI document of the public API, generated from
//! the routes themselves (each handler's `#[utoipa::path]`), so it cannot drift.

use super::{AppState, api_routes};
use axum::Json;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The name of the Bearer scheme in the document.
const BEARER: &str = "bearer";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "IM public API",
        description = "REST API of the IM gateway. Errors are `{\"error\":{\"code\",\"message\"}}`; \
                       429 and 503 carry `Retry-After`. Every route needs a Bearer access token \
                       unless it says otherwise.",
    ),
    modifiers(&BearerByDefault),
    tags(
        (name = "auth", description = "Auth center: accounts, tokens, keys"),
        (name = "users", description = "Profiles"),
        (name = "sessions", description = "The caller's devices"),
        (name = "contacts", description = "Friend requests, contacts and blocks"),
        (name = "conversations", description = "Direct conversations and groups, members, join requests"),
        (name = "messages", description = "Sending, history, read cursors, recall/edit/delete, sync"),
        (name = "presence", description = "Online status"),
        (name = "admin", description = "Administration, as the access rules allow (by default role `admin`)"),
    )
)]
pub struct ApiDoc;

/// Declares the Bearer JWT scheme and requires it everywhere; public routes opt out
/// with `security(())`.
struct BearerByDefault;

impl Modify for BearerByDefault {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = api_routes().into_openapi();
        document.info.version = env!("CARGO_PKG_VERSION").to_owned();
        document
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "auth", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Json<&'static OpenApi> {
    Json(document())
}

/// The base document every route adds itself to.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}
