//! One SSE subscriber connection: open it (from a chosen source address), then read and
//! account for every event until the worker stops.
//!
//! A stream counts as connected once its `200` head and its first body bytes arrived
//! (TaskHub's preamble, nchan's `: hi`, pushpin's `: connected`, the seed's `connected`
//! message): by then each server has registered the subscriber. A stalled connection
//! stops there and never reads again.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::chunked::ChunkedDecoder;
use crate::clock::now_micros;
use crate::error::BenchError;
use crate::http::{self, ResponseHead};
use crate::latency::Latency;
use crate::sse::SseParser;
use crate::tracker::Tracker;

/// Bytes read per `read` call (into the worker's one buffer).
const READ_BUF: usize = 8 * 1024;
/// Time to connect and get the response head and first bytes.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);
/// Distinct error messages a worker keeps.
const MAX_ERRORS: usize = 8;

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Opening,
    Open,
    Failed,
    Closed,
}

/// One connection's record, shared with the worker's progress reports.
#[derive(Debug)]
pub struct Conn {
    pub state: State,
    pub stalled: bool,
    pub tracker: Tracker,
}

/// Counters for all of a worker's connections.
#[derive(Debug, Default)]
pub struct Totals {
    pub delivered: u64,
    pub untokened: u64,
    pub bytes: u64,
    pub latency: Latency,
    pub first_delivery: u64,
    pub last_delivery: u64,
    /// Unique deliveries per second, indexed from `base_second`.
    pub per_second: Vec<u64>,
    pub base_second: u64,
    pub errors: Vec<String>,
}

