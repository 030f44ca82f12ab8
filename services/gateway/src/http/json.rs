//! `ApiJson<T>`: the JSON body extractor of every route, whose refusals are API errors:
//! wrong or missing `Content-Type` → 415 `unsupported_media_type`, a body over the
//! configured limit → 413 `payload_too_large`, malformed JSON → 400 `invalid_json`,
//! missing or mistyped fields → 400 `invalid_request` naming the field.
//! `OptionalJson<T>` is the same for routes whose body may be left out altogether.

use super::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(unsupported_media_type());
        }
        let body = read(request, state).await?;
        parse(&body).map(ApiJson)
    }
}

/// A JSON body that may be left out: no body at all is `T::default()`; any body is
/// checked like [`ApiJson`].
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(request.headers());
        let body = read(request, state).await?;
        if body.is_empty() {
            return Ok(Self(T::default()));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        parse(&body).map(OptionalJson)
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as `Content-Type: application/json`",
    )
}

/// The whole body, within the router's `DefaultBodyLimit` (gateway.max_body_bytes).
async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is too large",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "the request body could not be read",
                )
            }
        })
}

pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        Category::Data => ApiError::invalid_request(format!("invalid request body: {error}")),
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {error}"),
        ),
    })
}

/// `application/json` or any `application/*+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        password: String,
    }

    #[test]
    fn content_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn syntax_and_shape_errors_are_told_apart() {
        let error = parse::<Login>(b"{\"username\":").unwrap_err();
        assert_eq!(error.code, "invalid_json");
        let error = parse::<Login>(b"{\"username\":\"a\"}").unwrap_err();
        assert_eq!(error.code, "invalid_request");
        assert!(error.message.contains("password"), "{}", error.message);
        let error = parse::<Login>(b"{\"username\":1,\"password\":\"p\"}").unwrap_err();
        assert_eq!(error.code, "invalid_request");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }
}
