//! Message types and their bodies. A client-made body is JSON checked against its type's
//! shape and bounds, then kept in a canonical form (compact, keys sorted); `system` and
//! `call` bodies are made by the server only.

use super::ValidationError;
use serde_json::{Map, Value};

/// The most JSON a client may send as a body, before it is even parsed.
pub const MAX_RAW_BODY_BYTES: usize = 64 * 1024;
/// The longest text message, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// The largest custom body, canonical JSON bytes.
pub const MAX_CUSTOM_BYTES: usize = 8 * 1024;
/// The largest file a media message may announce.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// The widest or tallest image or video, in pixels.
pub const MAX_PIXELS: u64 = 32_768;
/// The longest video.
pub const MAX_VIDEO_MS: u64 = 24 * 60 * 60 * 1000;
/// The longest voice message.
pub const MAX_VOICE_MS: u64 = 60 * 60 * 1000;
const MAX_FILE_NAME_CHARS: usize = 255;
const MAX_MIME_LEN: usize = 127;
const MAX_FILE_ID_LEN: usize = 128;

/// What a message body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Text,
    Image,
    File,
    Video,
    Voice,
    Custom,
    /// Made by the server: membership and group changes.
    System,
    /// Made by the server: call records.
    Call,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::File => "file",
            Self::Video => "video",
            Self::Voice => "voice",
            Self::Custom => "custom",
            Self::System => "system",
            Self::Call => "call",
        }
    }

    pub fn from_stored(text: &str) -> Self {
        match text {
            "image" => Self::Image,
            "file" => Self::File,
            "video" => Self::Video,
            "voice" => Self::Voice,
            "custom" => Self::Custom,
            "system" => Self::System,
            "call" => Self::Call,
            _ => Self::Text,
        }
    }

    /// Whether clients may send messages of this type.
    pub fn is_client_made(self) -> bool {
        !matches!(self, Self::System | Self::Call)
    }
}

/// A message body: canonical JSON, or empty once the message is recalled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body(String);

impl Body {
    /// Checks a client-made body of `kind`.
    pub fn parse(kind: MessageType, json: &str) -> Result<Self, ValidationError> {
        if !kind.is_client_made() {
            return Err(ValidationError::TypeNotAllowed);
        }
        if json.len() > MAX_RAW_BODY_BYTES {
            return Err(ValidationError::BodyTooLarge("at most 64 KiB of JSON"));
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|error| invalid(format!("the body is not JSON ({error})")))?;
        let Value::Object(fields) = value else {
            return Err(invalid("the body must be a JSON object"));
        };
        match kind {
            MessageType::Text => check_text(&fields)?,
            MessageType::Image | MessageType::File | MessageType::Video | MessageType::Voice => {
                check_media(kind, &fields)?
            }
            MessageType::Custom | MessageType::System | MessageType::Call => {}
        }
        let canonical = Value::Object(fields).to_string();
        if kind == MessageType::Custom && canonical.len() > MAX_CUSTOM_BYTES {
            return Err(ValidationError::BodyTooLarge(
                "a custom body is at most 8 KiB",
            ));
        }
        Ok(Self(canonical))
    }

    /// A body the server made (already canonical JSON).
    pub fn server_made(value: &Value) -> Self {
        Self(value.to_string())
    }

    /// A body read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn invalid(reason: impl Into<String>) -> ValidationError {
    ValidationError::InvalidBody(reason.into())
}

/// Control characters other than line breaks and tabs.
fn has_bad_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

