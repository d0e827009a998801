//! How the binary reports the error that stops it: one line on stderr, `taskhub: ` and
//! each cause that adds something (most errors already quote their cause, which anyhow
//! would list again). With `RUST_LOG` at `debug` or finer the whole chain follows, a
//! cause a line.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Prints `error` to stderr.
pub(crate) fn report(error: &anyhow::Error) {
    eprintln!("taskhub: {}", one_line(error));
    if debug_wanted() {
        eprintln!("\nThe whole chain:");
        for (depth, cause) in error.chain().enumerate() {
            eprintln!("  {depth}: {cause}");
        }
    }
}

/// The chain's messages joined with `: `, leaving out any already said by the message
/// before it.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if line.contains(&message) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&message);
    }
    line
}

/// Whether `RUST_LOG` asks for debug output (of any target).
fn debug_wanted() -> bool {
    EnvFilter::try_from_default_env()
        .ok()
        .and_then(|filter| filter.max_level_hint())
        .is_some_and(|level| level >= LevelFilter::DEBUG)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that quotes its cause, as the server's errors do.
    #[derive(Debug)]
    struct Bind {
        source: std::io::Error,
    }

    impl std::fmt::Display for Bind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot listen on 127.0.0.1:8000: {}", self.source)
        }
    }

    impl std::error::Error for Bind {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_quoted_by_its_error_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let error = anyhow::Error::from(Bind { source: io });
        assert_eq!(
            one_line(&error),
            "cannot listen on 127.0.0.1:8000: address in use"
        );
    }

    #[test]
    fn a_context_and_a_new_cause_are_joined() {
        let error = anyhow::anyhow!("not a directory").context("cannot open the store");
        assert_eq!(one_line(&error), "cannot open the store: not a directory");
    }
}
