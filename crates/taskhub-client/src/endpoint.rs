//! Server URLs: the base URL the user gives, joined with an endpoint's path and query;
//! and how the client introduces itself.

use reqwest::Url;

use crate::error::ClientError;

/// The server's base URL when the user gives none.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";

/// Sent as `User-Agent` on every request.
pub(crate) const USER_AGENT: &str = concat!("taskhub/", env!("CARGO_PKG_VERSION"));

/// `base` joined with `path` (segments separated by `/`), whether or not `base` ends in `/`.
/// A base with a path prefix (`http://host/taskhub/`) keeps it.
pub(crate) fn endpoint(base: &str, path: &str) -> Result<Url, ClientError> {
    let invalid = |reason: String| ClientError::InvalidUrl {
        url: base.to_owned(),
        reason,
    };
    let mut url = Url::parse(base.trim()).map_err(|e| invalid(e.to_string()))?;
    if url.scheme() != "http" {
        // reqwest is built without TLS here; refusing now beats retrying forever in `listen`.
        return Err(invalid(format!(
            "scheme {:?} is not supported, use http://",
            url.scheme()
        )));
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| invalid("it cannot have a path".to_owned()))?
        .pop_if_empty()
        .extend(path.split('/'));
    Ok(url)
}

/// `GET /events/stream` with the `types` and `topics` lists passed through, percent-encoded.
pub(crate) fn stream_url(
    base: &str,
    types: Option<&str>,
    topics: Option<&str>,
) -> Result<Url, ClientError> {
    let mut url = endpoint(base, "events/stream")?;
    let pairs: Vec<_> = [("types", types), ("topics", topics)]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(result: Result<Url, ClientError>) -> String {
        result.expect("valid URL").to_string()
    }

    #[test]
    fn joins_paths_with_or_without_a_trailing_slash() {
        for base in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/",
            " http://127.0.0.1:8000 ",
        ] {
            assert_eq!(
                url(endpoint(base, "events")),
                "http://127.0.0.1:8000/events"
            );
        }
        assert_eq!(
            url(endpoint("http://hub.local/taskhub/", "events/stream")),
            "http://hub.local/taskhub/events/stream"
        );
        assert_eq!(
            url(endpoint("http://hub.local/taskhub?x=1#f", "events")),
            "http://hub.local/taskhub/events"
        );
    }

    #[test]
    fn encodes_the_filter_lists_as_query_parameters() {
        assert_eq!(
            url(stream_url(DEFAULT_BASE_URL, None, None)),
            "http://127.0.0.1:8000/events/stream"
        );
        assert_eq!(
            url(stream_url(
                "http://127.0.0.1:8000/",
                Some("task_*,deploy"),
                Some("tasks/42,a b&c=d")
            )),
            "http://127.0.0.1:8000/events/stream?types=task_*%2Cdeploy&topics=tasks%2F42%2Ca+b%26c%3Dd"
        );
        assert_eq!(
            url(stream_url("http://h", None, Some("deploys/*"))),
            "http://h/events/stream?topics=deploys%2F*"
        );
    }

    #[test]
    fn rejects_what_it_cannot_reach() {
        for base in [
            "",
            "127.0.0.1:8000",
            "not a url",
            "ftp://h/",
            "https://h/",
            "data:text",
        ] {
            let err = endpoint(base, "events").expect_err(base);
            assert!(
                matches!(err, ClientError::InvalidUrl { .. }),
                "{base}: {err:?}"
            );
        }
    }
}