fn only_fields(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), ValidationError> {
    match fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(invalid(format!(
            "unknown field '{}' (allowed: {})",
            key.chars().take(64).collect::<String>(),
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// `{"text": "..."}`: 1 to 4000 characters, not blank.
fn check_text(fields: &Map<String, Value>) -> Result<(), ValidationError> {
    only_fields(fields, &["text"])?;
    let Some(Value::String(text)) = fields.get("text") else {
        return Err(invalid("a text body is {\"text\": \"...\"}"));
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ValidationError::BodyTooLarge(
            "a text is at most 4000 characters",
        ));
    }
    if text.trim().is_empty() {
        return Err(invalid("'text' must not be blank"));
    }
    if has_bad_control(text) {
        return Err(invalid("'text' must not contain control characters"));
    }
    Ok(())
}

/// `{"file_id": "...", ...metadata}` with the metadata its type allows.
fn check_media(kind: MessageType, fields: &Map<String, Value>) -> Result<(), ValidationError> {
    let allowed: &[&str] = match kind {
        MessageType::Image => &[
            "file_id",
            "size",
            "mime",
            "name",
            "width",
            "height",
            "thumbnail_file_id",
        ],
        MessageType::Video => &[
            "file_id",
            "size",
            "mime",
            "name",
            "width",
            "height",
            "duration_ms",
            "thumbnail_file_id",
        ],
        MessageType::Voice => &["file_id", "size", "mime", "name", "duration_ms"],
        _ => &["file_id", "size", "mime", "name"],
    };
    only_fields(fields, allowed)?;
    match fields.get("file_id") {
        Some(value) => file_id("file_id", value)?,
        None => return Err(invalid("a media body needs 'file_id'")),
    }
    if let Some(value) = fields.get("thumbnail_file_id") {
        file_id("thumbnail_file_id", value)?;
    }
    if let Some(value) = fields.get("size") {
        bounded("size", value, MAX_FILE_BYTES)?;
    }
    if let Some(value) = fields.get("width") {
        bounded("width", value, MAX_PIXELS)?;
    }
    if let Some(value) = fields.get("height") {
        bounded("height", value, MAX_PIXELS)?;
    }
    if let Some(value) = fields.get("duration_ms") {
        let max = if kind == MessageType::Voice {
            MAX_VOICE_MS
        } else {
            MAX_VIDEO_MS
        };
        bounded("duration_ms", value, max)?;
    }
    if let Some(value) = fields.get("mime") {
        mime(value)?;
    }
    if let Some(value) = fields.get("name") {
        file_name(value)?;
    }
    Ok(())
}

fn file_id(field: &str, value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::String(id)
            if (1..=MAX_FILE_ID_LEN).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(())
        }
        _ => Err(invalid(format!(
            "'{field}' is 1 to 128 printable ASCII characters"
        ))),
    }
}

/// A whole number from 1 to `max`.
fn bounded(field: &str, value: &Value, max: u64) -> Result<(), ValidationError> {
    match value.as_u64() {
        Some(n) if (1..=max).contains(&n) => Ok(()),
        _ => Err(invalid(format!(
            "'{field}' is a whole number from 1 to {max}"
        ))),
    }
}

/// `type/subtype`, printable ASCII.
fn mime(value: &Value) -> Result<(), ValidationError> {
    let ok = value.as_str().is_some_and(|mime| {
        mime.len() <= MAX_MIME_LEN
            && mime.bytes().all(|b| b.is_ascii_graphic())
            && mime
                .split_once('/')
                .is_some_and(|(top, sub)| !top.is_empty() && !sub.is_empty() && !sub.contains('/'))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid("'mime' is a media type such as image/png"))
    }
}

fn file_name(value: &Value) -> Result<(), ValidationError> {
    let ok = value.as_str().is_some_and(|name| {
        (1..=MAX_FILE_NAME_CHARS).contains(&name.chars().count())
            && !name.chars().any(char::is_control)
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "'name' is 1 to 255 characters without control characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: MessageType, json: &str) -> Result<String, ValidationError> {
        Body::parse(kind, json).map(|body| body.as_str().to_owned())
    }

    fn is_invalid(result: Result<String, ValidationError>) -> bool {
        matches!(result, Err(ValidationError::InvalidBody(_)))
    }

    fn is_too_large(result: Result<String, ValidationError>) -> bool {
        matches!(result, Err(ValidationError::BodyTooLarge(_)))
    }

    #[test]
    fn text_is_one_to_4000_characters() {
        assert_eq!(
            parse(MessageType::Text, r#"{ "text" : "hi 🚀" }"#).unwrap(),
            r#"{"text":"hi 🚀"}"#
        );
        let longest = format!(r#"{{"text":"{}"}}"#, "é".repeat(MAX_TEXT_CHARS));
        assert!(parse(MessageType::Text, &longest).is_ok());
        let too_long = format!(r#"{{"text":"{}"}}"#, "é".repeat(MAX_TEXT_CHARS + 1));
        assert!(is_too_large(parse(MessageType::Text, &too_long)));
        for bad in [
            "",
            "hi",
            "[]",
            r#"{"text":""}"#,
            r#"{"text":"   "}"#,
            r#"{"text":1}"#,
            r#"{"text":"a","extra":1}"#,
            r#"{"text":"a\u0000b"}"#,
        ] {
            assert!(is_invalid(parse(MessageType::Text, bad)), "{bad}");
        }
        assert!(parse(MessageType::Text, r#"{"text":"line\nline"}"#).is_ok());
    }

    #[test]
    fn media_needs_a_file_id_and_sane_metadata() {
        let image = r#"{"file_id":"f1","size":1024,"mime":"image/png","width":640,"height":480}"#;
        assert!(parse(MessageType::Image, image).is_ok());
        assert!(parse(MessageType::File, r#"{"file_id":"f1","name":"report.pdf"}"#).is_ok());
        assert!(parse(MessageType::Voice, r#"{"file_id":"f1","duration_ms":3000}"#).is_ok());
        assert!(
            parse(
                MessageType::Video,
                r#"{"file_id":"f1","duration_ms":60000,"width":1920,"height":1080}"#
            )
            .is_ok()
        );
        for (kind, bad) in [
            (MessageType::Image, r#"{"size":1}"#),
            (MessageType::Image, r#"{"file_id":""}"#),
            (MessageType::Image, r#"{"file_id":"f 1"}"#),
            (MessageType::Image, r#"{"file_id":"f1","width":0}"#),
            (MessageType::Image, r#"{"file_id":"f1","width":40000}"#),
            (MessageType::Image, r#"{"file_id":"f1","size":-1}"#),
            (MessageType::Image, r#"{"file_id":"f1","size":1.5}"#),
            (MessageType::Image, r#"{"file_id":"f1","duration_ms":5}"#),
            (MessageType::File, r#"{"file_id":"f1","mime":"pdf"}"#),
            (MessageType::File, r#"{"file_id":"f1","name":""}"#),
            (
                MessageType::Voice,
                r#"{"file_id":"f1","duration_ms":3600001}"#,
            ),
            (MessageType::Voice, r#"{"file_id":"f1","width":10}"#),
        ] {
            assert!(is_invalid(parse(kind, bad)), "{kind:?} {bad}");
        }
    }

    #[test]
    fn custom_is_any_object_up_to_8_kib() {
        assert!(parse(MessageType::Custom, r#"{"card":{"title":"x"},"n":[1,2]}"#).is_ok());
        let big = format!(r#"{{"data":"{}"}}"#, "x".repeat(MAX_CUSTOM_BYTES));
        assert!(is_too_large(parse(MessageType::Custom, &big)));
        assert!(is_invalid(parse(MessageType::Custom, "[1]")));
        let huge = "x".repeat(MAX_RAW_BODY_BYTES + 1);
        assert!(is_too_large(parse(MessageType::Custom, &huge)));
    }

    #[test]
    fn server_made_types_are_refused_from_clients() {
        for kind in [MessageType::System, MessageType::Call] {
            assert_eq!(
                Body::parse(kind, r#"{"event":"x"}"#),
                Err(ValidationError::TypeNotAllowed)
            );
        }
    }
}
