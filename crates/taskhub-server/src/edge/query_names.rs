//! Unknown query parameters: `?type=` for `?types=` would otherwise be ignored in silence
//! and the client would stream everything. [`reject_unknown`] refuses a query naming a
//! parameter an endpoint does not know with a 400 that names it and the nearest known
//! one. Names starting with `_` pass: clients add them as cache busters (`?_=1712…`).
//!
//! Each endpoint keeps its list of known names next to its query struct, so adding a
//! parameter is one line there.

use crate::error::ApiError;

/// Fails with a 400 `invalid-parameter` problem for the first parameter of `raw_query`
/// (the URI's query, still percent-encoded) whose name is not in `known` and does not
/// start with `_`.
pub(crate) fn reject_unknown(raw_query: Option<&str>, known: &[&str]) -> Result<(), ApiError> {
    let Some(query) = raw_query else {
        return Ok(());
    };
    for (name, _) in form_urlencoded::parse(query.as_bytes()) {
        if name.is_empty() || name.starts_with('_') || known.contains(&name.as_ref()) {
            continue;
        }
        let mut detail = format!("unknown query parameter \"{name}\"");
        if let Some(nearest) = nearest(&name, known) {
            detail.push_str(&format!("; did you mean \"{nearest}\"?"));
        }
        detail.push_str(&format!(" This endpoint takes: {}", known.join(", ")));
        return Err(ApiError::BadParameter {
            param: name.into_owned(),
            detail,
        });
    }
    Ok(())
}

/// The known name closest to `name` in edits (the first of equals, in `known`'s order).
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .copied()
        .min_by_key(|candidate| edit_distance(&name.to_lowercase(), candidate))
}

/// Levenshtein distance over characters: insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["types", "topics", "last_event_id", "typed", "access_token"];

    fn refused(query: &str) -> (String, String) {
        match reject_unknown(Some(query), KNOWN) {
            Err(ApiError::BadParameter { param, detail }) => (param, detail),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn known_names_cache_busters_and_no_query_pass() {
        assert!(reject_unknown(None, KNOWN).is_ok());
        assert!(reject_unknown(Some(""), KNOWN).is_ok());
        assert!(reject_unknown(Some("types=a&topics=b&typed=false&_=123&_cb"), KNOWN).is_ok());
        assert!(reject_unknown(Some("last_event_id=4&access_token=x"), KNOWN).is_ok());
    }

    #[test]
    fn an_unknown_name_is_named_with_the_nearest_known_one() {
        let (param, detail) = refused("type=task_updated");
        assert_eq!(param, "type");
        assert_eq!(
            detail,
            "unknown query parameter \"type\"; did you mean \"types\"? This endpoint takes: \
             types, topics, last_event_id, typed, access_token"
        );
        assert_eq!(refused("types=a&topic=b").0, "topic");
        assert!(refused("topic=b").1.contains("did you mean \"topics\""));
        assert!(
            refused("lastEventId=3")
                .1
                .contains("did you mean \"last_event_id\"")
        );
        assert!(refused("Types=a").1.contains("did you mean \"types\""));
    }

    #[test]
    fn names_are_percent_decoded() {
        assert!(reject_unknown(Some("%74ypes=a"), KNOWN).is_ok());
        assert_eq!(refused("ty%70e=a").0, "type");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("type", "types"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
