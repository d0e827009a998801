//! What the round-trip property tests share: strings that stress a line-based format,
//! and an independent SSE parser (`eventsource-stream`) fed as a socket would feed it.

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use proptest::prelude::*;

/// Strings that stress a line-based format: newlines of every kind, NUL, a field
/// lookalike, unicode.
pub(crate) fn nasty_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("\r\n".to_owned()),
            Just("\0".to_owned()),
            Just("data: x".to_owned()),
            Just("id: forged".to_owned()),
            Just(" ".to_owned()),
            Just("\u{2028}".to_owned()),
            any::<char>().prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// Parses a byte stream cut into chunks of `chunk` bytes.
pub(crate) fn parse(bytes: Vec<u8>, chunk: usize) -> Vec<eventsource_stream::Event> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(chunk.max(1)).map(|c| Ok(c.to_vec())).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        futures_util::stream::iter(chunks)
            .eventsource()
            .map(|event| event.expect("valid SSE"))
            .collect()
            .await
    })
}
