//! What the wire must look like, checked by the property tests here and by the fuzz
//! targets in `fuzz/` (which include this file by path).

/// Every line is a field TaskHub writes, each `data:` line a whole JSON value, and there
/// is no carriage return anywhere.
pub(crate) fn assert_clean(wire: &[u8]) {
    let text = std::str::from_utf8(wire).expect("UTF-8 on the wire");
    assert!(
        !text.contains('\r'),
        "a carriage return on the wire: {text:?}"
    );
    for line in text.split('\n') {
        let known = line.is_empty()
            || ["id: ", "event: ", "data: ", "retry: ", ": "]
                .iter()
                .any(|field| line.starts_with(field));
        assert!(known, "unexpected line {line:?} in {text:?}");
        if let Some(data) = line.strip_prefix("data: ") {
            serde_json::from_str::<serde_json::Value>(data)
                .expect("each data line is a whole JSON value");
        }
    }
}

/// A Mercure frame: exactly one `id:` line (the update's id), at most one `event:` and one
/// `retry:`, then `data:` lines, and no carriage return; so whatever its data holds, the
/// subscriber sees the fields the publisher set and no others.
#[allow(dead_code)] // Not every includer checks Mercure frames.
pub(crate) fn assert_clean_mercure(wire: &[u8], id: &str, event: Option<&str>) {
    let text = std::str::from_utf8(wire).expect("UTF-8 on the wire");
    assert!(
        !text.contains('\r'),
        "a carriage return on the wire: {text:?}"
    );
    let body = text
        .strip_suffix("\n\n")
        .expect("a frame ends with a blank line");
    let lines: Vec<&str> = body.split('\n').collect();
    let count = |field: &str| lines.iter().filter(|l| l.starts_with(field)).count();
    assert_eq!(
        lines.first().copied(),
        Some(format!("id: {id}").as_str()),
        "{text:?}"
    );
    assert_eq!(count("id: "), 1, "{text:?}");
    assert_eq!(count("event: "), usize::from(event.is_some()), "{text:?}");
    if let Some(event) = event {
        assert!(
            lines.contains(&format!("event: {event}").as_str()),
            "{text:?}"
        );
    }
    assert!(count("retry: ") <= 1, "{text:?}");
    let first_data = lines
        .iter()
        .position(|l| l.starts_with("data: "))
        .expect("data");
    assert!(
        lines[first_data..].iter().all(|l| l.starts_with("data: ")),
        "only data lines after the first: {text:?}"
    );
}
