//! Test support: a bare HTTP/1.1 peer on a TCP socket, to script exactly what a server sends.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `future`'s output, or a panic naming `what` after 10 s: a broken client must fail a
/// test, not hang it.
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(10), future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// A listener on a free loopback port, and the base URL that reaches it.
pub(crate) async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    (listener, format!("http://{address}/"))
}

/// One request as received.
#[derive(Debug)]
pub(crate) struct Request {
    /// The request line and headers.
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Request {
    /// The value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Accepts one connection and reads one request from it.
pub(crate) async fn accept(listener: &TcpListener) -> (TcpStream, Request) {
    let (mut stream, _) = listener.accept().await.expect("accept");
    let mut bytes = Vec::new();
    let mut chunk = [0; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await.expect("read request");
        assert!(read > 0, "connection closed inside the request head");
        bytes.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut request = Request {
        head,
        body: String::new(),
    };
    let length: usize = request
        .header("content-length")
        .map_or(0, |v| v.parse().expect("content-length"));
    while bytes.len() < head_end + length {
        let read = stream.read(&mut chunk).await.expect("read body");
        assert!(read > 0, "connection closed inside the request body");
        bytes.extend_from_slice(&chunk[..read]);
    }
    request.body = String::from_utf8_lossy(&bytes[head_end..]).into_owned();
    (stream, request)
}

/// Writes `text` to the connection.
pub(crate) async fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).await.expect("write");
}

/// A complete response with a body, closing the connection after it.
pub(crate) fn response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The head of an SSE response, whose body runs until the connection closes.
pub(crate) const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                                   cache-control: no-cache\r\nconnection: close\r\n\r\n";
