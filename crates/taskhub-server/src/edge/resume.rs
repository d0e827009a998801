//! Where a subscriber resumes: the `Last-Event-ID` header, or a query parameter for
//! clients that cannot set headers. Both protocols' subscribe endpoints read it here.

use axum::http::HeaderMap;

/// The id to resume after, if any: the header wins over the query parameter, and an
/// empty value means "from now". A header that is not UTF-8 is still a (garbage) id, so
/// it gets the protocol's answer for an unknown id rather than a silent start from now.
pub(crate) fn last_event_id(headers: &HeaderMap, from_query: Option<String>) -> Option<String> {
    headers
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or(from_query)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_header_wins_and_empty_means_from_now() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            last_event_id(&headers, Some("7".into())).as_deref(),
            Some("7")
        );
        assert_eq!(last_event_id(&headers, Some(String::new())), None);
        headers.insert("last-event-id", HeaderValue::from_static("9"));
        assert_eq!(
            last_event_id(&headers, Some("7".into())).as_deref(),
            Some("9")
        );
        headers.insert("last-event-id", HeaderValue::from_static(""));
        assert_eq!(last_event_id(&headers, Some("7".into())), None);
        let garbage = HeaderValue::from_bytes(b"\xff1").expect("an opaque header value");
        headers.insert("last-event-id", garbage);
        assert_eq!(last_event_id(&headers, None).as_deref(), Some("\u{fffd}1"));
    }
}
