//! The Mercure hub at `/.well-known/mercure` (draft-07, as Mercure 0.x hubs speak it):
//! publishing, topic selectors and URI templates, private updates, the wire format,
//! reconciliation with `Last-Event-ID`, discovery, and the one log it shares with
//! TaskHub's own events. Black-box, over HTTP, as a Mercure client would talk.

use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{
    PATIENCE, Sse, TestApp, assert_refused_at_start, envelope, problem, spawn_app, spawn_app_with,
};
use crate::scripts::Script;
use crate::tokens::{now, unsigned};

const KEY: &str = "a-mercure-test-key-of-at-least-32-bytes";
pub(crate) const BOOK_1: &str = "https://example.com/books/1";

/// A hub with `KEY` for publishers and subscribers, and these extra flags.
pub(crate) async fn hub(extra: &[&str]) -> TestApp {
    let mut args = vec!["--mercure-jwt-key", KEY];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// An HS256 token signed with `key`.
fn jwt_with(key: &str, claims: &Value) -> String {
    let key = EncodingKey::from_secret(key.as_bytes());
    encode(&Header::new(Algorithm::HS256), claims, &key).expect("token")
}

fn jwt(claims: &Value) -> String {
    jwt_with(KEY, claims)
}

/// A publisher's token for these topic selectors.
fn publisher(selectors: &[&str]) -> String {
    jwt(&json!({"mercure": {"publish": selectors}}))
}

/// A subscriber's token that may see private updates matching these selectors.
pub(crate) fn subscriber(selectors: &[&str]) -> String {
    jwt(&json!({"mercure": {"subscribe": selectors}}))
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    form.finish()
}

/// `POST /.well-known/mercure` with a form body and, if given, a bearer token.
async fn post(
    app: &TestApp,
    body: impl Into<reqwest::Body>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/.well-known/mercure"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("sent")
}

/// Publishes with an all-topics token and returns the update's id.
pub(crate) async fn publish(app: &TestApp, pairs: &[(&str, &str)]) -> String {
    let response = post(app, form(pairs), Some(&publisher(&["*"]))).await;
    assert_eq!(response.status(), 200, "published");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain"))
    );
    response.text().await.expect("the id")
}

