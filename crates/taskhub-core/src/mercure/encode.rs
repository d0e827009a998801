//! A committed event as a Mercure stream writes it (draft-07), built once per event by the
//! first Mercure subscriber (`EventFrame::mercure`) and shared by the rest.
//!
//! An update is its own id, `event:` only when it has a type, `retry:` when it asked for
//! one, and its data one `data:` line per line. A native event is `id: #<id>` and its
//! envelope as the data, with no `event:` line, so `onmessage` receives it (the envelope
//! names its type). Every value but the data is a single line by construction (the
//! validators refuse control characters), and the data is split at every line break.

use bytes::{BufMut, Bytes, BytesMut};

use super::fields::MercureFields;
use super::resume::native_id;
use crate::EventId;

/// The event with id `id` and envelope `envelope`, or the update `fields` describe.
pub(crate) fn event(id: EventId, envelope: &str, fields: Option<&MercureFields>) -> Bytes {
    match fields {
        Some(fields) => update(fields),
        None => native(id, envelope),
    }
}

fn native(id: EventId, envelope: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(envelope.len() + 32);
    put_line(&mut buf, "id: ", &native_id(id));
    put_line(&mut buf, "data: ", envelope);
    buf.put_u8(b'\n');
    buf.freeze()
}

fn update(fields: &MercureFields) -> Bytes {
    let mut buf = BytesMut::with_capacity(fields.data.len() + fields.id.as_str().len() + 64);
    put_line(&mut buf, "id: ", fields.id.as_str());
    if let Some(update_type) = &fields.update_type {
        put_line(&mut buf, "event: ", update_type.as_str());
    }
    if let Some(retry) = fields.retry {
        put_line(&mut buf, "retry: ", &retry.to_string());
    }
    for line in lines(&fields.data) {
        put_line(&mut buf, "data: ", line);
    }
    buf.put_u8(b'\n');
    buf.freeze()
}

fn put_line(buf: &mut BytesMut, field: &str, value: &str) {
    buf.put_slice(field.as_bytes());
    buf.put_slice(value.as_bytes());
    buf.put_u8(b'\n');
}

/// `text` split at every `\r\n`, `\r` and `\n`, as an SSE parser splits lines; empty
/// lines are kept, so the subscriber rebuilds the data exactly (line ends become `\n`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mercure::{MercureTopic, UpdateId, UpdateType};

    fn fields(data: &str) -> MercureFields {
        MercureFields {
            id: UpdateId::parse("id-[\"x\"]").expect("valid"),
            topics: vec![MercureTopic::parse("https://a/1").expect("valid")],
            update_type: None,
            retry: None,
            data: data.into(),
        }
    }

    #[test]
    fn an_update_writes_its_data_one_line_per_line_whatever_the_envelope() {
        let update = MercureFields {
            update_type: Some(UpdateType::parse("note").expect("valid")),
            retry: Some(7000),
            ..fields("one\r\ntwo\n\nthree\rfour\n")
        };
        // The envelope is the native subscribers' business: an update never reads it.
        assert_eq!(
            event(EventId::new(3), "not read", Some(&update)),
            "id: id-[\"x\"]\nevent: note\nretry: 7000\ndata: one\ndata: two\ndata: \n\
             data: three\ndata: four\ndata: \n\n"
        );
        assert_eq!(
            event(EventId::new(3), "", Some(&fields(""))),
            "id: id-[\"x\"]\ndata: \n\n"
        );
    }

    #[test]
    fn a_native_event_is_its_hash_id_and_envelope() {
        assert_eq!(
            event(EventId::new(17), r#"{"id":"17"}"#, None),
            "id: #17\ndata: {\"id\":\"17\"}\n\n"
        );
    }

    #[test]
    fn lines_split_as_an_sse_parser_does() {
        assert_eq!(lines("").collect::<Vec<_>>(), [""]);
        assert_eq!(lines("a").collect::<Vec<_>>(), ["a"]);
        assert_eq!(lines("a\r\n\rb\n").collect::<Vec<_>>(), ["a", "", "b", ""]);
    }
}
