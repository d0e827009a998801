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
