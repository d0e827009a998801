//! An incremental decoder for HTTP/1.1 `Transfer-Encoding: chunked` bodies.
//!
//! It hands out slices of the input it is fed (no copy), keeps its state between
//! reads, and accepts bare `\n` where `\r\n` is due.

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("bad chunk size byte {0:#04x}")]
    BadSize(u8),
    #[error("chunk size too large")]
    TooLarge,
    #[error("missing line break after chunk data (got {0:#04x})")]
    MissingCrlf(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size; `digits` counts them.
    Size {
        value: u64,
        digits: u8,
    },
    /// Skipping a chunk extension up to the end of the size line.
    Extension {
        value: u64,
    },
    /// Size line ended with `\r`; the `\n` is due.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data: bytes left.
    Data(u64),
    /// After the data: `\r\n` (or a bare `\n`).
    DataCr,
    DataLf,
    /// After the last (zero) chunk: trailer lines until an empty one.
    Trailer {
        line_start: bool,
    },
    Done,
}

/// The decoder's state between reads.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }
}

impl ChunkedDecoder {
    /// True once the terminating zero-size chunk and its trailer were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, passing each run of body bytes to `out`.
    pub fn feed<'a>(
        &mut self,
        input: &'a [u8],
        mut out: impl FnMut(&'a [u8]),
    ) -> Result<(), ChunkError> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data(left) = self.state {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                out(&input[i..i + take]);
                i += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            let byte = input[i];
            i += 1;
            self.state = self.step(byte)?;
        }
        Ok(())
    }

    /// One byte outside chunk data.
    fn step(&self, byte: u8) -> Result<State, ChunkError> {
        Ok(match self.state {
            State::Size { value, digits } => match byte {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 15 {
                        return Err(ChunkError::TooLarge);
                    }
                    let digit = match byte {
                        b'0'..=b'9' => byte - b'0',
                        b'a'..=b'f' => byte - b'a' + 10,
                        _ => byte - b'A' + 10,
                    };
                    State::Size {
                        value: value * 16 + u64::from(digit),
                        digits: digits + 1,
                    }
                }
                b';' | b' ' | b'\t' if digits > 0 => State::Extension { value },
                b'\r' if digits > 0 => State::SizeLf { value },
                b'\n' if digits > 0 => Self::after_size(value),
                other => return Err(ChunkError::BadSize(other)),
            },
            State::Extension { value } => match byte {
                b'\r' => State::SizeLf { value },
                b'\n' => Self::after_size(value),
                _ => State::Extension { value },
            },
            State::SizeLf { value } => match byte {
                b'\n' => Self::after_size(value),
                other => return Err(ChunkError::BadSize(other)),
            },
            State::DataCr => match byte {
                b'\r' => State::DataLf,
                b'\n' => Self::new_size(),
                other => return Err(ChunkError::MissingCrlf(other)),
            },
            State::DataLf => match byte {
                b'\n' => Self::new_size(),
                other => return Err(ChunkError::MissingCrlf(other)),
            },
            State::Trailer { line_start } => match byte {
                b'\n' if line_start => State::Done,
                b'\n' => State::Trailer { line_start: true },
                b'\r' => State::Trailer { line_start },
                _ => State::Trailer { line_start: false },
            },
            // Bytes after the end (a pipelined response we never asked for): ignored.
            State::Done | State::Data(_) => self.state,
        })
    }

    fn after_size(value: u64) -> State {
        if value == 0 {
            State::Trailer { line_start: true }
        } else {
            State::Data(value)
        }
    }

    fn new_size() -> State {
        State::Size {
            value: 0,
            digits: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(wire: &[u8], piece: usize) -> (Vec<u8>, bool) {
        let mut decoder = ChunkedDecoder::default();
        let mut body = Vec::new();
        for part in wire.chunks(piece) {
            decoder
                .feed(part, |bytes| body.extend_from_slice(bytes))
                .expect("valid chunked body");
        }
        (body, decoder.is_done())
    }

    #[test]
    fn decodes_whatever_the_read_boundaries() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for piece in 1..wire.len() {
            assert_eq!(
                decode_in_pieces(wire, piece),
                (b"hello, world".to_vec(), true),
                "piece size {piece}"
            );
        }
    }

    #[test]
    fn accepts_bare_line_feeds_and_upper_case_hex() {
        let (body, done) = decode_in_pieces(b"A\nabcdefghij\n0\n\n", 3);
        assert_eq!(body, b"abcdefghij");
        assert!(done);
    }

    #[test]
    fn rejects_a_bad_size() {
        let mut decoder = ChunkedDecoder::default();
        assert_eq!(
            decoder.feed(b"zz\r\n", |_| {}),
            Err(ChunkError::BadSize(b'z'))
        );
        let mut decoder = ChunkedDecoder::default();
        assert_eq!(
            decoder.feed(b"3\r\nabcX", |_| {}),
            Err(ChunkError::MissingCrlf(b'X'))
        );
    }
}
