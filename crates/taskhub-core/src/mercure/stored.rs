//! How an engine stores [`MercureFields`] beside an event's envelope: JSON of every field
//! but `data` (`{"id","topics","type"?,"retry"?}`), the format SQLite's `mercure` column and
//! a stream entry's `m` field have always held. The data is the envelope's (a JSON string),
//! so reading the fields back takes the envelope too and decodes that string once.

use serde::{Deserialize, Serialize};

use super::fields::{MercureFields, MercureTopic, UpdateId, UpdateType};

/// Why stored Mercure fields cannot be read back: the row or entry is not what TaskHub
/// writes.
#[derive(Debug, thiserror::Error)]
pub enum CorruptMercureFields {
    #[error("Mercure fields: {0}")]
    Fields(serde_json::Error),
    #[error("a Mercure update's envelope whose data is not a JSON string: {0}")]
    Data(serde_json::Error),
}

/// The stored fields, as written.
#[derive(Serialize)]
struct Written<'a> {
    id: &'a UpdateId,
    topics: &'a [MercureTopic],
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    update_type: Option<&'a UpdateType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<u64>,
}

/// The stored fields, as read (each value checked again as it is parsed).
#[derive(Deserialize)]
struct Read {
    id: UpdateId,
    topics: Vec<MercureTopic>,
    #[serde(rename = "type", default)]
    update_type: Option<UpdateType>,
    #[serde(default)]
    retry: Option<u64>,
}

/// The one member of an update's envelope the fields take back.
#[derive(Deserialize)]
struct Envelope {
    data: Box<str>,
}

impl MercureFields {
    /// The fields as an engine stores them beside the envelope.
    pub fn to_stored(&self) -> String {
        let written = Written {
            id: &self.id,
            topics: &self.topics,
            update_type: self.update_type.as_ref(),
            retry: self.retry,
        };
        serde_json::to_string(&written)
            .expect("strings, a list of strings and an integer always serialise to JSON")
    }

    /// The fields an engine stored with [`to_stored`](Self::to_stored), with the data of
    /// the event's `envelope`.
    pub fn from_stored(stored: &str, envelope: &str) -> Result<Self, CorruptMercureFields> {
        let Read {
            id,
            topics,
            update_type,
            retry,
        } = serde_json::from_str(stored).map_err(CorruptMercureFields::Fields)?;
        let Envelope { data } =
            serde_json::from_str(envelope).map_err(CorruptMercureFields::Data)?;
        Ok(Self {
            id,
            topics,
            update_type,
            retry,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> MercureFields {
        MercureFields {
            id: UpdateId::parse("urn:x").expect("valid"),
            topics: vec![MercureTopic::parse("https://example.com/a").expect("valid")],
            update_type: Some(UpdateType::parse("note").expect("valid")),
            retry: Some(5000),
            data: "line one\r\nline \"two\"".into(),
        }
    }

    #[test]
    fn the_stored_form_is_what_every_version_wrote_and_reads_back_with_the_envelope() {
        let fields = fields();
        let stored = fields.to_stored();
        assert_eq!(
            stored,
            r#"{"id":"urn:x","topics":["https://example.com/a"],"type":"note","retry":5000}"#
        );
        let envelope = r#"{"id":"4","event":"note","data":"line one\r\nline \"two\"","timestamp":"2026-11-24T12:00:00.123Z"}"#;
        assert_eq!(
            MercureFields::from_stored(&stored, envelope).expect("readable"),
            fields
        );
        // Without a type or retry, as an update published without them was stored.
        let bare = MercureFields::from_stored(
            r#"{"id":"u1","topics":["t"]}"#,
            r#"{"id":"1","event":"message","data":"","timestamp":"x"}"#,
        )
        .expect("readable");
        assert_eq!(
            (bare.update_type, bare.retry, &*bare.data),
            (None, None, "")
        );
    }

    #[test]
    fn what_taskhub_did_not_write_is_an_error_not_a_guess() {
        let stored = fields().to_stored();
        for envelope in [
            r#"{"id":"4","event":"note","data":{"a":1},"timestamp":"x"}"#,
            r#"{"id":"4","event":"note","timestamp":"x"}"#,
            "not JSON",
        ] {
            assert!(matches!(
                MercureFields::from_stored(&stored, envelope),
                Err(CorruptMercureFields::Data(_))
            ));
        }
        let envelope = r#"{"data":"x"}"#;
        for stored in [r#"{"id":"a\nb","topics":[]}"#, r#"{"topics":[]}"#, "[]"] {
            assert!(matches!(
                MercureFields::from_stored(stored, envelope),
                Err(CorruptMercureFields::Fields(_))
            ));
        }
    }
}
