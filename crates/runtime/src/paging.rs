//! Keyset paging: a page continues after the last key of the previous one, carried to
//! the client as an opaque cursor (URL-safe base64 of the key).
//!
//! Pure and storage-free: a use case turns the client's [`PageRequest`] into a
//! [`Keyset`], asks its store for [`Keyset::fetch`] rows after [`Keyset::after`], and
//! builds the reply with [`Paged::from_rows`]. Services map [`InvalidCursor`] into their
//! own error type (a 400 `invalid_cursor` at the edge).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// Keys are ids, usernames or `time:id`; anything longer was not made by us.
const MAX_CURSOR_CHARS: usize = 256;

/// A cursor that no page of ours handed out (or was tampered with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the page cursor is not valid")]
pub struct InvalidCursor;

/// A page as asked: `limit` 0 means the default, an empty cursor the first page.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: String,
}

/// A parsed page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub limit: u64,
    /// The last key of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// The limit clamped to `1..=100` (0 means 20) and the cursor decoded back to a key.
    pub fn keyset(&self) -> Result<Keyset, InvalidCursor> {
        let limit = match self.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let after = if self.cursor.is_empty() {
            None
        } else {
            // Checked before decoding so a huge cursor costs nothing.
            if self.cursor.len() > MAX_CURSOR_CHARS {
                return Err(InvalidCursor);
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(&self.cursor)
                .map_err(|_| InvalidCursor)?;
            Some(String::from_utf8(bytes).map_err(|_| InvalidCursor)?)
        };
        Ok(Keyset {
            limit: u64::from(limit),
            after,
        })
    }
}

impl Keyset {
    /// Rows to fetch: one more than the page tells whether another page exists.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    /// The key split as `time:id`, for pages ordered by time then id. The split is at
    /// the first colon, so ids may contain colons.
    pub fn timed(&self) -> Result<Option<(i64, &str)>, InvalidCursor> {
        let Some(after) = &self.after else {
            return Ok(None);
        };
        let (time, id) = after.split_once(':').ok_or(InvalidCursor)?;
        let time = time.parse().map_err(|_| InvalidCursor)?;
        Ok(Some((time, id)))
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
    pub fn from_rows(mut rows: Vec<T>, keyset: &Keyset, key: impl Fn(&T) -> String) -> Self {
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
        assert_eq!(request(7, "").keyset().unwrap().fetch(), 8);
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
            assert_eq!(request(1, bad).keyset(), Err(InvalidCursor));
        }
        // valid base64 that is not UTF-8
        let not_utf8 = URL_SAFE_NO_PAD.encode([0xff, 0xfe]);
        assert_eq!(request(1, &not_utf8).keyset(), Err(InvalidCursor));
    }

    #[test]
    fn timed_keys_split_at_the_first_colon() {
        let keyset = Keyset {
            limit: 1,
            after: Some("123:conv:1".into()),
        };
        assert_eq!(keyset.timed().unwrap(), Some((123, "conv:1")));
        let first = Keyset {
            limit: 1,
            after: None,
        };
        assert_eq!(first.timed().unwrap(), None);
        for bad in ["x:conv", "no-colon"] {
            let keyset = Keyset {
                limit: 1,
                after: Some(bad.into()),
            };
            assert_eq!(keyset.timed(), Err(InvalidCursor));
        }
    }
}
