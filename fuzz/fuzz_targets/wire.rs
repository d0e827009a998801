//! What every target checks of the bytes it would put on the wire.

/// Every line is a field TaskHub writes; no carriage return anywhere.
pub fn assert_clean(wire: &[u8]) {
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
        assert!(known, "unexpected line {line:?}");
    }
}
