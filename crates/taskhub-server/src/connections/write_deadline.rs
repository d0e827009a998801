//! A connection whose client stops reading is closed: [`WriteDeadline`] fails a write
//! that has made no progress for `--write-timeout-secs`.
//!
//! A subscriber that never reads fills its socket; hyper then stops polling the stream,
//! which so never learns it lagged (see `subscription`), and without this the connection,
//! and its `--max-clients` slot, would be held for as long as the client's TCP stack
//! keeps the window shut. A client that reads, however slowly, makes progress and is
//! never cut off.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::metrics::METRICS;

/// Wraps a connection's byte stream.
#[derive(Debug)]
pub(crate) struct WriteDeadline<T> {
    inner: T,
    limit: Duration,
    /// Armed when a write could not proceed; fires `limit` later unless one did. Kept
    /// and re-armed rather than rebuilt: a busy stream near its socket's capacity stalls
    /// and resumes often.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<T> WriteDeadline<T> {
    pub(crate) fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            timer: None,
            armed: false,
        }
    }

    /// Passes a write's result on; a write pending for `limit` becomes an error.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.armed = false;
            return result;
        }
        let deadline = Instant::now() + self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        ready!(timer.as_mut().poll(cx));
        METRICS.write_timeouts.inc();
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client left the response unread for longer than --write-timeout-secs",
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, result)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_stuck_for_the_limit_fails_and_progress_resets_it() {
        // A pipe whose reader holds 16 bytes and reads only when told to.
        let (client, server) = tokio::io::duplex(16);
        let mut guarded = WriteDeadline::new(server, Duration::from_secs(5));
        guarded.write_all(&[0; 16]).await.expect("fits");
        let mut client = client;
        let reader = tokio::spawn(async move {
            // Reads a little after 4 s, then never again.
            tokio::time::sleep(Duration::from_secs(4)).await;
            let mut buf = [0; 8];
            tokio::io::AsyncReadExt::read_exact(&mut client, &mut buf)
                .await
                .expect("read");
            client
        });
        let started = Instant::now();
        guarded
            .write_all(&[0; 8])
            .await
            .expect("progress came in time");
        assert_eq!(started.elapsed(), Duration::from_secs(4));
        let error = guarded.write_all(&[0; 8]).await.expect_err("stalled");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(9),
            "5 s after the last progress"
        );
        drop(reader.await);
    }
}
