//! Path and query parameters, refused as API errors (400) rather than axum's plain text:
//! ids in paths, and the `limit` / `cursor` paging of list routes; plus the checks of
//! body values every route shares (ids, id lists, text sizes, times).

use super::ApiError;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use im_contracts::v1::Page;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

/// Longest id accepted in a path: ids are opaque, but never this long.
const MAX_ID_CHARS: usize = 128;
/// Longest cursor accepted: cursors are opaque tokens made by the server.
const MAX_CURSOR_CHARS: usize = 512;
/// Longest search text.
const MAX_QUERY_CHARS: usize = 128;
pub const MAX_LIMIT: u32 = 100;

/// The one `{id}` of a route's path.
pub struct PathId(pub String);

fn invalid_id(why: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", why)
}

/// An opaque id as accepted anywhere (path, query or body): 1 to 128 characters, no
/// control characters.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(invalid_id("an id is 1 to 128 characters long"));
    }
    if id.chars().any(char::is_control) {
        return Err(invalid_id("an id contains no control characters"));
    }
    Ok(())
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid_id("the id in the path is not valid"))?;
        check_id(&id)?;
        Ok(Self(id))
    }
}

/// A list of user ids in a body: at most `max`, each a valid id.
pub fn check_ids(ids: &[String], max: usize) -> Result<(), ApiError> {
    if ids.len() > max {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_many_users",
            format!("at most {max} user ids at once"),
        ));
    }
    ids.iter().try_for_each(|id| check_id(id))
}

/// Text whose exact bounds are the service's to enforce, refused here only when it is
/// beyond any reason (`max_chars`), with the code the service would use.
pub fn check_text(text: &str, max_chars: usize, code: &'static str) -> Result<(), ApiError> {
    if text.chars().count() > max_chars {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// An RFC 3339 time (`2030-01-02T03:04:05Z`, any offset) given in `field`.
pub fn parse_time(text: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_time",
                format!("{field} is not an RFC 3339 time such as 2030-01-02T03:04:05Z"),
            )
        })
}

/// The `{first}/…/{second}` pair of a route with two path parameters, each checked
/// like a [`PathId`].
pub struct PathPair(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathPair {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((first, second)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid_id("the ids in the path are not valid"))?;
        check_id(&first)?;
        check_id(&second)?;
        Ok(Self(first, second))
    }
}

/// Query parameters deserialized into `T`; refusals are 400 `invalid_request`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::invalid_request(rejection.body_text()))
    }
}

/// `?limit=&cursor=` of a list route.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100; the server's default when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
}

/// `?q=&limit=&cursor=` of a search route.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Prefix of a username or display name; everyone when absent.
    pub q: Option<String>,
    /// Items per page, 1 to 100; the server's default when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The paging input of the services' list calls.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match self.limit {
            None => 0,
            Some(limit @ 1..=MAX_LIMIT) => limit,
            Some(_) => return Err(ApiError::invalid_request("limit must be between 1 and 100")),
        };
        let cursor = self.cursor.clone().unwrap_or_default();
        // Cursors are made by the server: short, printable ASCII.
        if cursor.len() > MAX_CURSOR_CHARS || !cursor.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid_request("the cursor is not valid"));
        }
        Ok(Page { limit, cursor })
    }
}

impl SearchQuery {
    /// The search text (empty for all) and the page.
    pub fn prefix_and_page(self) -> Result<(String, Page), ApiError> {
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        }
        .page()?;
        let prefix = self.q.unwrap_or_default().trim().to_owned();
        if prefix.chars().count() > MAX_QUERY_CHARS || prefix.chars().any(char::is_control) {
            return Err(ApiError::invalid_request(
                "q is at most 128 printable characters long",
            ));
        }
        Ok((prefix, page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_1_to_100_are_refused() {
        for (limit, ok) in [
            (None, true),
            (Some(1), true),
            (Some(100), true),
            (Some(0), false),
            (Some(101), false),
        ] {
            let query = PageQuery {
                limit,
                cursor: None,
            };
            assert_eq!(query.page().is_ok(), ok, "{limit:?}");
        }
    }

    #[test]
    fn times_are_rfc3339_with_any_offset() {
        let time = parse_time("2030-01-02T04:04:05+01:00", "t").unwrap();
        assert_eq!(time.to_rfc3339(), "2030-01-02T03:04:05+00:00");
        for bad in [
            "",
            "tomorrow",
            "2030-01-02",
            "2030-01-02 03:04:05",
            "1700000000",
        ] {
            assert_eq!(
                parse_time(bad, "t").unwrap_err().code,
                "invalid_time",
                "{bad}"
            );
        }
    }

    #[test]
    fn id_lists_are_bounded() {
        let ids = vec!["u".to_owned(); 3];
        assert!(check_ids(&ids, 3).is_ok());
        assert_eq!(check_ids(&ids, 2).unwrap_err().code, "too_many_users");
        assert_eq!(
            check_ids(&["".to_owned()], 3).unwrap_err().code,
            "invalid_id"
        );
    }

    #[test]
    fn cursors_are_printable_ascii() {
        let page = |cursor: &str| {
            PageQuery {
                limit: None,
                cursor: Some(cursor.to_owned()),
            }
            .page()
        };
        assert_eq!(page("eyJpZCI6MX0").unwrap().cursor, "eyJpZCI6MX0");
        assert!(page("\u{FFFD}\u{FFFD}").is_err());
        assert!(page("a b").is_err());
        assert!(page(&"c".repeat(513)).is_err());
    }
}
