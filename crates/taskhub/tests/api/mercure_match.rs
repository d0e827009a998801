//! Mercure 1.0's topic matchers on the hub's subscriptions (draft-08, "Subscription" and
//! "Matcher Types"): `match=` / `match_exact=` byte for byte, `match_urlpattern=` WHATWG
//! URL Patterns (relative ones against the hub's URL), `*` for every topic, the reserved
//! `match` namespace and the limits; combined with draft-07's `topic=`; and private
//! updates, which still need a grant whatever the routing matcher selects.

use crate::helpers::problem;
use crate::mercure::{
    BOOK_1, form, hub, ids_until, publish, subscribe, subscribe_request, subscriber,
};

const END: &str = "https://example.com/end";

/// A subscription's `(parameter, value)` pairs and the ids its stream must receive.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

/// A subscription query of these `(parameter, value)` pairs, plus `match=END` so that each
/// stream can be read up to the last update.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.push(("match", END));
    form(&pairs)
}

/// Publishes each `(id, topics)` update, then the one on `END`.
async fn publish_all(app: &crate::helpers::TestApp, updates: &[(&str, Vec<&str>)]) {
    for (id, topics) in updates {
        let mut pairs: Vec<(&str, &str)> = topics.iter().map(|t| ("topic", *t)).collect();
        pairs.push(("id", id));
        publish(app, &pairs).await;
    }
    publish(app, &[("topic", END), ("id", "end")]).await;
}

#[tokio::test]
async fn url_patterns_match_named_groups_wildcards_and_relative_patterns() {
    let app = hub(&["--mercure-anonymous"]).await;
    // The hub's own URL, as the client reached it: relative patterns and topics resolve
    // against it.
    let own = app.url("/books/3");
    let cases: &[(&str, &[&str])] = &[
        (
            "https://example.com/books/:id",
            &["book-1", "book-x", "alternate"],
        ),
        (
            "https://example.com/books/:id(\\d+)",
            &["book-1", "alternate"],
        ),
        (
            "https://example.com/books/*",
            &["book-1", "book-x", "review", "alternate"],
        ),
        ("https://example.com/books/:id/reviews/:review", &["review"]),
        ("https://*.example.com/*", &["subdomain"]),
        ("/books/:id", &["own-host", "relative"]),
        // Beside the hub's path, as relative URLs resolve: `/.well-known/books/:id`.
        ("books/:id", &[]),
        ("tasks/:id", &["task"]),
        (
            "*",
            &[
                "book-1",
                "book-x",
                "review",
                "subdomain",
                "own-host",
                "relative",
                "task",
                "alternate",
                "case",
                "no-url",
                "elsewhere",
            ],
        ),
    ];
    let mut streams = Vec::new();
    for (pattern, _) in cases {
        let (_, sse) = subscribe(&app, &query(&[("match_urlpattern", pattern)]), None, None).await;
        streams.push(sse);
    }
    publish_all(
        &app,
        &[
            ("book-1", vec![BOOK_1]),
            ("book-x", vec!["https://example.com/books/x"]),
            ("review", vec!["https://example.com/books/1/reviews/2"]),
            ("subdomain", vec!["https://api.example.com/a"]),
            ("own-host", vec![own.as_str()]),
            ("relative", vec!["/books/9"]),
            // A TaskHub-style topic, relative without a leading `/`.
            ("task", vec!["tasks/42"]),
            // Its canonical topic is no URL a pattern here matches; its alternate is.
            (
                "alternate",
                vec!["urn:other:thing", "https://example.com/books/7"],
            ),
            // Paths are case-sensitive.
            ("case", vec!["https://example.com/BOOKS/1"]),
            // Not a URL at all: no pattern but `*` matches it.
            ("no-url", vec!["http://[oops/books/1"]),
            ("elsewhere", vec!["https://elsewhere.example/books/1"]),
        ],
    )
    .await;
    for ((pattern, expected), mut sse) in cases.iter().zip(streams) {
        assert_eq!(ids_until(&mut sse, "end").await, *expected, "{pattern}");
    }
}

#[tokio::test]
async fn exact_matchers_match_byte_for_byte_and_star_matches_everything() {
    let app = hub(&["--mercure-anonymous"]).await;
    let template = "https://example.com/books/{id}";
    let everything = ["book-1", "book-2", "template", "relative"];
    let cases: &[Case<'_>] = &[
        (&[("match", BOOK_1)], &["book-1"]),
        (&[("match_exact", BOOK_1)], &["book-1"]),
        // Never read as a URI template, never resolved against the hub.
        (&[("match", template)], &["template"]),
        (&[("match", "/books/3")], &["relative"]),
        (&[("match", "https://example.com/books/1/")], &[]),
        (&[("match", "*")], &everything),
        (&[("match_exact", "*")], &everything),
        (&[("match_urlpattern", "*")], &everything),
        // Combined: a stream receives what any of its selectors matches, once.
        (
            &[
                ("match", BOOK_1),
                ("match_urlpattern", "https://example.com/books/:id"),
                ("topic", template),
            ],
            &["book-1", "book-2", "template"],
        ),
        (
            &[("match", "/books/3"), ("topic", BOOK_1)],
            &["book-1", "relative"],
        ),
    ];
    let mut streams = Vec::new();
    for (pairs, _) in cases {
        let (_, sse) = subscribe(&app, &query(pairs), None, None).await;
        streams.push(sse);
    }
    publish_all(
        &app,
        &[
            ("book-1", vec![BOOK_1]),
            ("book-2", vec!["https://example.com/books/2"]),
            ("template", vec![template]),
            ("relative", vec!["/books/3"]),
        ],
    )
    .await;
    for ((pairs, expected), mut sse) in cases.iter().zip(streams) {
        assert_eq!(ids_until(&mut sse, "end").await, *expected, "{pairs:?}");
    }
}

