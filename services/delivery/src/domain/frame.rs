//! A WebSocket frame as delivery hands it to gateways: its type and its `data` as JSON
//! text. Frames made from events are trusted; frames callers ask for are checked here.

use super::ValidationError;

/// The largest `data` a caller may ask to push.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// The longest frame type accepted from a caller.
const MAX_TYPE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    frame_type: String,
    data_json: String,
}

impl Frame {
    /// A frame this service made from an event: the type is one of its constants and the
    /// data was serialized by it.
    pub fn new(frame_type: impl Into<String>, data_json: String) -> Self {
        Self {
            frame_type: frame_type.into(),
            data_json,
        }
    }

    /// A frame a caller asks for: a well-formed type and a bounded JSON object as data.
    pub fn parse(frame_type: &str, data_json: &str) -> Result<Self, ValidationError> {
        let well_formed = frame_type.len() <= MAX_TYPE_LEN
            && frame_type
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase())
            && frame_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !well_formed {
            return Err(ValidationError::EventType);
        }
        if data_json.len() > MAX_PAYLOAD_BYTES {
            return Err(ValidationError::PayloadTooLarge {
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let is_object = serde_json::from_str::<serde_json::Value>(data_json)
            .is_ok_and(|value| value.is_object());
        if !is_object {
            return Err(ValidationError::Payload);
        }
        Ok(Self::new(frame_type, data_json.to_owned()))
    }

    pub fn frame_type(&self) -> &str {
        &self.frame_type
    }

    pub fn data_json(&self) -> &str {
        &self.data_json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_frames_are_checked() {
        assert!(Frame::parse("typing", r#"{"conversation_id":"c1"}"#).is_ok());
        assert!(Frame::parse("call.ice_candidate-2", "{}").is_ok());
        for bad in ["", "Typing", "1typing", "typ ing", &"t".repeat(65)] {
            assert_eq!(
                Frame::parse(bad, "{}"),
                Err(ValidationError::EventType),
                "{bad:?}"
            );
        }
        for bad in ["", "[]", "\"text\"", "{not json"] {
            assert_eq!(
                Frame::parse("typing", bad),
                Err(ValidationError::Payload),
                "{bad:?}"
            );
        }
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(
            Frame::parse("typing", &big),
            Err(ValidationError::PayloadTooLarge { .. })
        ));
    }
}
