//! The accept loop: one task per TCP connection, each serving HTTP/1.1 or HTTP/2, over
//! TLS when a certificate is configured, with the limits that keep a hostile or broken
//! client from holding resources.
//!
//! We own this loop (rather than `axum::serve`) for what axum does not expose: a deadline
//! on the TLS handshake and on reading request headers (slowloris), one on writes to a
//! client that stopped reading (`write_deadline`), a cap on header size, TCP_NODELAY on
//! every socket, the peer address and a request id for every request, a drain with a
//! deadline, and event streams served without hyper.
//!
//! A connection's first request head is read here (`first_request`). A `GET` that opens
//! an event stream goes through the router like any request, and its response is written
//! straight to the socket (`event_stream`), so an open stream costs no more than what it
//! needs; everything else is handed to hyper with the bytes already read (`rewind`).
//!
//! Hyper serves its connections on a runtime of their own ([`Intake`]). Event streams
//! are woken by the thousands from the store's writer thread, through the runtime's
//! shared queue; a publish's answer, woken from the same thread, waited behind them for
//! up to a round over every socket (acknowledgement p90 ~110 ms at 10,000 streams).
//! On their own runtime, requests and their answers queue apart (p90 5–8 ms), and
//! a connection's task on the streams' runtime only waits for hyper's to end.
//!
//! Protocols: hyper-util's `auto` builder looks at a connection's first bytes and serves
//! HTTP/2 if they are its preface, HTTP/1.1 otherwise. Over TLS, ALPN offers `h2` first,
//! so browsers multiplex every event stream to the origin on one connection; in plain
//! text HTTP/1.1 is what clients speak, and HTTP/2 with prior knowledge (h2c) works too.
//!
//! Descriptors: every connection holds a slot of the connection budget
//! (`connection_budget`), taken before it is accepted (`accept`). A connection accepted
//! into the budget's reserve is short: a refused stream request closes it, and hyper
//! serves its other requests for [`SHORT_LIFETIME`], then closes it gracefully (a request
//! in flight finishes; an idle HTTP/1.1 connection closes; HTTP/2 gets GOAWAY). So the
//! reserve stays free for the next health check instead of a keep-alive's idle time.

mod accept;
mod event_stream;
mod first_request;
mod log_throttle;
mod plain_http;
mod rewind;
mod write_deadline;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::runtime::{Handle, Runtime};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{Instrument, debug, warn};

use crate::connection_budget::Slot;
use crate::request_id;
pub(crate) use accept::Acceptor;
use event_stream::After;
use first_request::FirstRequest;
use rewind::Rewind;
use write_deadline::WriteDeadline;

/// How long a connection accepted into the connection budget's reserve is served before
/// it is closed gracefully: time for a health check or a scrape, not for idling.
const SHORT_LIFETIME: Duration = Duration::from_secs(1);

/// Per-connection limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    /// Time a client has to finish the TLS handshake, to send a request's headers once it
    /// started one, or to start one on an idle keep-alive connection.
    pub(crate) header_read_timeout: Duration,
    /// Largest request head (request line and headers); more is answered 431.
    pub(crate) max_header_bytes: usize,
    /// How long a write may wait on a client that does not read before the connection
    /// is closed (`write_deadline`).
    pub(crate) write_timeout: Duration,
}