#[tokio::test]
async fn the_match_namespace_is_reserved_and_matchers_are_bounded() {
    let app = hub(&["--mercure-anonymous"]).await;
    let many = |name: &str, n: usize| {
        let values: Vec<String> = (0..n).map(|i| format!("/books/{i}")).collect();
        form(
            &values
                .iter()
                .map(|v| (name, v.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let long_pattern = format!("/{}", "a".repeat(1024));
    let cases: Vec<(String, &str, &str)> = vec![
        ("matches=x".into(), "matches", "reserved `match` namespace"),
        ("Match=x".into(), "Match", "reserved `match` namespace"),
        ("MATCH_EXACT=x".into(), "MATCH_EXACT", "reserved"),
        ("match_URLPattern=x".into(), "match_URLPattern", "reserved"),
        ("match_regex=x".into(), "match_regex", "reserved"),
        ("match_type=exact&match=x".into(), "match_type", "reserved"),
        ("topic=x&match_=x".into(), "match_", "reserved"),
        ("match=".into(), "match", "must not be empty"),
        (
            "match_exact=a%0Ab".into(),
            "match_exact",
            "control characters",
        ),
        (
            // U+200B ZERO WIDTH SPACE: invisible, so refused in 1.0 matchers.
            "match=a%E2%80%8Bb".into(),
            "match",
            "format characters",
        ),
        (
            "match_urlpattern=%2F%E2%80%AEbooks".into(),
            "match_urlpattern",
            "format characters",
        ),
        (
            "match_urlpattern=https%3A%2F%2Fexample.com%2Fbooks%2F%3A".into(),
            "match_urlpattern",
            "not a valid URL pattern",
        ),
        (
            // Made the `urlpattern` crate's parser panic (found by fuzzing).
            "match_urlpattern=https%3A%2F%2Fexample.com%5D%2F".into(),
            "match_urlpattern",
            "not a valid URL pattern",
        ),
        (
            "match_urlpattern=%2Fbooks%2F%3Aid(a%7B1000%7D%7B1000%7D%7B1000%7D)".into(),
            "match_urlpattern",
            "not a valid URL pattern",
        ),
        (
            many("match_urlpattern", 21),
            "match_urlpattern",
            "at most 20 URL patterns",
        ),
        (
            form(&[("match_urlpattern", long_pattern.as_str())]),
            "match_urlpattern",
            "at most 1024 bytes",
        ),
        (many("match", 101), "match", "at most 100"),
        (
            format!("{}&topic=x", many("match", 100)),
            "topic",
            "at most 100",
        ),
        (
            "lastEventID=x&matchbox=".into(),
            "matchbox",
            "reserved `match` namespace",
        ),
    ];
    for (query, parameter, detail) in cases {
        let refused = problem(subscribe_request(&app, &query, None, None).await, 400).await;
        assert_eq!(refused["parameter"], parameter, "{query}: {refused}");
        let said = refused["detail"].as_str().expect("a detail");
        assert!(said.contains(detail), "{query}: {said}");
    }
    // At the limits, and with a name that only contains `match`, a stream opens.
    for query in [
        many("match_urlpattern", 20),
        form(&[("match_urlpattern", &long_pattern[..1024])]),
        many("match", 100),
        "topic=x&rematch=1".into(),
    ] {
        let response = subscribe_request(&app, &query, None, None).await;
        assert_eq!(response.status(), 200, "{query}");
    }
}

#[tokio::test]
async fn private_updates_need_a_grant_whatever_the_matcher_selects() {
    let app = hub(&["--mercure-anonymous"]).await;
    let books = [("match_urlpattern", "https://example.com/books/:id")];
    // The draft's examples: a reader of books 1 and 7 only, and a reader of its own
    // namespace, which private book updates reach through an alternate topic (the
    // grants are draft-07 `mercure` claims until tokens speak Mercure 1.0).
    let reader = subscriber(&["https://example.com/books/1", "https://example.com/books/7"]);
    let user_42 = subscriber(&["https://example.com/users/42/{+rest}"]);
    let everything = subscriber(&["*"]);
    let mut anonymous = subscribe(&app, &query(&books), None, None).await.1;
    let mut reader_stream = subscribe(&app, &query(&books), Some(&reader), None).await.1;
    let mut user_stream = subscribe(&app, &query(&books), Some(&user_42), None)
        .await
        .1;
    // A grant for every topic does not widen what the routing matcher selects.
    let mut exact_stream = subscribe(&app, &query(&[("match", BOOK_1)]), Some(&everything), None)
        .await
        .1;
    let private = ("private", "on");
    for (id, pairs) in [
        ("private-1", vec![("topic", BOOK_1), private]),
        (
            "private-2",
            vec![("topic", "https://example.com/books/2"), private],
        ),
        (
            "private-3-for-42",
            vec![
                ("topic", "https://example.com/books/3"),
                ("topic", "https://example.com/users/42/books/3"),
                private,
            ],
        ),
        ("public-2", vec![("topic", "https://example.com/books/2")]),
    ] {
        let mut pairs = pairs;
        pairs.push(("id", id));
        publish(&app, &pairs).await;
    }
    publish(&app, &[("topic", END), ("id", "end")]).await;
    assert_eq!(ids_until(&mut anonymous, "end").await, ["public-2"]);
    assert_eq!(
        ids_until(&mut reader_stream, "end").await,
        ["private-1", "public-2"]
    );
    assert_eq!(
        ids_until(&mut user_stream, "end").await,
        ["private-3-for-42", "public-2"]
    );
    assert_eq!(ids_until(&mut exact_stream, "end").await, ["private-1"]);
}
