//! Keyset paging: a page continues after the last key of the previous one, carried to
//! the client as an opaque cursor.

use super::{AppError, AppResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// Keys are ids or `time:id`; anything longer was not made by us.
const MAX_CURSOR_CHARS: usize = 256;

/// A page as asked: `limit` 0 means the default, an empty cursor the first page.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: String,
}

/// A parsed page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Keyset {
    pub limit: u64,
    /// The last key of the previous page.
    pub after: Option<String>,
}

impl Keyset {
    /// Rows to fetch: one more than the page tells whether another page exists.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    /// The key split as `time:id`, for pages ordered by time then id.
    pub fn timed(&self) -> AppResult<Option<(i64, &str)>> {
        let Some(after) = &self.after else {
            return Ok(None);
        };
        let (time, id) = after.split_once(':').ok_or(AppError::InvalidCursor)?;
        let time = time.parse().map_err(|_| AppError::InvalidCursor)?;
        Ok(Some((time, id)))
    }
}

impl PageRequest {
    pub(crate) fn keyset(&self) -> AppResult<Keyset> {
        let limit = match self.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let after = if self.cursor.is_empty() {
            None
        } else {
            if self.cursor.len() > MAX_CURSOR_CHARS {
                return Err(AppError::InvalidCursor);
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(&self.cursor)
                .map_err(|_| AppError::InvalidCursor)?;
            Some(String::from_utf8(bytes).map_err(|_| AppError::InvalidCursor)?)
        };
        Ok(Keyset {
            limit: u64::from(limit),
            after,
        })
    }
}

/// One page of results; `next_cursor` is set only when more remain.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// Builds a page from up to `limit + 1` rows fetched in key order: the extra row only
    /// tells that another page exists.
    pub(crate) fn from_rows(mut rows: Vec<T>, keyset: &Keyset, key: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(keyset.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| rows.last().map(|last| URL_SAFE_NO_PAD.encode(key(last))))
            .flatten();
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(limit: u32, cursor: &str) -> PageRequest {
        PageRequest {
            limit,
            cursor: cursor.into(),
        }
    }

    #[test]
    fn limits_default_and_are_capped() {
        assert_eq!(request(0, "").keyset().unwrap().limit, 20);
        assert_eq!(request(7, "").keyset().unwrap().limit, 7);
        assert_eq!(request(5000, "").keyset().unwrap().limit, 100);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let keyset = request(2, "").keyset().unwrap();
        let page = Paged::from_rows(vec!["a", "b", "c"], &keyset, |s| (*s).to_owned());
        assert_eq!(page.items, ["a", "b"]);
        let next = request(2, page.next_cursor.as_deref().unwrap());
        assert_eq!(next.keyset().unwrap().after.as_deref(), Some("b"));

        let last = Paged::from_rows(vec!["c"], &keyset, |s| (*s).to_owned());
        assert_eq!(last.next_cursor, None);

        for bad in ["%%%", "not base64!", &"A".repeat(300)] {
            assert!(matches!(
                request(1, bad).keyset(),
                Err(AppError::InvalidCursor)
            ));
        }
    }

    #[test]
    fn timed_keys_split_at_the_first_colon() {
        let keyset = Keyset {
            limit: 1,
            after: Some("123:conv:1".into()),
        };
        assert_eq!(keyset.timed().unwrap(), Some((123, "conv:1")));
        let bad = Keyset {
            limit: 1,
            after: Some("x:conv".into()),
        };
        assert!(matches!(bad.timed(), Err(AppError::InvalidCursor)));
    }
}
