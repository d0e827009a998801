//! Writing a response straight onto a connection, for the requests `first_request` takes
//! from hyper: an event stream's head, then its chunks in HTTP/1.1 chunked encoding until
//! the stream ends or the client goes away; or, when the request was refused, the whole
//! answer, after which the connection goes on with hyper.
//!
//! Per connection this keeps only what the stream needs: no read buffer (a few bytes, to
//! notice the client closing) and no write buffer (the frames' shared bytes are written
//! as they are). Frames that are ready together leave in one `writev`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::Poll;
use std::time::SystemTime;

use axum::body::Body;
use axum::body::HttpBody;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, TRANSFER_ENCODING};
use axum::http::{StatusCode, response::Parts};
use axum::response::Response;
use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes gathered into one write.
const MAX_WRITE: usize = 256 * 1024;
/// Slices of a write kept on the stack; a write of more frames allocates its list.
const STACK_SLICES: usize = 32;

/// What becomes of the connection once the response is written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// The stream ended, or the client left: close it.
    Close,
    /// A whole (non-stream) answer was written: hyper serves the next requests.
    KeepServing,
}

/// Writes `response` to `io`; `close` when the client asked for the connection to end.
pub(crate) async fn write<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    response: Response,
    close: bool,
) -> io::Result<After> {
    let (parts, body) = response.into_parts();
    if !is_event_stream(&parts) {
        let body = body
            .collect()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
            .to_bytes();
        let mut head = head(&parts, Framing::Length(body.len()), close);
        head.extend_from_slice(&body);
        io.write_all(&head).await?;
        io.flush().await?;
        return Ok(if close {
            After::Close
        } else {
            After::KeepServing
        });
    }
    let head = head(&parts, Framing::Chunked, true);
    drop(parts);
    stream(io, head, body).await?;
    Ok(After::Close)
}

fn is_event_stream(parts: &Parts) -> bool {
    parts.status == StatusCode::OK
        && parts
            .headers
            .get(CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"))
}

/// The head, then every chunk of `body` as it comes, until it ends or the client closes.
/// Nothing of the response but its body is kept past the first write.
async fn stream<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    head: Vec<u8>,
    mut body: Body,
) -> io::Result<()> {
    // The head and whatever the stream has ready (its opening) leave together, at once.
    let mut batch = Vec::new();
    let mut ended = gather(&mut body, &mut batch)
        .now_or_never()
        .unwrap_or(false);
    write_chunk(io, &head, &batch, ended).await?;
    drop(head);
    let mut probe = [0u8; 16];
    while !ended {
        batch.clear();
        tokio::select! {
            biased;
            end = gather(&mut body, &mut batch) => ended = end,
            read = io.read(&mut probe) => match read {
                // Bytes after a stream request are not a request we serve; ignored.
                Ok(n) if n > 0 => continue,
                // The client closed or the connection broke: nobody to write to.
                _ => return Ok(()),
            },
        }
        write_chunk(io, &[], &batch, ended).await?;
    }
    io.shutdown().await
}

/// Waits for the next chunk of `body`, then takes every other one it has ready too, up
/// to [`MAX_WRITE`] bytes, into `batch`; true when the body ended. It polls the body with
/// the task's own waker throughout, so the poll that finds nothing more ready is also the
/// one that arms the wake-up for the next chunk.
fn gather<'a>(body: &'a mut Body, batch: &'a mut Vec<Bytes>) -> impl Future<Output = bool> + 'a {
    std::future::poll_fn(move |cx| {
        let mut size: usize = batch.iter().map(Bytes::len).sum();
        loop {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        size += data.len();
                        batch.push(data);
                    }
                    if size >= MAX_WRITE {
                        return Poll::Ready(false);
                    }
                }
                Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(true),
                Poll::Pending if batch.is_empty() => return Poll::Pending,
                Poll::Pending => return Poll::Ready(false),
            }
        }
    })
}

/// `prefix`, then `batch` as one chunk, then the last chunk if `ended`, in one `writev`
/// as far as the socket takes it.
async fn write_chunk<T: AsyncWrite + Unpin>(
    io: &mut T,
    prefix: &[u8],
    batch: &[Bytes],
    ended: bool,
) -> io::Result<()> {
    let size: usize = batch.iter().map(Bytes::len).sum();
    let size_line = SizeLine::new(size);
    let parts = [prefix]
        .into_iter()
        .chain((size > 0).then_some(size_line.as_bytes()))
        .chain(batch.iter().filter(|_| size > 0).map(|data| &data[..]))
        .chain((size > 0).then_some(&b"\r\n"[..]))
        .chain(ended.then_some(&b"0\r\n\r\n"[..]))
        .filter(|part| !part.is_empty());
    // Written once per wake-up of every stream: no allocation for the usual few frames.
    let mut on_stack = [IoSlice::new(&[]); STACK_SLICES];
    let mut on_heap = Vec::new();
    let count = batch.len() + 4;
    let mut slices = if count <= STACK_SLICES {
        let mut used = 0;
        for (slot, part) in on_stack.iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
            used += 1;
        }
        &mut on_stack[..used]
    } else {
        on_heap.extend(parts.map(IoSlice::new));
        &mut on_heap[..]
    };
    while !slices.is_empty() {
        let written = io.write_vectored(slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, written);
    }
    io.flush().await
}

