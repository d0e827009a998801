//! What one parsed SSE event means to `listen`: a real event to print and resume after, a
//! control event a person must see (`reset`, `gap`), or nothing (`connected`).

use eventsource_stream::Event;
use serde_json::Value;

/// One event of the stream, classified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A real event: print its envelope, resume after its id.
    Event { id: String, envelope: String },
    /// `reset` or `gap`: print this JSON line, keep the last id.
    Notice(String),
    /// `connected`, or an event without an id that this client does not know.
    Ignored { event: String },
}

/// Classifies the events of one connection; make a new one per connection.
///
/// eventsource-stream keeps the last `id:` seen and stamps it on the events after it (the
/// HTML spec's last-event-id buffer), so a control event right after event 7 arrives with
/// id `7`. Server ids strictly increase, so an event carried its own `id:` line exactly
/// when its id is non-empty and differs from the previous event's on this connection.
#[derive(Debug, Default)]
pub(crate) struct Classifier {
    previous_id: String,
}

impl Classifier {
    pub(crate) fn classify(&mut self, event: Event) -> Incoming {
        let has_own_id = !event.id.is_empty() && event.id != self.previous_id;
        self.previous_id.clone_from(&event.id);
        if has_own_id {
            return Incoming::Event {
                id: event.id,
                envelope: event.data,
            };
        }
        match event.event.as_str() {
            "reset" | "gap" => Incoming::Notice(notice(&event.event, &event.data)),
            _ => Incoming::Ignored { event: event.event },
        }
    }
}

/// `{"event":NAME,"data":DATA}` on one line, the shape of the `connected` event's data, so
/// a reader of the output can tell a notice from an envelope by its lack of `id`.
fn notice(name: &str, data: &str) -> String {
    let data = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
    serde_json::json!({ "event": name, "data": data }).to_string()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use eventsource_stream::Eventsource;
    use futures_util::StreamExt;
    use taskhub_core::frame::{self, EventFrame};
    use taskhub_core::{EventId, EventType, Topic};

    use super::*;

    /// An event as the server frames it (taskhub-core's own encoder), and its envelope.
    fn server_frame(id: u64) -> (EventFrame, String) {
        let envelope = format!(
            r#"{{"id":"{id}","event":"task_updated","topic":"tasks/42","data":{{"task_id":"42"}},"timestamp":"2026-11-24T12:00:00.123Z"}}"#
        );
        let event_type = EventType::parse("task_updated").expect("valid type");
        let topic = Topic::parse("tasks/42").expect("valid topic");
        let frame = EventFrame::new(EventId::new(id), event_type, Some(topic), false, &envelope);
        (frame, envelope)
    }

    #[tokio::test]
    async fn tells_real_events_from_control_events_on_the_servers_wire_format() {
        let ((one, one_envelope), (two, two_envelope)) = (server_frame(1), server_frame(2));
        let wire: Vec<Result<_, Infallible>> = vec![
            Ok(frame::preamble(3000, "c1", true)),
            Ok(frame::KEEPALIVE.into()),
            Ok(one.typed()),
            Ok(frame::reset("0", true)),
            Ok(two.typed()),
            Ok(frame::gap(EventId::new(3), EventId::new(5), true)),
        ];
        let events: Vec<_> = futures_util::stream::iter(wire)
            .eventsource()
            .collect()
            .await;
        let mut classifier = Classifier::default();
        let got: Vec<_> = events
            .into_iter()
            .map(|event| classifier.classify(event.expect("valid SSE")))
            .collect();
        let event = |id: &str, envelope: String| Incoming::Event {
            id: id.to_owned(),
            envelope,
        };
        assert_eq!(
            got,
            [
                Incoming::Ignored {
                    event: "connected".to_owned()
                },
                event("1", one_envelope),
                Incoming::Notice(
                    r#"{"event":"reset","data":{"reason":"history_unavailable","last_event_id":"0"}}"#
                        .to_owned()
                ),
                event("2", two_envelope),
                Incoming::Notice(
                    r#"{"event":"gap","data":{"reason":"slow_consumer","first_dropped_id":"3","last_dropped_id":"5"}}"#
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_notice_whose_data_is_not_json_still_prints_as_one_json_line() {
        assert_eq!(notice("gap", "x\"y"), r#"{"event":"gap","data":"x\"y"}"#);
    }
}
