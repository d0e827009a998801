//! The fields of a Mercure publish, parsed, and what a stored event keeps of them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::{ParseTextError, check_line};

/// An update's id, as the publisher gave it or as the hub generated it: what `id:`
/// carries on a Mercure stream and what a subscriber resumes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UpdateId(Box<str>);

impl UpdateId {
    /// The longest id accepted, in bytes.
    pub const MAX_BYTES: usize = 1024;

    /// Parses a publisher's id. `#…` ids are the hub's own (native events appear to
    /// Mercure subscribers as `#<event id>`) and `earliest` asks for the whole history,
    /// so neither may be an update's id.
    pub fn parse(value: &str) -> Result<Self, ParseTextError> {
        check_line(value, Self::MAX_BYTES)?;
        if value.starts_with('#') {
            return Err(ParseTextError::Reserved(
                "ids starting with `#` are the hub's own",
            ));
        }
        if value == "earliest" {
            return Err(ParseTextError::Reserved(
                "`earliest` is reserved: it asks for the whole history",
            ));
        }
        Ok(Self(value.into()))
    }

    /// A `urn:uuid:` id holding a UUIDv7 (RFC 9562) of `unix_millis` and 74 random bits.
    pub fn uuid_v7(unix_millis: u64, random: [u8; 10]) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&unix_millis.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&random);
        Self::urn_uuid(bytes, 7)
    }

    /// A `urn:uuid:` id holding a UUIDv8 (RFC 9562's custom version) of `digest`'s bits:
    /// the same digest always names the same update.
    pub fn uuid_v8(digest: [u8; 16]) -> Self {
        Self::urn_uuid(digest, 8)
    }

    fn urn_uuid(mut bytes: [u8; 16], version: u8) -> Self {
        bytes[6] = (version << 4) | (bytes[6] & 0x0f);
        bytes[8] = 0x80 | (bytes[8] & 0x3f); // variant 10
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(
            format!(
                "urn:uuid:{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            )
            .into(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A topic of a Mercure update: any string without control characters, up to 4096
/// bytes (IRIs are recommended, not required).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MercureTopic(Box<str>);

impl MercureTopic {
    /// The longest topic accepted, in bytes.
    pub const MAX_BYTES: usize = 4096;

    pub fn parse(value: &str) -> Result<Self, ParseTextError> {
        check_line(value, Self::MAX_BYTES)?;
        Ok(Self(value.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SSE `event:` of an update (Mercure's `type` field).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UpdateType(Box<str>);

impl UpdateType {
    /// The longest type accepted, in bytes.
    pub const MAX_BYTES: usize = 256;

    pub fn parse(value: &str) -> Result<Self, ParseTextError> {
        check_line(value, Self::MAX_BYTES)?;
        Ok(Self(value.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = ParseTextError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.into()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

string_conversions!(UpdateId, MercureTopic, UpdateType);

/// What an event published through Mercure carries beyond TaskHub's envelope. The
/// envelope's `data` holds the update's data as a JSON string, for native subscribers;
/// `data` here is the same text as published, for Mercure subscribers, so writing an update
/// to a Mercure stream never parses the envelope back. Engines store everything but `data`
/// beside the envelope (`stored`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MercureFields {
    pub id: UpdateId,
    /// Every topic, the canonical one first; never empty.
    pub topics: Vec<MercureTopic>,
    pub update_type: Option<UpdateType>,
    /// The SSE `retry:` the publisher asked for, in milliseconds.
    pub retry: Option<u64>,
    /// The update's data as published.
    pub data: Box<str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_what_publishers_send_but_not_what_the_hub_reserves() {
        assert_eq!(
            UpdateId::parse("id-[\"x\"]").map(|id| id.to_string()),
            Ok("id-[\"x\"]".to_owned())
        );
        assert!(UpdateId::parse("#3").is_err());
        assert!(UpdateId::parse("earliest").is_err());
        assert!(UpdateId::parse("a\nid: 1").is_err());
        assert!(UpdateId::parse("").is_err());
        assert!(UpdateId::parse(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn generated_ids_are_uuid_v7_urns() {
        let id = UpdateId::uuid_v7(0x0190_f2a4_b3c1, [0xff; 10]);
        assert_eq!(id.as_str(), "urn:uuid:0190f2a4-b3c1-7fff-bfff-ffffffffffff");
        let id = UpdateId::uuid_v7(1, [0; 10]);
        assert_eq!(id.as_str(), "urn:uuid:00000000-0001-7000-8000-000000000000");
        let id = UpdateId::uuid_v8([0xff; 16]);
        assert_eq!(id.as_str(), "urn:uuid:ffffffff-ffff-8fff-bfff-ffffffffffff");
    }
}
