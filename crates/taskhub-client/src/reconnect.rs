//! When to try again: after the server's `retry:` value, or its `Retry-After` on a refusal.

use std::time::Duration;

use reqwest::StatusCode;

/// The wait before the server has sent any `retry:` (the contract's default).
pub(crate) const DEFAULT_RETRY: Duration = Duration::from_millis(3000);

/// Whether a refusal is worth retrying: rate limited, at capacity or a server fault. Every
/// other 4xx (bad credentials, bad filter, wrong URL) will not get better by waiting.
pub(crate) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The wait before the next attempt: `Retry-After` in its delay-seconds form when the server
/// sent one, else the stream's `retry`. (The HTTP-date form is not used by TaskHub.)
pub(crate) fn reconnect_delay(retry: Duration, retry_after: Option<&str>) -> Duration {
    retry_after
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(retry, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_win_over_the_retry_value() {
        let retry = Duration::from_millis(50);
        assert_eq!(reconnect_delay(retry, None), retry);
        assert_eq!(reconnect_delay(retry, Some("5")), Duration::from_secs(5));
        assert_eq!(reconnect_delay(retry, Some(" 0 ")), Duration::ZERO);
        for unusable in ["", "-1", "1.5", "Wed, 21 Oct 2026 07:28:00 GMT"] {
            assert_eq!(
                reconnect_delay(retry, Some(unusable)),
                retry,
                "{unusable:?}"
            );
        }
        assert_eq!(reconnect_delay(DEFAULT_RETRY, None), Duration::from_secs(3));
    }

    #[test]
    fn only_rate_limits_and_server_faults_are_retried() {
        for code in [429, 500, 502, 503, 504] {
            assert!(
                is_transient(StatusCode::from_u16(code).expect("code")),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 410, 422] {
            assert!(
                !is_transient(StatusCode::from_u16(code).expect("code")),
                "{code}"
            );
        }
    }
}