impl Totals {
    pub fn note_error(&mut self, error: String) {
        if self.errors.len() < MAX_ERRORS && !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    fn delivered_at(&mut self, now: u64, sent: u64) {
        self.delivered += 1;
        self.latency.record(now.saturating_sub(sent));
        if self.first_delivery == 0 {
            self.first_delivery = now;
        }
        self.last_delivery = self.last_delivery.max(now);
        let second = (now / 1_000_000).saturating_sub(self.base_second);
        let slot = usize::try_from(second).unwrap_or(usize::MAX).min(1 << 20);
        if self.per_second.len() <= slot {
            self.per_second.resize(slot + 1, 0);
        }
        self.per_second[slot] += 1;
    }
}

/// How to open one connection.
#[derive(Debug, Clone)]
pub struct Spec {
    pub server: SocketAddr,
    pub source: SocketAddrV4,
    pub request: Rc<[u8]>,
    /// `SO_RCVBUF` to set (stalled connections use a small one).
    pub recv_buffer: Option<u32>,
}

/// An open stream: the socket, how its body is framed, and bytes read past the head.
#[derive(Debug)]
pub struct Opened {
    stream: TcpStream,
    head: ResponseHead,
    leftover: Vec<u8>,
}

/// Connects, sends the request and reads the head and the first body bytes.
pub async fn open(spec: &Spec) -> Result<Opened, BenchError> {
    match tokio::time::timeout(OPEN_TIMEOUT, open_inner(spec)).await {
        Ok(result) => result,
        Err(_) => Err(BenchError::Timeout {
            secs: OPEN_TIMEOUT.as_secs_f64(),
            what: format!("opening a stream to {}", spec.server),
        }),
    }
}

async fn open_inner(spec: &Spec) -> Result<Opened, BenchError> {
    let mut stream = connect(spec).await?;
    stream
        .write_all(&spec.request)
        .await
        .map_err(BenchError::io("sending the subscribe request"))?;
    read_head(stream).await
}

/// A TCP connection to `spec.server` from `spec.source`, with `spec.recv_buffer` and
/// TCP_NODELAY set, nothing sent yet.
pub async fn connect(spec: &Spec) -> Result<TcpStream, BenchError> {
    let socket = TcpSocket::new_v4().map_err(BenchError::io("creating a socket"))?;
    // Ports of an earlier run's connections may still be in TIME_WAIT.
    socket
        .set_reuseaddr(true)
        .map_err(BenchError::io("setting SO_REUSEADDR"))?;
    if let Some(size) = spec.recv_buffer {
        socket
            .set_recv_buffer_size(size)
            .map_err(BenchError::io("setting SO_RCVBUF"))?;
    }
    // A loopback connection leaves from 127.0.0.1 anyway, and `connect` then picks the
    // port itself, cheaply: any port whose 4-tuple is free. A `bind` to port 0 before it
    // must find a port no other socket on the address holds, a search that grew with
    // every connection (17 s of kernel time for 10,000). Other source addresses, needed
    // past one address's ephemeral ports, still have to be bound.
    if !is_default_source(spec.source) {
        socket
            .bind(SocketAddr::V4(spec.source))
            .map_err(BenchError::io(format!("binding {}", spec.source)))?;
    }
    let stream = socket
        .connect(spec.server)
        .await
        .map_err(BenchError::io(format!("connecting to {}", spec.server)))?;
    stream
        .set_nodelay(true)
        .map_err(BenchError::io("setting TCP_NODELAY"))?;
    Ok(stream)
}

/// Whether `source` is what the kernel would pick for a loopback connection by itself.
fn is_default_source(source: SocketAddrV4) -> bool {
    *source.ip() == Ipv4Addr::LOCALHOST && source.port() == 0
}

/// Reads the response head and the first body bytes.
async fn read_head(mut stream: TcpStream) -> Result<Opened, BenchError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(BenchError::io("reading the response head"))?;
        if n == 0 {
            return Err(BenchError::Http(
                "the server closed the stream before its first bytes".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((head, len)) = http::parse_head(&buf)? {
            if head.status != 200 {
                return Err(BenchError::Status {
                    status: head.status,
                    what: "the subscribe request".into(),
                });
            }
            if buf.len() > len {
                let leftover = buf.split_off(len);
                return Ok(Opened {
                    stream,
                    head,
                    leftover,
                });
            }
        }
    }
}

/// Reads the stream until it ends, accounting every event into `conn` and `totals`.
pub async fn read(opened: Opened, conn: &RefCell<Conn>, totals: &RefCell<Totals>) {
    let Opened {
        stream,
        head,
        leftover,
    } = opened;
    let mut body = Body {
        chunked: head.chunked.then(ChunkedDecoder::default),
        sse: SseParser::default(),
    };
    let account = |body: &mut Body, bytes: &[u8]| {
        let mut conn = conn.borrow_mut();
        let mut totals = totals.borrow_mut();
        totals.bytes += bytes.len() as u64;
        let result = body.feed(bytes, now_micros(), &mut conn.tracker, &mut totals);
        if let Err(e) = &result {
            totals.note_error(e.to_string());
        }
        result.is_ok()
    };
    if account(&mut body, &leftover) {
        loop {
            let read = match stream.readable().await {
                Ok(()) => READ_BUFFER.with_borrow_mut(|buf| match stream.try_read(buf) {
                    Ok(0) => Read::End,
                    Ok(n) if account(&mut body, &buf[..n]) => Read::More,
                    Ok(_) => Read::End,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::More,
                    Err(e) => Read::Failed(e),
                }),
                Err(e) => Read::Failed(e),
            };
            match read {
                Read::More => {}
                Read::End => break,
                Read::Failed(e) => {
                    totals
                        .borrow_mut()
                        .note_error(format!("reading a stream: {e}"));
                    break;
                }
            }
        }
    }
    conn.borrow_mut().state = State::Closed;
}

/// What one read of a stream came to.
enum Read {
    /// Accounted (or nothing was ready after all): read on.
    More,
    /// The server closed the stream, or its bytes did not parse (already noted).
    End,
    Failed(std::io::Error),
}

thread_local! {
    /// One read buffer for all of a worker's connections: each read is accounted before
    /// the next one starts, and one buffer stays in cache where ten thousand would not.
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF]);
}

/// Body decoding: transfer framing, then SSE.
#[derive(Debug)]
struct Body {
    chunked: Option<ChunkedDecoder>,
    sse: SseParser,
}

impl Body {
    fn feed(
        &mut self,
        input: &[u8],
        now: u64,
        tracker: &mut Tracker,
        totals: &mut Totals,
    ) -> Result<(), BenchError> {
        let sse = &mut self.sse;
        let mut on_bytes = |bytes: &[u8]| {
            sse.feed(bytes, |token| match token {
                None => totals.untokened += 1,
                Some(token) => {
                    if tracker.record(&token).is_new() {
                        totals.delivered_at(now, token.sent_micros);
                    }
                }
            });
        };
        match &mut self.chunked {
            Some(decoder) => decoder
                .feed(input, &mut on_bytes)
                .map_err(|e| BenchError::Http(format!("chunked stream: {e}"))),
            None => {
                on_bytes(input);
                Ok(())
            }
        }
    }
}
