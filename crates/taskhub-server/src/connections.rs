//! The accept loop: one task per TCP connection, each serving HTTP/1.1 or HTTP/2, over
//! TLS when a certificate is configured, with the limits that keep a hostile or broken
//! client from holding resources.
//!
//! We own this loop (rather than `axum::serve`) for what axum does not expose: a deadline
//! on the TLS handshake and on reading request headers (slowloris), one on writes to a
//! client that stopped reading (`write_deadline`), a cap on header size,
//! TCP_NODELAY on every socket, the peer address and a request id for every request, and
//! a drain with a deadline.
//!
//! Protocols: hyper-util's `auto` builder looks at a connection's first bytes and serves
//! HTTP/2 if they are its preface, HTTP/1.1 otherwise. Over TLS, ALPN offers `h2` first,
//! so browsers multiplex every event stream to the origin on one connection; in plain
//! text HTTP/1.1 is what clients speak, and HTTP/2 with prior knowledge (h2c) works too.

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{Instrument, debug, warn};

use crate::request_id;
use crate::write_deadline::WriteDeadline;

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

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open
/// connections to finish, at most `grace`. With `tls`, every connection is TLS.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
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
    let graceful = GracefulShutdown::new();

    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small frames must leave at once, not wait for a delayed ACK (Nagle).
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let (id, span) = request_id::start(&request);
            let response = router.clone().oneshot(request);
            async move {
                let mut response = response.await?;
                debug!(status = response.status().as_u16(), "answered");
                response.headers_mut().insert(request_id::REQUEST_ID, id);
                Ok::<_, std::convert::Infallible>(response)
            }
            .instrument(span)
        });
        let http = http.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        // The handshake runs in the connection's task, never in the accept loop.
        tokio::spawn(async move {
            let Some(transport) = handshake(tcp, tls, limits.header_read_timeout).await else {
                return;
            };
            let transport = WriteDeadline::new(transport, limits.write_timeout);
            let connection = http.serve_connection(TokioIo::new(transport), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => warn!("grace period over; closing the remaining connections"),
    }
}

/// The connection's byte stream once TLS (if any) is established; `None` if the
/// handshake failed or took longer than `deadline`.
async fn handshake(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    deadline: Duration,
) -> Option<Box<dyn Transport>> {
    let Some(tls) = tls else {
        return Some(Box::new(tcp));
    };
    match tokio::time::timeout(deadline, tls.accept(tcp)).await {
        Ok(Ok(stream)) => Some(Box::new(stream)),
        Ok(Err(e)) => {
            debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            debug!("TLS handshake timed out");
            None
        }
    }
}