/// A connection's byte stream: plain TCP or TLS over it.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// The runtime that serves every request but a connection's first event stream (see the
/// module's doc), with as many threads as the event streams' runtime. Dropping it stops
/// it without waiting, from any context (a runtime dropped inside another would panic).
#[derive(Debug)]
pub(crate) struct Intake {
    /// Taken only by `drop`, to stop it in the background.
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Intake {
    pub(crate) fn start() -> std::io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("taskhub-intake")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self {
            runtime: Some(runtime),
            handle,
        })
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Serves `router` on the connections `acceptor` takes (each holding a slot of its
/// budget) until `stop` is cancelled, then waits for open connections to finish, at most
/// `grace`. With `tls`, every connection is TLS. Hyper serves connections on `intake`.
pub(crate) async fn serve(
    mut acceptor: Acceptor,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    intake: Intake,
    stop: CancellationToken,
    grace: Duration,
) {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Room for heads a little over the limit, so that `http::head_limit` answers them
        // with a problem+json body; hyper refuses larger ones by itself.
        .max_buf_size(limits.max_header_bytes.saturating_mul(2).max(16 * 1024));
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    // Shared, not cloned into each connection: every open stream would carry a copy.
    let http = Arc::new(http);
    // Tells hyper's connections to finish; `tasks` also counts the streams served here.
    let graceful = GracefulShutdown::new();
    let tasks = TaskTracker::new();

    while let Some((tcp, peer, slot)) = acceptor.next(&stop).await {
        // Small frames must leave at once, not wait for a delayed ACK (Nagle).
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            router: router.clone(),
            peer,
            limits,
            http: Arc::clone(&http),
            watcher: graceful.watcher(),
            stop: stop.clone(),
            slot,
            intake: intake.handle.clone(),
        };
        let tls = tls.clone();
        // The handshake runs in the connection's task, never in the accept loop; boxed,
        // like every stage a stream does not stay in, so the task's size (which it keeps
        // for as long as the stream is open) is only what a stream needs.
        tasks.spawn(async move {
            let handshake = Box::pin(handshake(tcp, tls, limits));
            if let Some(transport) = handshake.await {
                connection.serve(transport).await;
            }
        });
    }

    drop(acceptor);
    tasks.close();
    let drained = async {
        tokio::join!(graceful.shutdown(), tasks.wait());
    };
    tokio::select! {
        () = drained => {}
        () = tokio::time::sleep(grace) => warn!("grace period over; closing the remaining connections"),
    }
}

/// One accepted connection, and what serving it takes.
struct Connection {
    router: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    http: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    /// Cancelled at shutdown: a connection still waiting for its first request closes.
    stop: CancellationToken,
    /// Its place in the connection budget, given back when the connection closes.
    slot: Slot,
    /// Where hyper serves the connection: apart from the event streams' tasks.
    intake: Handle,
}

impl Connection {
    async fn serve(self, transport: Box<dyn Transport>) {
        let mut transport = WriteDeadline::new(transport, self.limits.write_timeout);
        let deadline = Instant::now() + self.limits.header_read_timeout;
        let read = first_request::read(&mut transport, self.limits.max_header_bytes, deadline);
        let first = tokio::select! {
            first = read => first,
            () = self.stop.cancelled() => return,
        };
        let prefix = match first {
            FirstRequest::EventStream(request) => {
                let close = wants_close(&request) || self.slot.is_short();
                let response = Box::pin(answer(self.router.clone(), self.peer, *request)).await;
                match event_stream::write(&mut transport, response, close).await {
                    Ok(After::KeepServing) => Bytes::new(),
                    Ok(After::Close) => return,
                    Err(e) => {
                        debug!(error = %e, peer = %self.peer, "stream ended with an error");
                        return;
                    }
                }
            }
            FirstRequest::Other(prefix) => prefix,
            FirstRequest::Gone => return,
        };
        // On the intake runtime: a request (and the writer's answer to a publish) is woken
        // in a queue of its own, not behind the event streams woken by the last commits.
        // This task only waits, so the accept loop's tracker still counts the connection.
        let intake = self.intake.clone();
        let served = intake.spawn(self.serve_with_hyper(Rewind::new(prefix, transport)));
        if let Err(e) = served.await {
            warn!(error = %e, "a connection's task panicked");
        }
    }

    async fn serve_with_hyper<T: Transport + 'static>(self, transport: T) {
        let Self {
            router,
            peer,
            http,
            watcher,
            stop,
            slot,
            ..
        } = self;
        let service = hyper::service::service_fn(move |request| {
            let response = answer(router.clone(), peer, request);
            async move { Ok::<_, Infallible>(response.await) }
        });
        let connection = http
            .serve_connection(TokioIo::new(transport), service)
            .into_owned();
        // Boxed: the future is large, and a connection served without hyper should not
        // carry its size for the life of its stream.
        let ended = if slot.is_short() {
            // Closed by its own deadline, or at shutdown like the watched ones.
            let mut connection = Box::pin(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => Some(ended),
                () = tokio::time::sleep(SHORT_LIFETIME) => None,
                () = stop.cancelled() => None,
            };
            match ended {
                Some(ended) => ended,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            }
        } else {
            Box::pin(watcher.watch(connection)).await
        };
        if let Err(e) = ended {
            debug!(error = %e, %peer, "connection ended with an error");
        }
    }
}

/// Answers one request, whoever read it: with the peer address, in a span that carries
/// the request's id, which the response carries too.
async fn answer<B>(router: Router, peer: SocketAddr, mut request: Request<B>) -> Response
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    request.extensions_mut().insert(ConnectInfo(peer));
    let (id, span) = request_id::start(&request);
    async move {
        let mut response = match router.oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        debug!(status = response.status().as_u16(), "answered");
        response.headers_mut().insert(request_id::REQUEST_ID, id);
        response
    }
    .instrument(span)
    .await
}

/// Whether the client asked for the connection to close after this request.
fn wants_close<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(axum::http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("close"))
}

/// The connection's byte stream once TLS (if any) is established; `None` if the
/// handshake failed or took longer than the header deadline, or if the client spoke
/// plain HTTP to the TLS port (it is answered with a 400 saying to use https).
async fn handshake(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
) -> Option<Box<dyn Transport>> {
    let Some(tls) = tls else {
        return Some(Box::new(tcp));
    };
    let attempt = async {
        if plain_http::sent_instead_of_tls(&tcp).await {
            debug!("plain HTTP on the TLS port");
            plain_http::refuse(tcp, limits.max_header_bytes).await;
            return None;
        }
        match tls.accept(tcp).await {
            Ok(stream) => Some(Box::new(stream) as Box<dyn Transport>),
            Err(e) => {
                debug!(error = %e, "TLS handshake failed");
                None
            }
        }
    };
    tokio::time::timeout(limits.header_read_timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            debug!("TLS handshake timed out");
            None
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_intake_runtime_serves_and_can_be_dropped_inside_another() {
        let intake = Intake::start().expect("a runtime");
        let answer = intake.handle.spawn(async {
            tokio::task::yield_now().await;
            42
        });
        assert_eq!(answer.await.expect("ran"), 42);
        // A runtime dropped inside an async context panics unless stopped in the
        // background, which `Intake`'s drop does.
        drop(intake);
    }
}