/// Opens a Mercure subscription (`query` without the `?`).
pub(crate) async fn subscribe(
    app: &TestApp,
    query: &str,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> (HeaderMap, Sse) {
    let response = subscribe_request(app, query, token, last_event_id).await;
    assert_eq!(response.status(), 200, "subscribed");
    (response.headers().clone(), Sse::new(response))
}

pub(crate) async fn subscribe_request(
    app: &TestApp,
    query: &str,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(&format!("/.well-known/mercure?{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(id) = last_event_id {
        // Raw bytes: an id may hold non-ASCII characters, which `&str` headers refuse.
        let value = reqwest::header::HeaderValue::from_bytes(id.as_bytes()).expect("header");
        request = request.header("Last-Event-ID", value);
    }
    request.send().await.expect("sent")
}

fn topics(selectors: &[&str]) -> String {
    form(&selectors.iter().map(|s| ("topic", *s)).collect::<Vec<_>>())
}

/// The events of `sse` up to and including the one with id `last`.
async fn until(sse: &mut Sse, last: &str) -> Vec<eventsource_stream::Event> {
    let mut events = Vec::new();
    loop {
        let event = sse.expect().await;
        let done = event.id == last;
        events.push(event);
        if done {
            return events;
        }
    }
}

/// The ids of the events of `sse` up to `last`, `last` left out.
pub(crate) async fn ids_until(sse: &mut Sse, last: &str) -> Vec<String> {
    let mut ids: Vec<String> = until(sse, last).await.into_iter().map(|e| e.id).collect();
    ids.pop();
    ids
}

#[tokio::test]
async fn a_publish_answers_its_id_as_text_and_reaches_subscribers() {
    let app = hub(&[]).await;
    let (headers, mut sse) =
        subscribe(&app, &topics(&[BOOK_1]), Some(&subscriber(&[])), None).await;
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(
        headers["cache-control"]
            .to_str()
            .is_ok_and(|v| v.contains("no-store"))
    );
    assert!(
        headers.get("last-event-id").is_none(),
        "no resume, no header"
    );

    let id = publish(&app, &[("topic", BOOK_1), ("data", "hello")]).await;
    // A generated id is a urn:uuid: holding a UUIDv7.
    let uuid = id.strip_prefix("urn:uuid:").expect("a urn:uuid");
    let groups: Vec<&str> = uuid.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{id}"
    );
    assert!(groups[2].starts_with('7'), "version 7: {id}");
    assert!(
        groups[3].starts_with(['8', '9', 'a', 'b']),
        "RFC 9562 variant: {id}"
    );

    let event = sse.expect().await;
    assert_eq!(event.id, id);
    assert_eq!(event.event, "message", "no type, no event: line");
    assert_eq!(event.data, "hello");

    // Ids of later updates sort after earlier ones (UUIDv7 is time-ordered).
    let later = publish(&app, &[("topic", BOOK_1), ("data", "again")]).await;
    assert!(later > id, "{later} after {id}");
    assert_eq!(sse.expect().await.id, later);
}

#[tokio::test]
async fn the_wire_format_is_mercures() {
    let app = hub(&["--mercure-anonymous"]).await;
    let response = subscribe_request(&app, "topic=*", None, None).await;
    assert_eq!(response.status(), 200);
    let mut bytes = response.bytes_stream();
    publish(
        &app,
        &[
            ("topic", BOOK_1),
            ("id", "id-[\"x\"]"),
            ("type", "note"),
            ("retry", "2500"),
            ("data", "one\ntwo\r\n\r\nthree\rfour"),
        ],
    )
    .await;
    publish(&app, &[("topic", BOOK_1), ("id", "plain"), ("data", "")]).await;
    let expected = ":\n\
        id: id-[\"x\"]\nevent: note\nretry: 2500\n\
        data: one\ndata: two\ndata: \ndata: three\ndata: four\n\n\
        id: plain\ndata: \n\n";
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while received.len() < expected.len() {
        let chunk = tokio::time::timeout_at(deadline, bytes.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("bytes");
        received.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&received), expected);
}

#[tokio::test]
async fn selectors_match_exactly_by_uri_template_and_star_on_any_topic() {
    let app = hub(&["--mercure-anonymous"]).await;
    let end = "https://example.com/end";
    // Each subscriber also selects `end`, so its stream is read up to the last update.
    let cases: &[(&str, &[&str])] = &[
        (
            "*",
            &[
                "book-1",
                "book-2",
                "author",
                "alternate",
                "bare",
                "broken-template",
                "nothing",
            ],
        ),
        (BOOK_1, &["book-1", "alternate"]),
        (
            "https://example.com/books/{id}",
            &["book-1", "book-2", "alternate"],
        ),
        (
            "https://example.com/{+path}",
            &["book-1", "book-2", "author", "alternate"],
        ),
        ("https://example.com/authors/{id}{?lang}", &["author"]),
        ("bare-topic", &["bare"]),
        ("https://example.com/books/{id", &["broken-template"]),
    ];
    let mut streams = Vec::new();
    for (selector, _) in cases {
        let (_, sse) = subscribe(&app, &topics(&[selector, end]), None, None).await;
        streams.push(sse);
    }
    for (id, topics) in [
        ("book-1", &[BOOK_1][..]),
        ("book-2", &["https://example.com/books/2"]),
        ("author", &["https://example.com/authors/7?lang=fr"]),
        // Its canonical topic matches nothing but `*`; its alternate is book 1.
        ("alternate", &["urn:other:thing", BOOK_1]),
        ("bare", &["bare-topic"]),
        // Not a valid template: the selector matches only itself, literally.
        ("broken-template", &["https://example.com/books/{id"]),
        ("nothing", &["https://elsewhere.example/books/1"]),
        ("end", &[end]),
    ] {
        let mut pairs: Vec<(&str, &str)> = topics.iter().map(|t| ("topic", *t)).collect();
        pairs.push(("id", id));
        publish(&app, &pairs).await;
    }
    for ((selector, expected), mut sse) in cases.iter().zip(streams) {
        assert_eq!(
            ids_until(&mut sse, "end").await,
            *expected,
            "selector {selector}"
        );
    }
}

#[tokio::test]
async fn private_updates_reach_only_subscribers_whose_token_matches_one_of_their_topics() {
    let app = hub(&["--mercure-anonymous"]).await;
    let books = "https://example.com/books/{id}";
    let end = "https://example.com/books/end";
    // The draft's example: foo may see private book updates addressed to it through an
    // alternate topic.
    let foo = subscriber(&["https://example.com/users/foo/{?topic}"]);
    let book_2_reader = subscriber(&["https://example.com/books/2"]);
    let no_claim = jwt(&json!({"sub": "someone"}));
    let mut anonymous = subscribe(&app, &topics(&[books]), None, None).await.1;
    let mut foo_stream = subscribe(&app, &topics(&[books]), Some(&foo), None).await.1;
    let mut book_2_stream = subscribe(&app, &topics(&[books]), Some(&book_2_reader), None)
        .await
        .1;
    let mut no_claim_stream = subscribe(&app, &topics(&[books]), Some(&no_claim), None)
        .await
        .1;

    let for_foo = "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1";
    let for_bar = "https://example.com/users/bar/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1";
    for (id, pairs) in [
        (
            "to-foo",
            vec![("topic", BOOK_1), ("topic", for_foo), ("private", "on")],
        ),
        (
            "to-bar",
            vec![("topic", BOOK_1), ("topic", for_bar), ("private", "")],
        ),
        (
            "book-2",
            vec![("topic", "https://example.com/books/2"), ("private", "on")],
        ),
        ("public", vec![("topic", BOOK_1)]),
        ("end", vec![("topic", end)]),
    ] {
        let mut pairs = pairs;
        pairs.push(("id", id));
        publish(&app, &pairs).await;
    }
    assert_eq!(ids_until(&mut anonymous, "end").await, ["public"]);
    assert_eq!(ids_until(&mut no_claim_stream, "end").await, ["public"]);
    assert_eq!(
        ids_until(&mut foo_stream, "end").await,
        ["to-foo", "public"]
    );
    assert_eq!(
        ids_until(&mut book_2_stream, "end").await,
        ["book-2", "public"]
    );
}

#[tokio::test]
async fn subscribers_need_a_valid_token_unless_the_hub_is_anonymous() {
    let app = hub(&[]).await;
    let expired = jwt(&json!({"exp": now() - 10, "mercure": {"subscribe": ["*"]}}));
    let not_yet = jwt(&json!({"nbf": now() + 3600, "mercure": {"subscribe": ["*"]}}));
    let wrong_key = jwt_with(
        "another-key-that-is-long-enough-too!",
        &json!({"mercure": {}}),
    );
    let forged = unsigned(&json!({"mercure": {"subscribe": ["*"]}}));
    for (what, token) in [
        ("no token", None),
        ("expired", Some(expired.as_str())),
        ("not yet valid", Some(not_yet.as_str())),
        ("wrong key", Some(wrong_key.as_str())),
        ("alg none", Some(forged.as_str())),
        ("garbage", Some("not.a.token")),
    ] {
        let response = subscribe_request(&app, "topic=*", token, None).await;
        assert_eq!(response.status(), 401, "{what}");
        problem(response, 401).await;
    }
    // A valid token without the claim may subscribe, to public updates.
    let valid = jwt(&json!({"sub": "x"}));
    subscribe(&app, "topic=*", Some(&valid), None).await;
    // The token also travels in the query and in the cookie.
    let query = format!("topic=*&authorization={valid}");
    let response = subscribe_request(&app, &query, None, None).await;
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .get(app.url("/.well-known/mercure?topic=*"))
        .header("cookie", format!("mercureAuthorization={valid}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);

    // Anonymous: no token is fine, a bad one still is not.
    let open = hub(&["--mercure-anonymous"]).await;
    subscribe(&open, "topic=*", None, None).await;
    problem(
        subscribe_request(&open, "topic=*", Some(&expired), None).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = hub(&[]).await;
    let token = jwt(&json!({"exp": now() + 2}));
    let (_, mut sse) = subscribe(&app, "topic=*", Some(&token), None).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while sse.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended at the token's exp");
}

#[tokio::test]
async fn publishers_need_a_token_whose_selectors_match_every_topic() {
    let app = hub(&["--mercure-anonymous"]).await;
    let (_, mut sse) = subscribe(&app, "topic=*", None, Some("earliest")).await;
    let body = || {
        form(&[
            ("topic", BOOK_1),
            ("topic", "https://other.example/1"),
            ("data", "x"),
        ])
    };
    let expired = jwt(&json!({"exp": now() - 10, "mercure": {"publish": ["*"]}}));
    let wrong_key = jwt_with(
        "another-key-that-is-long-enough-too!",
        &json!({"mercure": {"publish": ["*"]}}),
    );
    let forged = unsigned(&json!({"mercure": {"publish": ["*"]}}));
    for token in [
        None,
        Some(expired.as_str()),
        Some(wrong_key.as_str()),
        Some(forged.as_str()),
    ] {
        problem(post(&app, body(), token).await, 401).await;
    }
    // Valid tokens that do not cover every topic of the update.
    let books_only = publisher(&["https://example.com/books/{id}"]);
    let no_claim = jwt(&json!({"sub": "x"}));
    let empty = publisher(&[]);
    let subscribe_only = subscriber(&["*"]);
    for token in [&books_only, &no_claim, &empty, &subscribe_only] {
        let denied = problem(post(&app, body(), Some(token)).await, 403).await;
        assert!(
            denied["detail"]
                .as_str()
                .is_some_and(|d| d.contains("mercure.publish"))
        );
    }
    // Covering every topic, through a template and an exact selector.
    let both = publisher(&["https://example.com/books/{id}", "https://other.example/1"]);
    let response = post(&app, body(), Some(&both)).await;
    assert_eq!(response.status(), 200);
    let id = response.text().await.expect("id");
    // The query parameter carries a token too.
    let response = app
        .client
        .post(app.url(&format!("/.well-known/mercure?authorization={both}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("topic", BOOK_1), ("id", "by-query")]))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    // Only what was authorised was stored.
    assert_eq!(sse.expect().await.id, id);
    assert_eq!(sse.expect().await.id, "by-query");
    sse.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_cookie_authenticated_publish_must_come_from_an_allowed_origin() {
    let app = hub(&["--cors-origins", "https://app.example.com"]).await;
    let token = publisher(&["*"]);
    let publish_from = |origin: Option<String>, id: &'static str| {
        let mut request = app
            .client
            .post(app.url("/.well-known/mercure"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("mercureAuthorization={token}"))
            .body(form(&[("topic", BOOK_1), ("id", id)]));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let own = app.address.clone();
    let answer = publish_from(Some(own), "own").await.expect("sent");
    assert_eq!(answer.status(), 200, "the hub's own origin");
    let answer = publish_from(Some("https://app.example.com".into()), "listed")
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200, "a --cors-origins origin");
    problem(
        publish_from(Some("https://evil.example".into()), "evil")
            .await
            .expect("sent"),
        403,
    )
    .await;
    problem(publish_from(None, "nowhere").await.expect("sent"), 403).await;
}

#[tokio::test]
async fn bad_publishes_are_refused_with_a_problem_and_store_nothing() {
    let app = hub(&["--mercure-anonymous", "--max-body-bytes", "8192"]).await;
    let token = publisher(&["*"]);
    publish(&app, &[("topic", BOOK_1), ("id", "first")]).await;
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("no topic", form(&[("data", "x")]), 400, Some("topic")),
        ("empty body", String::new(), 400, Some("topic")),
        (
            "topic with a line break",
            form(&[("topic", "a\nb")]),
            400,
            Some("topic"),
        ),
        (
            "topic with a NUL",
            form(&[("topic", "a\0b")]),
            400,
            Some("topic"),
        ),
        (
            "topic with a C1 control",
            form(&[("topic", "a\u{85}b")]),
            400,
            Some("topic"),
        ),
        ("empty topic", form(&[("topic", "")]), 400, Some("topic")),
        (
            "over-long topic",
            form(&[("topic", &"t".repeat(4097))]),
            400,
            Some("topic"),
        ),
        (
            "id with CR",
            form(&[("topic", BOOK_1), ("id", "a\rid: 1")]),
            400,
            Some("id"),
        ),
        (
            "id with LF",
            form(&[("topic", BOOK_1), ("id", "a\nb")]),
            400,
            Some("id"),
        ),
        (
            "id of the hub's form",
            form(&[("topic", BOOK_1), ("id", "#3")]),
            400,
            Some("id"),
        ),
        (
            "id earliest",
            form(&[("topic", BOOK_1), ("id", "earliest")]),
            400,
            Some("id"),
        ),
        (
            "empty id",
            form(&[("topic", BOOK_1), ("id", "")]),
            400,
            Some("id"),
        ),
        (
            "type with LF",
            form(&[("topic", BOOK_1), ("type", "a\nevent: b")]),
            400,
            Some("type"),
        ),
        (
            "retry not a number",
            form(&[("topic", BOOK_1), ("retry", "soon")]),
            400,
            Some("retry"),
        ),
        (
            "negative retry",
            form(&[("topic", BOOK_1), ("retry", "-1")]),
            400,
            Some("retry"),
        ),
        (
            "data twice",
            form(&[("topic", BOOK_1), ("data", "a"), ("data", "b")]),
            400,
            Some("data"),
        ),
        (
            "id twice",
            form(&[("topic", BOOK_1), ("id", "a"), ("id", "b")]),
            400,
            Some("id"),
        ),
        (
            "data not UTF-8",
            "topic=a&data=%FF%FE".into(),
            400,
            Some("data"),
        ),
        (
            "a name not UTF-8",
            "topic=a&%C3=1".into(),
            400,
            Some("body"),
        ),
        (
            "body over the limit",
            form(&[("topic", BOOK_1), ("data", &"x".repeat(9000))]),
            413,
            None,
        ),
    ];
    for (what, body, status, field) in cases {
        let refused = problem(post(&app, body, Some(&token)).await, status).await;
        if let Some(field) = field {
            assert_eq!(refused["field"], field, "{what}: {refused}");
        }
    }
    // A JSON body is not a Mercure publish.
    let json_body = app
        .client
        .post(app.url("/.well-known/mercure"))
        .bearer_auth(&token)
        .json(&json!({"topic": BOOK_1}))
        .send()
        .await
        .expect("sent");
    problem(json_body, 415).await;
    // Bad subscriptions.
    for (query, parameter) in [
        ("", "topic"),
        ("lastEventID=x", "topic"),
        ("topic=a%0Ab", "topic"),
        ("topic=%FF", "topic"),
    ] {
        let refused = problem(subscribe_request(&app, query, None, None).await, 400).await;
        assert_eq!(refused["parameter"], parameter, "{query}");
    }
    let too_many = topics(&vec!["x"; 101]);
    problem(subscribe_request(&app, &too_many, None, None).await, 400).await;

    // Nothing but the first update was stored, and the stream still works.
    let (_, mut sse) = subscribe(&app, "topic=*", None, Some("earliest")).await;
    assert_eq!(sse.expect().await.id, "first");
    publish(&app, &[("topic", BOOK_1), ("id", "after")]).await;
    assert_eq!(sse.expect().await.id, "after");
}

#[tokio::test]
async fn resume_after_publisher_ids_from_earliest_and_from_an_unknown_id() {
    let app = hub(&["--mercure-anonymous"]).await;
    let odd = "id-[\"x\"] é/?#&=";
    for id in [odd, "u2", "u3"] {
        publish(&app, &[("topic", BOOK_1), ("id", id), ("data", id)]).await;
    }
    let selected = topics(&[BOOK_1]);

    // The header, after a publisher id with unusual characters.
    let (headers, mut sse) = subscribe(&app, &selected, None, Some(odd)).await;
    assert_eq!(headers["last-event-id"].as_bytes(), odd.as_bytes());
    assert_eq!(sse.ids(2).await, ["u2", "u3"]);

    // The query parameter; and the header wins over it.
    let (headers, mut sse) =
        subscribe(&app, &format!("{selected}&lastEventID=u2"), None, None).await;
    assert_eq!(headers["last-event-id"], "u2");
    assert_eq!(sse.ids(1).await, ["u3"]);
    let query = format!("{selected}&{}", form(&[("lastEventID", odd)]));
    let (headers, mut sse) = subscribe(&app, &query, None, Some("u2")).await;
    assert_eq!(headers["last-event-id"], "u2");
    assert_eq!(sse.ids(1).await, ["u3"]);

    // `earliest`: everything retained.
    let (headers, mut sse) = subscribe(&app, &selected, None, Some("earliest")).await;
    assert_eq!(headers["last-event-id"], "earliest");
    let events = until(&mut sse, "u3").await;
    assert_eq!(
        events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [odd, "u2", "u3"]
    );
    assert_eq!(events[0].data, odd);

    // Unknown: nothing replayed, and the header says so.
    let (headers, mut unknown) = subscribe(&app, &selected, None, Some("never-published")).await;
    assert_eq!(headers["last-event-id"], "earliest");
    let (headers, mut garbage) = subscribe(&app, &selected, None, Some("#not-an-id")).await;
    assert_eq!(headers["last-event-id"], "earliest");
    // Live events still come, and nothing before them.
    publish(&app, &[("topic", BOOK_1), ("id", "u4")]).await;
    assert_eq!(unknown.expect().await.id, "u4");
    assert_eq!(garbage.expect().await.id, "u4");

    // A resumed stream sees live updates after its replay, without a gap or a duplicate.
    let (_, mut sse) = subscribe(&app, &selected, None, Some("u2")).await;
    publish(&app, &[("topic", BOOK_1), ("id", "u5")]).await;
    assert_eq!(sse.ids(3).await, ["u3", "u4", "u5"]);
}

#[tokio::test]
async fn an_id_used_again_is_accepted_and_resumes_after_its_newest_use() {
    let app = hub(&["--mercure-anonymous"]).await;
    // As a publisher reusing ids does (the same id for a public and a private update).
    publish(
        &app,
        &[("topic", BOOK_1), ("id", "same"), ("data", "public")],
    )
    .await;
    publish(
        &app,
        &[
            ("topic", BOOK_1),
            ("id", "same"),
            ("data", "private"),
            ("private", "on"),
        ],
    )
    .await;
    publish(&app, &[("topic", BOOK_1), ("id", "next")]).await;
    let (headers, mut sse) = subscribe(&app, "topic=*", None, Some("same")).await;
    assert_eq!(headers["last-event-id"], "same");
    assert_eq!(sse.expect().await.id, "next");
    let (_, mut all) = subscribe(&app, "topic=*", None, Some("earliest")).await;
    let events = until(&mut all, "next").await;
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        data,
        ["public", ""],
        "the private one is not for anonymous eyes"
    );
}

#[tokio::test]
async fn a_trimmed_update_id_is_unknown() {
    let app = hub(&["--mercure-anonymous", "--history-size", "2"]).await;
    // A publish is answered just before its frame reaches the live ring: a stream opened
    // at once could still see it live. Once a witness has seen "c", none will.
    let (_, mut witness) = subscribe(&app, "topic=*", None, None).await;
    for id in ["a", "b", "c"] {
        publish(&app, &[("topic", BOOK_1), ("id", id)]).await;
    }
    assert_eq!(witness.ids(3).await, ["a", "b", "c"]);
    let (headers, mut sse) = subscribe(&app, "topic=*", None, Some("a")).await;
    assert_eq!(headers["last-event-id"], "earliest", "trimmed away");
    let (headers, mut kept) = subscribe(&app, "topic=*", None, Some("b")).await;
    assert_eq!(headers["last-event-id"], "b");
    assert_eq!(kept.expect().await.id, "c");
    let (_, mut all) = subscribe(&app, "topic=*", None, Some("earliest")).await;
    assert_eq!(all.ids(2).await, ["b", "c"]);
    // Its id is free again.
    publish(&app, &[("topic", BOOK_1), ("id", "a")]).await;
    assert_eq!(sse.expect().await.id, "a");
}

#[tokio::test]
async fn the_subscriber_is_registered_before_the_headers_go_out() {
    let app = hub(&["--mercure-anonymous"]).await;
    for round in 0..20 {
        let (_, mut sse) = subscribe(&app, "topic=*", None, None).await;
        let id = format!("round-{round}");
        publish(&app, &[("topic", BOOK_1), ("id", &id)]).await;
        assert_eq!(sse.expect().await.id, id);
    }
}

#[tokio::test]
async fn native_events_and_mercure_updates_share_one_log() {
    let app = hub(&["--mercure-anonymous"]).await;
    let mut native = app.subscribe("", None).await.connected().await;
    let (_, mut mercure) = subscribe(&app, "topic=*", None, None).await;

    // A native event, on a Mercure stream: `#<id>`, no event: line, the envelope as data.
    let first = app.publish("note", json!({"a": 1}), Some("tasks/1")).await;
    let seen = mercure.expect().await;
    assert_eq!(seen.id, format!("#{first}"));
    assert_eq!(seen.event, "message");
    let inner = envelope(&seen);
    assert_eq!(inner["event"], "note");
    assert_eq!(inner["topic"], "tasks/1");
    assert_eq!(inner["data"], json!({"a": 1}));
    assert_eq!(native.expect().await.id, first);

    // A Mercure update, on a native stream: its type (or `message`), its canonical topic,
    // its data as a JSON string, and a TaskHub id in the same order.
    let update = publish(
        &app,
        &[
            ("topic", "tasks/2"),
            ("topic", "urn:alt"),
            ("type", "task_updated"),
            ("data", "x\ny"),
        ],
    )
    .await;
    let seen = native.expect().await;
    assert_eq!(seen.event, "task_updated");
    let inner = envelope(&seen);
    assert_eq!(seen.id, inner["id"].as_str().expect("id"));
    assert!(seen.id.parse::<u64>().expect("a native id") > first.parse::<u64>().expect("id"));
    assert_eq!(inner["topic"], "tasks/2");
    assert_eq!(inner["data"], "x\ny");
    assert_eq!(mercure.expect().await.id, update);
    publish(&app, &[("topic", "tasks/3"), ("type", "not a native type")]).await;
    assert_eq!(native.expect().await.event, "message");
    let long_topic = format!("https://example.com/{}", "t".repeat(300));
    publish(&app, &[("topic", &long_topic)]).await;
    assert!(
        envelope(&native.expect().await).get("topic").is_none(),
        "not a native topic"
    );
    // A native topic filter and a Mercure selector see the same event.
    let mut filtered = app
        .subscribe("?topics=tasks/*", None)
        .await
        .connected()
        .await;
    let (_, mut selected) = subscribe(&app, &topics(&["tasks/{n}"]), None, None).await;
    publish(&app, &[("topic", "tasks/4"), ("id", "four")]).await;
    app.publish("note", json!(4), Some("tasks/5")).await;
    assert_eq!(envelope(&filtered.expect().await)["data"], "");
    assert_eq!(envelope(&filtered.expect().await)["data"], 4);
    assert_eq!(selected.expect().await.id, "four");
    assert!(selected.expect().await.id.starts_with('#'));

    // Resuming a Mercure stream after a native event's `#id`.
    let (headers, mut resumed) = subscribe(&app, "topic=*", None, Some(&format!("#{first}"))).await;
    assert_eq!(headers["last-event-id"], format!("#{first}"));
    assert_eq!(resumed.expect().await.id, update);
    // Private native events need a Mercure subscribe grant, as private updates do.
    app.post_events(&json!({"event": "secret", "data": 1, "topic": "tasks/9", "private": true}))
        .await;
    publish(&app, &[("topic", "tasks/10"), ("id", "after-secret")]).await;
    let (_, mut anonymous) = subscribe(&app, "topic=*", None, Some("four")).await;
    let ids = ids_until(&mut anonymous, "after-secret").await;
    assert_eq!(
        ids.len(),
        1,
        "the native event, not the private one: {ids:?}"
    );
}

#[tokio::test]
async fn discovery_links_the_hub_from_the_tasks_api() {
    let app = hub(&[]).await;
    let response = app.get("/tasks").await;
    assert_eq!(
        response.headers()["link"],
        "</.well-known/mercure>; rel=\"mercure\""
    );
    let created = app
        .client
        .post(app.url("/tasks"))
        .body(json!({"title": "linked"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    assert!(created.headers().contains_key("link"));
    let document: Value = app.get_json("/openapi.json").await;
    for method in ["get", "post"] {
        assert!(
            document["paths"]["/.well-known/mercure"][method].is_object(),
            "{method}"
        );
    }

    // Without a Mercure key there is no hub, and nothing points at one.
    let plain = spawn_app().await;
    let response = plain.get("/tasks").await;
    assert!(!response.headers().contains_key("link"));
    problem(subscribe_request(&plain, "topic=*", None, None).await, 404).await;
    let document: Value = plain.get_json("/openapi.json").await;
    assert!(document["paths"]["/.well-known/mercure"].is_null());
}

#[tokio::test]
async fn browsers_of_listed_origins_may_publish_and_read_the_resume_header() {
    let origin = "https://app.example.com";
    let app = hub(&["--mercure-anonymous", "--cors-origins", origin]).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/.well-known/mercure"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, cache-control, last-event-id",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(preflight.status(), 204);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    for header in ["authorization", "cache-control", "last-event-id"] {
        assert!(allowed.contains(header), "{header} in {allowed}");
    }
    publish(&app, &[("topic", BOOK_1), ("id", "x")]).await;
    let response = app
        .client
        .get(app.url("/.well-known/mercure?topic=*&lastEventID=x"))
        .header("origin", origin)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii");
    assert!(
        exposed.contains("last-event-id") && exposed.contains("link"),
        "{exposed}"
    );
}

#[tokio::test]
async fn taskhub_token_mints_mercure_tokens_the_hub_accepts() {
    let app = hub(&[]).await;
    let mint = |role: &str, selector: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
            .args(["token", "--mercure", "--secret", KEY, role, selector])
            .output()
            .expect("runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .expect("UTF-8")
            .trim()
            .to_owned()
    };
    let publisher = mint("--publish", "https://example.com/books/{id}");
    let reader = mint("--subscribe", "https://example.com/books/{id}");
    let (_, mut sse) = subscribe(&app, &topics(&["*"]), Some(&reader), None).await;
    let response = post(
        &app,
        form(&[("topic", BOOK_1), ("private", "on"), ("id", "minted")]),
        Some(&publisher),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        sse.expect().await.id,
        "minted",
        "the private update reached the minted reader"
    );
    let elsewhere = form(&[("topic", "https://example.com/authors/1")]);
    problem(post(&app, elsewhere, Some(&publisher)).await, 403).await;
}

#[test]
fn settings_that_make_no_hub_are_refused_at_start_up() {
    for (flags, complaint) in [
        (&["--mercure-anonymous"][..], "--mercure-anonymous"),
        (&["--mercure-publisher-jwt-key", KEY][..], "subscriber"),
        (&["--mercure-subscriber-jwt-key", KEY][..], "publisher"),
        (
            &["--mercure-jwt-key", KEY, "--mercure-jwt-alg", "RS256"][..],
            "PEM",
        ),
        (
            &["--mercure-jwt-key", KEY, "--mercure-jwt-alg", "none"][..],
            "algorithm",
        ),
    ] {
        assert_refused_at_start(flags, complaint);
    }
}

#[tokio::test]
async fn chromium_routes_every_case_of_a_conformance_style_dataset() {
    // The key Mercure's documentation and demos use (34 bytes), and a token as they mint
    // it: no `exp`, no `typ` in its header.
    let demo_key = "!ChangeThisMercureHubJWTSecretKey!";
    let app = spawn_app_with(&["--mercure-jwt-key", demo_key, "--mercure-anonymous"]).await;
    let header = Header {
        typ: None,
        ..Header::new(Algorithm::HS256)
    };
    let claims = json!({"mercure": {"publish": ["*"], "subscribe": ["*"]}});
    let key = EncodingKey::from_secret(demo_key.as_bytes());
    let token = encode(&header, &claims, &key).expect("token");
    Script::node("mercure_dataset.mjs", &[&app.address, &token])
        .finish()
        .await;
}

#[tokio::test]
async fn chromium_publishes_with_fetch_and_receives_with_onmessage() {
    let app = hub(&["--mercure-anonymous"]).await;
    let token = publisher(&["https://example.com/books/{id}"]);
    Script::node("mercure.mjs", &[&app.address, &token])
        .finish()
        .await;
}
