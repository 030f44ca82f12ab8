//! Human text with bounds: group names, remarks, request messages, announcements, and
//! the file id of an avatar.

use super::ValidationError;

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Control characters other than newlines and tabs.
fn has_bad_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A group's name: 1 to 64 characters once trimmed, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if (1..=64).contains(&chars(text)) && !text.chars().any(char::is_control) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::GroupName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The private name a user gives a contact: at most 64 characters, on one line; empty
/// clears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remark(String);

impl Remark {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if chars(text) <= 64 && !text.chars().any(char::is_control) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Remark)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The note sent with a friend or join request: at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMessage(String);

impl RequestMessage {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if chars(text) <= 200 && !has_bad_control(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::RequestMessage)
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A group's announcement: at most 2000 characters, several lines allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement(String);

impl Announcement {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if chars(text) <= 2000 && !has_bad_control(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Announcement)
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The file service's id of a group avatar; empty means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarFileId(String);

impl AvatarFileId {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::AvatarFileId)
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(GroupName::parse("  Team  ").unwrap().as_str(), "Team");
        assert!(GroupName::parse(&"群".repeat(64)).is_ok());
        for bad in ["", "   ", "two\nlines", &"群".repeat(65)] {
            assert_eq!(GroupName::parse(bad), Err(ValidationError::GroupName));
        }
    }

    #[test]
    fn remarks_messages_and_announcements_have_their_bounds() {
        assert_eq!(Remark::parse("").unwrap().as_str(), "");
        assert!(Remark::parse(&"r".repeat(65)).is_err());
        assert!(RequestMessage::parse(&"m".repeat(200)).is_ok());
        assert!(RequestMessage::parse(&"m".repeat(201)).is_err());
        assert!(RequestMessage::parse("line one\nline two").is_ok());
        assert!(RequestMessage::parse("bell\u{7}").is_err());
        assert!(Announcement::parse(&"a".repeat(2000)).is_ok());
        assert!(Announcement::parse(&"a".repeat(2001)).is_err());
        assert!(AvatarFileId::parse("").is_ok());
        assert!(AvatarFileId::parse("file 1").is_err());
    }
}
