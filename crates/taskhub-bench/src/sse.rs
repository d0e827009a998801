//! An incremental Server-Sent Events parser that reports, per event, the benchmark
//! [`Token`] its `data:` lines carry (if any).
//!
//! It follows the event-stream grammar as far as a benchmark needs: lines end in `\n` or
//! `\r\n`; a blank line dispatches the event if it had a `data` field; comments (`:`)
//! and other fields (`id`, `event`, `retry`) are skipped. Only the first token of an
//! event counts (the seed's double framing puts all of it in its first `data:` line).

use crate::token::Token;

/// Longest line kept across reads; a longer one is dropped (and its event, if it
/// carried the token, counts as a tokenless event).
const MAX_LINE: usize = 1 << 20;

/// The parser's state between reads.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The event being assembled: did it have a `data` field, and its token.
    has_data: bool,
    token: Option<Token>,
}

impl SseParser {
    /// Parses `input`, calling `on_event` with each complete event's token (`None` for
    /// events without one, such as TaskHub's `connected`).
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(Option<Token>)) {
        let mut rest = input;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                self.line(&rest[..end], &mut on_event);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                self.line(&line, &mut on_event);
                line.clear();
                self.partial = line;
            }
            rest = &rest[end + 1..];
        }
        if self.partial.len() + rest.len() <= MAX_LINE {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
        }
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(Option<Token>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(self.token.take());
            }
            self.has_data = false;
            self.token = None;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let name_end = memchr::memchr(b':', line).unwrap_or(line.len());
        if &line[..name_end] == b"data" {
            self.has_data = true;
            if self.token.is_none() {
                self.token = Token::find(&line[name_end..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(wire: &[u8], piece: usize) -> Vec<Option<Token>> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for part in wire.chunks(piece) {
            parser.feed(part, |token| events.push(token));
        }
        events
    }

    fn token(seq: u64) -> Token {
        Token {
            publisher: 0,
            seq,
            sent_micros: 7,
        }
    }

    #[test]
    fn reads_each_servers_framing() {
        let taskhub = "retry: 3000\nevent: connected\ndata: {\"event\":\"connected\"}\n\n\
            : keepalive\n\nid: 1\nevent: bench\ndata: {\"id\":\"1\",\"data\":{\"k\":\"~0~1~7~\"}}\n\n";
        let seed = "data: data: {\"event\": \"connected\"}\r\ndata: \r\ndata: \r\n\r\n\
            data: data: {\"data\": {\"status\": \"~0~2~7~\"}}\r\ndata: \r\ndata: \r\n\r\n";
        let nchan = ": hi\n\nevent: bench\nid: 1795520833:0\ndata: {\"k\":\"~0~3~7~\"}\n\n";
        for piece in [1, 2, 7, 1000] {
            assert_eq!(parse(taskhub.as_bytes(), piece), [None, Some(token(1))]);
            assert_eq!(parse(seed.as_bytes(), piece), [None, Some(token(2))]);
            assert_eq!(parse(nchan.as_bytes(), piece), [Some(token(3))]);
        }
    }

    #[test]
    fn needs_the_blank_line_to_dispatch() {
        assert_eq!(parse(b"data: ~0~1~7~\n", 4), []);
        assert_eq!(parse(b"id: 4\n\n", 4), []);
    }
}