/// A chunk's size line, `{size:X}\r\n`, without formatting machinery or an allocation.
struct SizeLine {
    digits: [u8; 18],
    start: usize,
}

impl SizeLine {
    fn new(size: usize) -> Self {
        let mut digits = [0u8; 18];
        digits[16..].copy_from_slice(b"\r\n");
        let mut start = 16;
        let mut rest = size;
        loop {
            start -= 1;
            digits[start] = b"0123456789ABCDEF"[rest % 16];
            rest /= 16;
            if rest == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

/// How the body's end is marked.
enum Framing {
    Length(usize),
    Chunked,
}

/// The status line and headers, with the framing and a `date`.
fn head(parts: &Parts, framing: Framing, close: bool) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    let status = parts.status;
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or_default().as_bytes());
    head.extend_from_slice(b"\r\n");
    put_headers(&mut head, &parts.headers);
    head.extend_from_slice(b"date: ");
    head.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    head.extend_from_slice(b"\r\n");
    match framing {
        Framing::Length(length) => {
            head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
        }
        Framing::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    if close {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// The response's own headers, less those that frame the body, which `head` writes.
fn put_headers(head: &mut Vec<u8>, headers: &HeaderMap) {
    let framing = [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION];
    for (name, value) in headers.iter().filter(|(name, _)| !framing.contains(name)) {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::http::HeaderValue;
    use tokio::io::AsyncReadExt;

    use super::*;

    fn response(status: StatusCode, content_type: &'static str, body: Body) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }

    #[tokio::test]
    async fn a_stream_is_chunked_and_ends_with_the_last_chunk() {
        let chunks = futures_util::stream::iter(
            ["retry: 1\n\n", "id: 1\ndata: {}\n\n"].map(|c| Ok::<_, Infallible>(Bytes::from(c))),
        );
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let answer = response(
            StatusCode::OK,
            "text/event-stream",
            Body::from_stream(chunks),
        );
        let after = write(&mut server, answer, false).await.expect("written");
        assert_eq!(after, After::Close);
        drop(server);
        let mut wire = String::new();
        client.read_to_string(&mut wire).await.expect("read");
        let (head, body) = wire.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-type: text/event-stream"));
        assert!(head.contains("transfer-encoding: chunked") && head.contains("connection: close"));
        // Both chunks were ready at once: one chunk on the wire, then the last one.
        assert_eq!(body, "1A\r\nretry: 1\n\nid: 1\ndata: {}\n\n\r\n0\r\n\r\n");
    }

    #[test]
    fn size_lines_are_upper_case_hex() {
        for size in [0, 1, 9, 10, 15, 16, 255, 4096, MAX_WRITE, usize::MAX] {
            let line = SizeLine::new(size);
            assert_eq!(line.as_bytes(), format!("{size:X}\r\n").as_bytes());
        }
    }

    #[tokio::test]
    async fn many_frames_ready_together_leave_as_one_chunk() {
        let frames: Vec<String> = (0..100)
            .map(|i| format!("id: {i}\ndata: {{}}\n\n"))
            .collect();
        let expected: String = frames.concat();
        let chunks = futures_util::stream::iter(
            frames
                .into_iter()
                .map(|f| Ok::<_, Infallible>(Bytes::from(f))),
        );
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let answer = response(
            StatusCode::OK,
            "text/event-stream",
            Body::from_stream(chunks),
        );
        write(&mut server, answer, false).await.expect("written");
        drop(server);
        let mut wire = String::new();
        client.read_to_string(&mut wire).await.expect("read");
        let (_, body) = wire.split_once("\r\n\r\n").expect("a head");
        assert_eq!(
            body,
            format!("{:X}\r\n{expected}\r\n0\r\n\r\n", expected.len())
        );
    }

    #[tokio::test]
    async fn a_refusal_is_written_whole_and_the_connection_goes_on() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let problem = response(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/problem+json",
            Body::from("{}"),
        );
        let after = write(&mut server, problem, false).await.expect("written");
        assert_eq!(after, After::KeepServing);
        drop(server);
        let mut wire = String::new();
        client.read_to_string(&mut wire).await.expect("read");
        assert!(
            wire.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{wire}"
        );
        assert!(wire.contains("content-length: 2\r\n") && wire.ends_with("\r\n\r\n{}"));
        assert_eq!(wire.matches("content-length").count(), 1, "{wire}");
        assert!(!wire.contains("connection: close"));
    }

    #[tokio::test]
    async fn a_stream_stops_when_the_client_closes() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let endless = futures_util::stream::pending::<Result<Bytes, Infallible>>();
        let answer = response(
            StatusCode::OK,
            "text/event-stream",
            Body::from_stream(endless),
        );
        drop(client);
        let after = write(&mut server, answer, false).await;
        assert!(matches!(after, Ok(After::Close) | Err(_)));
    }
}
