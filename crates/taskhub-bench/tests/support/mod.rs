//! A deliberately faulty SSE server, speaking TaskHub's protocol (`POST /events`,
//! `GET /events/stream`, chunked responses), for testing the load generator's checks.
//!
//! Faults are chosen by each event's sequence number, the same for every subscriber:
//! drop `seq % 10 == 3`, send `seq % 10 == 5` twice, hold `seq % 10 == 7` and send it
//! after `seq % 10 == 8`; and optionally end every stream after a number of events.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use taskhub_bench::token::Token;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// Which faults the server commits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub drop: bool,
    pub duplicate: bool,
    pub reorder: bool,
    /// End each stream after this many events.
    pub close_after: Option<usize>,
}

#[derive(Debug)]
struct State {
    faults: Faults,
    frames: broadcast::Sender<Vec<u8>>,
    held: Mutex<Option<Vec<u8>>>,
}

/// Starts the server on a free loopback port.
pub async fn spawn(faults: Faults) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (frames, _) = broadcast::channel(65_536);
    let state = Arc::new(State {
        faults,
        frames,
        held: Mutex::new(None),
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&state)));
        }
    });
    addr
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end + 4);
        if head.starts_with("GET /events/stream") {
            stream_events(stream, &state).await;
            return;
        }
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();
        if let Some(token) = Token::find(&body) {
            publish(&state, token);
        }
        let answer = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n{\"id\":1}";
        if stream.write_all(answer).await.is_err() {
            return;
        }
    }
}

fn publish(state: &State, token: Token) {
    let frame = |t: &Token| {
        format!(
            "id: {}\nevent: bench\ndata: {{\"id\":\"{}\",\"data\":{{\"k\":\"{t}\"}}}}\n\n",
            t.seq, t.seq
        )
        .into_bytes()
    };
    let f = state.faults;
    let send = |bytes: Vec<u8>| {
        let _ = state.frames.send(bytes);
    };
    match token.seq % 10 {
        3 if f.drop => {}
        5 if f.duplicate => {
            send(frame(&token));
            send(frame(&token));
        }
        7 if f.reorder => {
            if let Ok(mut held) = state.held.lock() {
                *held = Some(frame(&token));
            }
        }
        8 if f.reorder => {
            send(frame(&token));
            let held = state.held.lock().ok().and_then(|mut h| h.take());
            if let Some(held) = held {
                send(held);
            }
        }
        _ => send(frame(&token)),
    }
}

async fn stream_events(mut stream: TcpStream, state: &State) {
    let mut frames = state.frames.subscribe();
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    let preamble = b"retry: 3000\nevent: connected\ndata: {\"event\":\"connected\"}\n\n";
    if stream.write_all(head.as_bytes()).await.is_err()
        || stream.write_all(&chunk(preamble)).await.is_err()
    {
        return;
    }
    let mut sent = 0;
    while let Ok(frame) = frames.recv().await {
        if state.faults.close_after.is_some_and(|n| sent >= n) {
            let _ = stream.write_all(b"0\r\n\r\n").await;
            return;
        }
        if stream.write_all(&chunk(&frame)).await.is_err() {
            return;
        }
        sent += 1;
    }
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}
