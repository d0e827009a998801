//! A minimal HTTP/1.1 client over a `TcpStream`: request bytes out, status and body back,
//! keep-alive between requests. Enough for publish calls and health checks; the SSE
//! subscriber reuses [`parse_head`] and [`ResponseHead`].

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::chunked::ChunkedDecoder;
use crate::error::BenchError;
use crate::url::HttpUrl;

/// Largest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest response body kept (publish answers are small; a bigger body is cut).
const MAX_BODY: usize = 1 << 20;

/// What the status line and headers say about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub content_length: Option<usize>,
    pub chunked: bool,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// Parses a response head from the start of `buf`: `Ok(None)` if it is not complete yet,
/// else the head and its length in bytes.
pub fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, BenchError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(BenchError::Http("response head too large".into()));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| BenchError::Http("response head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(BenchError::Http(format!("bad status line {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| BenchError::Http(format!("bad status line {status_line:?}")))?;
    let mut head = ResponseHead {
        status,
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(
                value
                    .parse()
                    .map_err(|_| BenchError::Http(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some((head, end + 4)))
}

/// Request bytes: `METHOD target HTTP/1.1`, `Host`, the extra header lines (each ending
/// in `\r\n`), `Content-Length` when there is a body (or the method needs one), the body.
pub fn request(method: &str, url: &HttpUrl, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\n{extra_headers}",
        url.target,
        url.host()
    );
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A response: its status and (up to 1 MiB of) its body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection to one server, reopened when the server closes it.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    timeout: Duration,
}

impl Client {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            stream: None,
            timeout,
        }
    }

    /// Sends one request (as built by [`request`]) and reads its response.
    pub async fn send(&mut self, request: &[u8]) -> Result<Response, BenchError> {
        let result = tokio::time::timeout(self.timeout, self.exchange(request)).await;
        match result {
            Ok(Ok((response, keep))) => {
                if !keep {
                    self.stream = None;
                }
                Ok(response)
            }
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(BenchError::Timeout {
                    secs: self.timeout.as_secs_f64(),
                    what: format!("waiting for an answer from {}", self.addr),
                })
            }
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<(Response, bool), BenchError> {
        let addr = self.addr;
        let stream = match &mut self.stream {
            Some(stream) => stream,
            slot @ None => {
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(BenchError::io(format!("connecting to {addr}")))?;
                stream
                    .set_nodelay(true)
                    .map_err(BenchError::io("setting TCP_NODELAY"))?;
                slot.insert(stream)
            }
        };
        stream
            .write_all(request)
            .await
            .map_err(BenchError::io(format!("sending a request to {addr}")))?;
        read_response(stream, addr).await
    }
}

/// Reads one response; the flag says whether the connection may be reused.
async fn read_response(
    stream: &mut TcpStream,
    addr: SocketAddr,
) -> Result<(Response, bool), BenchError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 16 * 1024];
    let (head, head_len) = loop {
        if let Some(parsed) = parse_head(&buf)? {
            break parsed;
        }
        let n = read_some(stream, &mut chunk, addr).await?;
        if n == 0 {
            return Err(BenchError::Http(format!(
                "{addr} closed the connection before answering"
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut body = Vec::new();
    let rest = buf.split_off(head_len);
    let mut keep = !head.close;
    if let Some(len) = head.content_length {
        body = rest;
        while body.len() < len {
            let n = read_some(stream, &mut chunk, addr).await?;
            if n == 0 {
                return Err(BenchError::Http("body shorter than Content-Length".into()));
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len.min(MAX_BODY));
    } else if head.chunked {
        let mut decoder = ChunkedDecoder::default();
        let mut pending = rest;
        loop {
            decoder
                .feed(&pending, |part| {
                    if body.len() < MAX_BODY {
                        body.extend_from_slice(part);
                    }
                })
                .map_err(|e| BenchError::Http(e.to_string()))?;
            if decoder.is_done() {
                break;
            }
            let n = read_some(stream, &mut chunk, addr).await?;
            if n == 0 {
                return Err(BenchError::Http("chunked body cut short".into()));
            }
            pending = chunk[..n].to_vec();
        }
    } else if head.status == 204 || head.status == 304 {
        // No body by definition.
    } else {
        // Delimited by the connection's end.
        body = rest;
        loop {
            let n = read_some(stream, &mut chunk, addr).await?;
            if n == 0 {
                break;
            }
            if body.len() < MAX_BODY {
                body.extend_from_slice(&chunk[..n]);
            }
        }
        keep = false;
    }
    Ok((
        Response {
            status: head.status,
            body,
        },
        keep,
    ))
}

async fn read_some(
    stream: &mut TcpStream,
    chunk: &mut [u8],
    addr: SocketAddr,
) -> Result<usize, BenchError> {
    stream
        .read(chunk)
        .await
        .map_err(BenchError::io(format!("reading an answer from {addr}")))
}

/// `GET url`, one-off: its status.
pub async fn get_status(url: &HttpUrl, timeout: Duration) -> Result<u16, BenchError> {
    let mut client = Client::new(url.addr, timeout);
    let response = client
        .send(&request("GET", url, "Connection: close\r\n", b""))
        .await?;
    Ok(response.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_of_each_kind() {
        let (head, len) = parse_head(
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 8\r\nConnection: keep-alive\r\n\r\n{\"id\":1}",
        )
        .expect("valid")
        .expect("complete");
        assert_eq!(head.status, 202);
        assert_eq!(head.content_length, Some(8));
        assert!(!head.close);
        assert_eq!(len, 68);
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert!(head.chunked);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\n").expect("valid"), None);
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn builds_requests_with_lengths() {
        let url = HttpUrl::parse("http://127.0.0.1:1/events").expect("valid");
        let bytes = request("POST", &url, "Content-Type: application/json\r\n", b"{}");
        assert_eq!(
            bytes,
            b"POST /events HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Type: application/json\r\n\
              Content-Length: 2\r\n\r\n{}"
        );
        let bytes = request("PUT", &url, "", b"");
        assert!(bytes.ends_with(b"Content-Length: 0\r\n\r\n"));
    }
}
