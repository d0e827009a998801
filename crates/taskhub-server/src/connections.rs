//! The accept loop: one task per TCP connection, each serving HTTP/1.1 with the limits
//! that keep a hostile or broken client from holding resources.
//!
//! We own this loop (rather than `axum::serve`) for what axum does not expose: a deadline
//! on reading request headers (slowloris), a cap on header size, TCP_NODELAY on every
//! socket, the peer address for every request, and a drain with a deadline.

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{Instrument, debug, warn};

use crate::request_id;

/// Per-connection limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    /// Time a client has to send a request's headers once it started one, or to start
    /// one on an idle keep-alive connection.
    pub(crate) header_read_timeout: Duration,
    /// Largest request head (request line and headers); more is answered 431.
    pub(crate) max_header_bytes: usize,
}

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open
/// connections to finish, at most `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    grace: Duration,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Room for heads a little over the limit, so that `http::head_limit` answers them
        // with a problem+json body; hyper refuses larger ones by itself.
        .max_buf_size(limits.max_header_bytes.saturating_mul(2).max(16 * 1024));
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
        let connection = http.serve_connection(TokioIo::new(tcp), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
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
