//! A slowloris connection ([`Role::SlowHead`](crate::protocol::Role)): the start of a
//! stream request's head, then one more header line a second, never the blank line that
//! would end it; held until the server closes it (at its header timeout).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;
use crate::subscriber::{self, Spec};

/// Time between two header lines.
const DRIP: Duration = Duration::from_secs(1);
/// One more header line.
const LINE: &[u8] = b"X-Slow: 1\r\n";

/// Connects and sends `spec.request` without the blank line that ends it.
pub async fn open(spec: &Spec) -> Result<TcpStream, BenchError> {
    let mut stream = subscriber::connect(spec).await?;
    let head = spec.request.strip_suffix(b"\r\n").unwrap_or(&spec.request);
    stream
        .write_all(head)
        .await
        .map_err(BenchError::io("sending a partial request head"))?;
    Ok(stream)
}

/// Sends a header line every [`DRIP`] until the server closes the connection (or a read
/// or write fails, which counts as closed too). Whatever the server answers is read and
/// ignored.
pub async fn hold(mut stream: TcpStream) {
    let mut answer = [0u8; 512];
    loop {
        tokio::select! {
            read = stream.read(&mut answer) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            () = tokio::time::sleep(DRIP) => {
                if stream.write_all(LINE).await.is_err() {
                    return;
                }
            }
        }
    }
}
