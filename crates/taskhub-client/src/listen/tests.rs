//! `listen` against a scripted server: resuming, retry timing, refusals, cancellation.

use std::io;
use std::time::Instant;

use super::*;
use crate::test_server::{SSE_HEAD, accept, bind, response, send, within};

const CONNECTED: &str = "retry: 50\nevent: connected\ndata: {\"event\":\"connected\",\
                         \"data\":{\"message\":\"SSE connection established\",\"client_id\":\"c1\"}}\n\n";

fn envelope(id: u32) -> String {
    format!(
        r#"{{"id":"{id}","event":"task_updated","topic":"tasks/42","data":{{"task_id":"42"}},"timestamp":"2026-11-24T12:00:00.123Z"}}"#
    )
}

fn frame(id: u32) -> String {
    format!("id: {id}\nevent: task_updated\ndata: {}\n\n", envelope(id))
}

/// A writer that cancels `listen` once it has flushed `lines` lines.
struct CancelAfter {
    lines: usize,
    written: Vec<u8>,
    cancel: CancellationToken,
}

impl Write for CancelAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.written.iter().filter(|&&b| b == b'\n').count() >= self.lines {
            self.cancel.cancel();
        }
        Ok(())
    }
}

#[tokio::test]
async fn resumes_after_a_cut_with_the_last_id_and_prints_each_envelope_once() {
    let (listener, base_url) = bind().await;
    let server = tokio::spawn(async move {
        let (mut first, opened) = accept(&listener).await;
        let body = format!("{CONNECTED}: keepalive\n\n{}{}", frame(1), frame(2));
        send(&mut first, &format!("{SSE_HEAD}{body}")).await;
        drop(first); // the cut
        let (mut second, resumed) = accept(&listener).await;
        send(&mut second, &format!("{SSE_HEAD}{CONNECTED}{}", frame(3))).await;
        (opened, resumed, second) // keeps the second stream open
    });
    let options = ListenOptions {
        base_url,
        types: Some("task_*,deploy".to_owned()),
        topics: Some("tasks/42".to_owned()),
        token: Some("secret".to_owned()),
        last_event_id: None,
    };
    let cancel = CancellationToken::new();
    let mut out = CancelAfter {
        lines: 3,
        written: Vec::new(),
        cancel: cancel.clone(),
    };

    let started = Instant::now();
    let result = within(
        "listen printing three events",
        listen(&options, &mut out, &cancel),
    )
    .await;
    result.expect("a cancelled listen returns Ok");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reconnected after the server's retry: 50, not the 3 s default"
    );

    let server = within("the server seeing two connections", server).await;
    let (opened, resumed, _second) = server.expect("server task");
    assert!(
        opened
            .head
            .starts_with("GET /events/stream?types=task_*%2Cdeploy&topics=tasks%2F42 HTTP/1.1\r\n"),
        "{}",
        opened.head
    );
    assert_eq!(opened.header("authorization"), Some("Bearer secret"));
    assert_eq!(opened.header("accept"), Some("text/event-stream"));
    assert_eq!(opened.header("last-event-id"), None);
    assert_eq!(resumed.header("last-event-id"), Some("2"));
    assert_eq!(resumed.header("authorization"), Some("Bearer secret"));
    let expected = format!("{}\n{}\n{}\n", envelope(1), envelope(2), envelope(3));
    assert_eq!(String::from_utf8_lossy(&out.written), expected);
}

#[tokio::test]
async fn retries_a_503_after_retry_after_then_gives_up_on_a_403_with_its_detail() {
    let (listener, base_url) = bind().await;
    let server = tokio::spawn(async move {
        let (mut first, busy) = accept(&listener).await;
        let problem = r#"{"type":"about:blank","title":"Service Unavailable","status":503}"#;
        let headers = "retry-after: 0\r\ncontent-type: application/problem+json\r\n";
        send(
            &mut first,
            &response("503 Service Unavailable", headers, problem),
        )
        .await;
        let (mut second, refused) = accept(&listener).await;
        let problem = r#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"token does not cover tasks/42"}"#;
        let headers = "content-type: application/problem+json\r\n";
        send(&mut second, &response("403 Forbidden", headers, problem)).await;
        (busy, refused)
    });
    let options = ListenOptions {
        base_url,
        last_event_id: Some("7".to_owned()),
        ..ListenOptions::default()
    };
    let mut out = Vec::new();

    let started = Instant::now();
    let cancel = CancellationToken::new();
    let result = within("listen giving up", listen(&options, &mut out, &cancel)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "Retry-After: 0 beat the 3 s default"
    );
    match result {
        Err(ClientError::Status {
            status: 403,
            title,
            detail,
        }) => {
            assert_eq!(title.as_deref(), Some("Forbidden"));
            assert_eq!(detail.as_deref(), Some("token does not cover tasks/42"));
        }
        other => panic!("expected the 403, got {other:?}"),
    }
    let server = within("the server seeing two connections", server).await;
    let (busy, refused) = server.expect("server task");
    assert_eq!(busy.header("last-event-id"), Some("7"));
    assert_eq!(refused.header("last-event-id"), Some("7"));
    assert_eq!(busy.header("authorization"), None);
    assert!(out.is_empty());
}

#[tokio::test]
async fn a_page_that_is_not_an_event_stream_is_an_error_not_a_retry_loop() {
    let (listener, base_url) = bind().await;
    tokio::spawn(async move {
        let (mut stream, _) = accept(&listener).await;
        let headers = "content-type: text/html\r\n";
        send(&mut stream, &response("200 OK", headers, "<html></html>")).await;
    });
    let options = ListenOptions {
        base_url,
        ..ListenOptions::default()
    };
    let cancel = CancellationToken::new();
    let result = within(
        "listen giving up",
        listen(&options, &mut Vec::new(), &cancel),
    )
    .await;
    assert!(
        matches!(&result, Err(ClientError::NotEventStream { content_type }) if content_type == "text/html"),
        "{result:?}"
    );
}

#[tokio::test]
async fn cancelling_stops_a_listen_that_cannot_connect() {
    let (listener, base_url) = bind().await;
    drop(listener); // nothing listens there any more: connection refused, retry in 3 s
    let options = ListenOptions {
        base_url,
        ..ListenOptions::default()
    };
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stopper.cancel();
    });
    let result = tokio::time::timeout(
        Duration::from_secs(2),
        listen(&options, &mut Vec::new(), &cancel),
    )
    .await
    .expect("cancel ends the wait between attempts");
    result.expect("a cancelled listen returns Ok");
}

#[test]
fn debug_output_hides_the_token() {
    let options = ListenOptions {
        token: Some("secret".to_owned()),
        ..ListenOptions::default()
    };
    let shown = format!("{options:?}");
    assert!(
        !shown.contains("secret") && shown.contains("<redacted>"),
        "{shown}"
    );
}

#[test]
fn the_listen_future_can_move_between_threads() {
    fn assert_send<T: Send>(_: T) {}
    let cancel = CancellationToken::new();
    assert_send(listen(
        &ListenOptions::default(),
        &mut io::stdout(),
        &cancel,
    ));
}
