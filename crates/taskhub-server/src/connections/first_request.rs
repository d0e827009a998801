//! A connection's first request head, read before hyper sees the connection.
//!
//! A plain `GET` that opens an event stream (`/events/stream`, `/.well-known/mercure`) is
//! served by `event_stream`, without hyper: hyper keeps a read buffer (16 KiB once a
//! response streams) and a write buffer (8 KiB) for a connection's whole life, most of
//! what an idle stream cost. Anything else (other paths and methods, a body, HTTP/1.0,
//! HTTP/2's preface, a head too large or malformed) goes to hyper with the bytes read,
//! and hyper answers it exactly as if it had read them itself.

use axum::body::Body;
use axum::http::{Request, Version};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::mercure;

/// The paths whose `GET` opens an event stream.
const STREAM_PATHS: &[&str] = &["/events/stream", mercure::PATH];
/// Most headers read here; a request with more goes to hyper.
const MAX_HEADERS: usize = 64;
/// What is read at first; enough for nearly every request head.
const FIRST_READ: usize = 1024;

/// What the connection's first bytes are.
#[derive(Debug)]
pub(crate) enum FirstRequest {
    /// A complete request that opens an event stream, with nothing after it.
    EventStream(Box<Request<Body>>),
    /// Anything else: the bytes read so far, which belong to hyper.
    Other(Bytes),
    /// The client closed, failed or sent no complete head in time.
    Gone,
}

/// Reads until a head is complete, is not one to serve here, or `max_bytes` were read,
/// for at most until `deadline`.
pub(crate) async fn read<T: AsyncRead + Unpin>(
    io: &mut T,
    max_bytes: usize,
    deadline: Instant,
) -> FirstRequest {
    let mut buf = Vec::with_capacity(FIRST_READ);
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= max_bytes {
                return FirstRequest::Other(buf.into());
            }
            buf.reserve(buf.len().min(max_bytes - buf.len()));
        }
        match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return FirstRequest::Gone,
            Ok(Ok(_)) => {}
        }
        match parse(&buf) {
            Parsed::Incomplete => {}
            Parsed::EventStream(request) => return FirstRequest::EventStream(request),
            Parsed::NotOurs => return FirstRequest::Other(buf.into()),
        }
    }
}

enum Parsed {
    Incomplete,
    EventStream(Box<Request<Body>>),
    NotOurs,
}

fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let length = match head.parse(buf) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(_) => return Parsed::NotOurs,
    };
    let path = head.path.unwrap_or_default();
    let route = path.split('?').next().unwrap_or_default();
    let ours = length == buf.len()
        && head.method == Some("GET")
        && head.version == Some(1)
        && STREAM_PATHS.contains(&route);
    if !ours {
        return Parsed::NotOurs;
    }
    let mut request = Request::get(path).version(Version::HTTP_11);
    for header in head.headers.iter() {
        // A body, an upgrade or an expectation: hyper's to handle.
        let framing = ["content-length", "transfer-encoding", "upgrade", "expect"]
            .iter()
            .any(|name| header.name.eq_ignore_ascii_case(name));
        if framing && !(header.name.eq_ignore_ascii_case("content-length") && header.value == b"0")
        {
            return Parsed::NotOurs;
        }
        request = request.header(header.name, header.value);
    }
    // A header name or value the `http` types refuse: hyper answers it.
    request
        .body(Body::empty())
        .map_or(Parsed::NotOurs, |request| {
            Parsed::EventStream(Box::new(request))
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn first(bytes: &[u8]) -> FirstRequest {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::io::AsyncWriteExt::write_all(&mut client, bytes)
            .await
            .expect("write");
        drop(client);
        read(
            &mut server,
            16 * 1024,
            Instant::now() + Duration::from_secs(5),
        )
        .await
    }

    #[tokio::test]
    async fn stream_requests_are_ours_and_everything_else_is_hyper_s() {
        let stream =
            first(b"GET /events/stream?types=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\n\r\n")
                .await;
        let FirstRequest::EventStream(request) = stream else {
            panic!("a stream request: {stream:?}");
        };
        assert_eq!(request.uri(), "/events/stream?types=a");
        assert_eq!(request.headers()["last-event-id"], "7");
        let mercure = first(b"GET /.well-known/mercure?topic=* HTTP/1.1\r\n\r\n").await;
        assert!(matches!(mercure, FirstRequest::EventStream(_)));

        for other in [
            &b"GET /tasks HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"POST /.well-known/mercure HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /events/stream HTTP/1.0\r\n\r\n",
            b"GET /events/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /events/stream HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"GET /events/stream HTTP/1.1\r\n\r\nGET /tasks HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET /events/stream HTTP/1.1\r\nBad Header: x\r\n\r\n",
        ] {
            match first(other).await {
                FirstRequest::Other(bytes) => assert_eq!(&bytes[..], other),
                unexpected => panic!("{:?}: {unexpected:?}", String::from_utf8_lossy(other)),
            }
        }
        assert!(matches!(first(b"").await, FirstRequest::Gone));
        assert!(matches!(
            first(b"GET /events/stream HT").await,
            FirstRequest::Gone
        ));
    }

    #[tokio::test]
    async fn a_head_larger_than_the_limit_goes_to_hyper() {
        let mut big = b"GET /events/stream HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'y', 20_000));
        big.extend_from_slice(b"\r\n\r\n");
        match first(&big).await {
            FirstRequest::Other(bytes) => {
                assert!(bytes.len() >= 16 * 1024 && big.starts_with(&bytes))
            }
            unexpected => panic!("{unexpected:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_nothing_is_gone_at_the_deadline() {
        let (_client, mut server) = tokio::io::duplex(64);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(10);
        assert!(matches!(
            read(&mut server, 1024, deadline).await,
            FirstRequest::Gone
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
