//! Plain HTTP sent to the TLS port (`http://` where `https://` was meant): instead of a
//! failed handshake the client cannot explain, it gets a `400` problem saying to use
//! `https://`, in plain HTTP, and the connection closes.
//!
//! A TLS client's first byte is a handshake record's type (22); an HTTP/1 request (or the
//! HTTP/2 preface) starts with a method in capital letters. The first byte is peeked, not
//! read, so a TLS handshake goes on untouched.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

/// How long the refused client's remaining bytes are drained after the answer, so that
/// closing with unread data (which sends a reset) cannot destroy the answer in flight.
const LINGER: Duration = Duration::from_secs(1);

/// Whether the client's first byte starts an HTTP request rather than a TLS handshake.
/// Waits for that byte; `false` if the connection ends or fails first.
pub(super) async fn sent_instead_of_tls(tcp: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(tcp.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Reads the request head (at most `max_head` bytes), answers `400` with a problem naming
/// the `https://` URL, and closes the connection.
pub(super) async fn refuse(mut tcp: TcpStream, max_head: usize) {
    let head = read_head(&mut tcp, max_head).await;
    let response = answer(&head);
    if let Err(e) = tcp.write_all(response.as_bytes()).await {
        debug!(error = %e, "cannot answer plain HTTP on the TLS port");
        return;
    }
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The request's head: bytes up to the blank line, or as many as came within `max_head`.
async fn read_head(tcp: &mut TcpStream, max_head: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while head.len() < max_head && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    head
}

/// The whole `400` response, naming the request's URL with `https://` when its head says
/// which (its `Host` and target).
fn answer(head: &[u8]) -> String {
    let detail = match https_url(head) {
        Some(url) => format!("this port serves HTTPS only: use {url}"),
        None => "this port serves HTTPS only: use an https:// URL".to_owned(),
    };
    let body = json!({
        "type": "https://taskhub.dev/problems/https-required",
        "title": "HTTPS required",
        "status": 400,
        "detail": detail,
    })
    .to_string();
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn https_url(head: &[u8]) -> Option<String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(head).ok()?;
    let path = request.path.filter(|path| path.starts_with('/'))?;
    let host = request
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("host"))
        .and_then(|header| std::str::from_utf8(header.value).ok())
        .filter(|host| !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic()))?;
    Some(format!("https://{host}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_the_https_url_when_the_head_says_it() {
        let head = b"GET /tasks?status=done HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n\r\n";
        let response = answer(head);
        assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        let body = response.split("\r\n\r\n").nth(1).expect("a body");
        let problem: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(
            problem["detail"],
            "this port serves HTTPS only: use https://127.0.0.1:8443/tasks?status=done"
        );
        assert!(response.contains(&format!("content-length: {}\r\n", body.len())));
    }

    #[test]
    fn without_a_host_the_answer_is_general() {
        assert!(answer(b"GET / HTTP/1.0\r\n\r\n").contains("use an https:// URL"));
        assert!(answer(b"garbage").contains("use an https:// URL"));
        assert!(answer(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n").contains("use an https:// URL"));
    }
}
