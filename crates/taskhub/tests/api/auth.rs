//! Authentication and authorisation: who may subscribe, see private events, publish and
//! change tasks; every credential source; every way a token can be bad.

use std::process::Command;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{Sse, TestApp, assert_refused_at_start, envelope, problem, spawn_app_with};
use crate::tokens::{now, unsigned};

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

/// An HS256 token with these claims, `exp` an hour from now unless given.
fn token(claims: Value) -> String {
    token_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        claims,
    )
}

fn token_with(algorithm: Algorithm, key: &EncodingKey, mut claims: Value) -> String {
    if claims.get("exp").is_none() {
        claims["exp"] = json!(now() + 3600);
    }
    encode(&Header::new(algorithm), &claims, key).expect("token")
}

fn grants(subscribe: &[&str], publish: &[&str]) -> Value {
    json!({"taskhub": {"subscribe": subscribe, "publish": publish}})
}

async fn authed_app() -> TestApp {
    spawn_app_with(&["--jwt-secret", SECRET]).await
}

/// Where a token travels.
#[derive(Clone, Copy, Debug)]
enum Source {
    Header,
    Cookie,
    Query,
}

const SOURCES: [Source; 3] = [Source::Header, Source::Cookie, Source::Query];

fn with_token(
    app: &TestApp,
    builder: impl Fn(&str) -> reqwest::RequestBuilder,
    path: &str,
    source: Source,
    token: &str,
) -> reqwest::RequestBuilder {
    let separator = if path.contains('?') { '&' } else { '?' };
    match source {
        Source::Header => builder(&app.url(path)).bearer_auth(token),
        Source::Cookie => {
            builder(&app.url(path)).header("cookie", format!("theme=dark; taskhub_token={token}"))
        }
        Source::Query => builder(&app.url(&format!("{path}{separator}access_token={token}"))),
    }
}

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("sent").status().as_u16()
}

#[tokio::test]
async fn every_source_carries_a_valid_token_and_every_bad_token_is_401() {
    let app = authed_app().await;
    let all = grants(&["*"], &["*"]);
    let good = token(all.clone());
    let mut expired = all.clone();
    expired["exp"] = json!(now() - 10);
    let mut immature = all.clone();
    immature["nbf"] = json!(now() + 3600);
    let forged = token_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-of-32-bytes-length!!"),
        all.clone(),
    );
    let other_alg = token_with(
        Algorithm::HS512,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        all.clone(),
    );
    let no_exp = encode(
        &Header::default(),
        &all,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let bad_tokens = [
        ("expired", token(expired)),
        ("not yet valid", token(immature)),
        ("forged", forged),
        ("alg none", unsigned(&all)),
        ("other algorithm", other_alg),
        ("no exp", no_exp),
        ("garbage", "not.a.jwt".to_owned()),
        (
            "bad selector",
            token(json!({"taskhub": {"subscribe": ["a\u{1}"]}})),
        ),
    ];
    let body = json!({"event": "e", "data": 1, "topic": "t/1"}).to_string();
    let task = json!({"title": "t"}).to_string();
    for source in SOURCES {
        // A valid token works from every source, for every kind of call.
        let stream = with_token(&app, |u| app.client.get(u), "/events/stream", source, &good)
            .send()
            .await
            .expect("sent");
        assert_eq!(stream.status(), 200, "{source:?}");
        drop(stream);
        let publish = with_token(
            &app,
            |u| app.client.post(u).body(body.clone()),
            "/events",
            source,
            &good,
        );
        assert_eq!(status_of(publish).await, 202, "{source:?}");
        let create = with_token(
            &app,
            |u| app.client.post(u).body(task.clone()),
            "/tasks",
            source,
            &good,
        );
        assert_eq!(status_of(create).await, 201, "{source:?}");
        let list = with_token(&app, |u| app.client.get(u), "/tasks", source, &good);
        assert_eq!(status_of(list).await, 200, "{source:?}");

        for (what, bad) in &bad_tokens {
            for (path, method) in [
                ("/events/stream", "GET"),
                ("/events", "POST"),
                ("/tasks", "POST"),
                ("/tasks", "GET"),
            ] {
                let request = with_token(
                    &app,
                    |u| match method {
                        "GET" => app.client.get(u),
                        _ => app.client.post(u).body(body.clone()),
                    },
                    path,
                    source,
                    bad,
                );
                let response = request.send().await.expect("sent");
                assert_eq!(response.headers()["www-authenticate"], "Bearer");
                let problem = problem(response, 401).await;
                let detail = problem["detail"].as_str().expect("detail");
                assert!(!detail.contains(bad.as_str()), "the token is never echoed");
                let _ = what;
            }
        }
    }
    // No credentials at all.
    for (path, method) in [
        ("/events/stream", "GET"),
        ("/events", "POST"),
        ("/tasks", "GET"),
        ("/tasks/1", "GET"),
    ] {
        let request = match method {
            "GET" => app.client.get(app.url(path)),
            _ => app.client.post(app.url(path)).body(body.clone()),
        };
        problem(request.send().await.expect("sent"), 401).await;
    }
    // Health checks need none.
    assert_eq!(status_of(app.client.get(app.url("/healthz"))).await, 200);
    assert_eq!(status_of(app.client.get(app.url("/readyz"))).await, 200);
}

async fn subscribe_as(app: &TestApp, token: &str, query: &str) -> Sse {
    let response = app
        .client
        .get(app.url(&format!("/events/stream{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    Sse::new(response).connected().await
}

async fn publish_as(app: &TestApp, token: &str, event: Value) -> reqwest::Response {
    app.client
        .post(app.url("/events"))
        .bearer_auth(token)
        .body(event.to_string())
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn private_events_reach_only_subscribers_whose_selectors_cover_them() {
    let app = authed_app().await;
    let mut tasks_reader = subscribe_as(&app, &token(grants(&["tasks/*"], &[])), "").await;
    let mut public_only = subscribe_as(&app, &token(grants(&[], &[])), "").await;
    let mut secret_reader = subscribe_as(&app, &token(grants(&["secret/1"], &[])), "").await;
    let publisher = token(grants(&[], &["*"]));
    for event in [
        json!({"event": "news", "data": 1, "topic": "news/1"}),
        json!({"event": "secret", "data": 2, "topic": "secret/1", "private": true}),
        json!({"event": "task", "data": 3, "topic": "tasks/5", "private": true}),
        json!({"event": "secret", "data": 4, "topic": "secret/10", "private": true}),
        json!({"event": "end", "data": 5, "topic": "news/2"}),
    ] {
        assert_eq!(publish_as(&app, &publisher, event).await.status(), 202);
    }
    assert_eq!(tasks_reader.ids(3).await, ["1", "3", "5"]);
    assert_eq!(public_only.ids(2).await, ["1", "5"]);
    assert_eq!(secret_reader.ids(3).await, ["1", "2", "5"]);
    // Replay applies the same rule.
    let mut replay =
        subscribe_as(&app, &token(grants(&["secret/*"], &[])), "?last_event_id=0").await;
    assert_eq!(replay.ids(4).await, ["1", "2", "4", "5"]);
}

#[tokio::test]
async fn topic_filters_must_be_covered_by_subscribe_selectors() {
    let app = authed_app().await;
    let tasks = token(grants(&["tasks/*"], &[]));
    for (query, status) in [
        ("?topics=tasks/42", 200),
        ("?topics=tasks/*", 200),
        ("?topics=tasks/4*,tasks/1", 200),
        ("?topics=deploys/1", 403),
        ("?topics=tasks/1,deploys/1", 403),
        ("?topics=*", 403),
        ("?types=task_updated", 200),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/events/stream{query}")))
            .bearer_auth(&tasks)
            .send()
            .await
            .expect("sent");
        if status == 403 {
            problem(response, 403).await;
        } else {
            assert_eq!(response.status(), status, "{query}");
        }
    }
    let nothing = token(grants(&[], &[]));
    let response = app
        .client
        .get(app.url("/events/stream?topics=a"))
        .bearer_auth(&nothing)
        .send()
        .await
        .expect("sent");
    problem(response, 403).await;
}

#[tokio::test]
async fn publishing_needs_covering_publish_selectors() {
    let app = authed_app().await;
    let mut everything = subscribe_as(&app, &token(grants(&["*"], &[])), "").await;
    let news = token(grants(&[], &["news/*"]));
    assert_eq!(
        publish_as(
            &app,
            &news,
            json!({"event": "a", "data": 1, "topic": "news/1"})
        )
        .await
        .status(),
        202
    );
    for denied in [
        json!({"event": "a", "data": 1, "topic": "other/1"}),
        json!({"event": "a", "data": 1}),
        json!([{"event": "a", "data": 1, "topic": "news/2"}, {"event": "a", "data": 1, "topic": "x"}]),
    ] {
        problem(publish_as(&app, &news, denied).await, 403).await;
    }
    let reader = token(grants(&["*"], &[]));
    problem(
        publish_as(
            &app,
            &reader,
            json!({"event": "a", "data": 1, "topic": "news/1"}),
        )
        .await,
        403,
    )
    .await;
    // Only the first was stored: the denied batch left nothing behind.
    assert_eq!(
        publish_as(
            &app,
            &news,
            json!({"event": "b", "data": 2, "topic": "news/3"})
        )
        .await
        .status(),
        202
    );
    assert_eq!(everything.ids(2).await, ["1", "2"]);
}

#[tokio::test]
async fn task_writes_need_publish_on_the_task_topic() {
    let app = authed_app().await;
    let admin = token(grants(&[], &["tasks/*"]));
    let one = token(grants(&[], &["tasks/1"]));
    let reader = token(grants(&[], &[]));
    let create = |token: String| {
        app.client
            .post(app.url("/tasks"))
            .bearer_auth(token)
            .json(&json!({"title": "t"}))
            .send()
    };
    assert_eq!(create(admin.clone()).await.expect("sent").status(), 201);
    assert_eq!(create(admin.clone()).await.expect("sent").status(), 201);
    problem(create(one.clone()).await.expect("sent"), 403).await;
    problem(create(reader.clone()).await.expect("sent"), 403).await;
    let patch = |token: &str, id: u32| {
        app.client
            .patch(app.url(&format!("/tasks/{id}")))
            .bearer_auth(token)
            .json(&json!({"status": "done"}))
            .send()
    };
    assert_eq!(patch(&one, 1).await.expect("sent").status(), 200);
    problem(patch(&one, 2).await.expect("sent"), 403).await;
    let put = app
        .client
        .put(app.url("/tasks/status/2?new_status=done"))
        .bearer_auth(&one)
        .send()
        .await
        .expect("sent");
    problem(put, 403).await;
    let delete = app
        .client
        .delete(app.url("/tasks/2"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("sent");
    problem(delete, 403).await;
    // Any valid token reads tasks.
    let list = app
        .client
        .get(app.url("/tasks"))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("sent");
    assert_eq!(list.json::<Vec<Value>>().await.expect("JSON").len(), 2);
}

#[tokio::test]
async fn taskhub_token_mints_what_the_server_accepts() {
    let app = authed_app().await;
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args([
            "token",
            "--secret",
            SECRET,
            "--subscribe",
            "tasks/*",
            "--publish",
            "news/*,tasks/*",
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let minted = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned();
    let event = json!({"event": "a", "data": 1, "topic": "news/1"});
    assert_eq!(publish_as(&app, &minted, event).await.status(), 202);
    let denied = json!({"event": "a", "data": 1, "topic": "other/1"});
    problem(publish_as(&app, &minted, denied).await, 403).await;
    let _ = subscribe_as(&app, &minted, "?topics=tasks/1").await;
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = authed_app().await;
    let short = token(json!({"exp": now() + 2, "taskhub": {"subscribe": ["*"]}}));
    let mut sse = subscribe_as(&app, &short, "").await;
    let started = std::time::Instant::now();
    assert!(sse.next().await.is_none(), "the stream ends");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Generates a key pair with openssl; returns (private PEM, public PEM).
fn key_pair(dir: &std::path::Path, algorithm_args: &[&str]) -> (Vec<u8>, std::path::PathBuf) {
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    let status = Command::new("openssl")
        .args(["genpkey"])
        .args(algorithm_args)
        .arg("-out")
        .arg(&private)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    let status = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("openssl runs");
    assert!(status.success());
    (std::fs::read(private).expect("private key"), public)
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_with_a_public_key() {
    let keys = tempfile::tempdir().expect("dir");
    for (args, algorithm, from_pem) in [
        (
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
            Algorithm::RS256,
            EncodingKey::from_rsa_pem as fn(&[u8]) -> _,
        ),
        (
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
            Algorithm::ES256,
            EncodingKey::from_ec_pem,
        ),
    ] {
        let dir = keys.path().join(format!("{algorithm:?}"));
        std::fs::create_dir(&dir).expect("dir");
        let (private, public) = key_pair(&dir, args);
        let app = spawn_app_with(&["--jwt-public-key", public.to_str().expect("utf-8 path")]).await;
        let key = from_pem(&private).expect("private key");
        let good = token_with(algorithm, &key, grants(&[], &["*"]));
        let event = json!({"event": "a", "data": 1, "topic": "t"});
        assert_eq!(
            publish_as(&app, &good, event.clone()).await.status(),
            202,
            "{algorithm:?}"
        );
        // Algorithm confusion: an HS256 token keyed with the public key's bytes.
        let public_bytes = std::fs::read(&public).expect("public key");
        let confused = token_with(
            Algorithm::HS256,
            &EncodingKey::from_secret(&public_bytes),
            grants(&[], &["*"]),
        );
        problem(publish_as(&app, &confused, event.clone()).await, 401).await;
        problem(
            publish_as(&app, &token(grants(&[], &["*"])), event).await,
            401,
        )
        .await;
    }
}

#[test]
fn with_authentication_a_public_address_is_allowed_and_weak_secrets_are_refused() {
    crate::helpers::assert_serves_on_a_public_address(&["--jwt-secret", SECRET]);
    assert_refused_at_start(&["--jwt-secret", "short"], "32 bytes");
}

#[tokio::test]
async fn private_events_replayed_to_a_covering_subscriber_only() {
    let app = authed_app().await;
    let publisher = token(grants(&[], &["*"]));
    publish_as(
        &app,
        &publisher,
        json!({"event": "p", "data": 1, "topic": "vault/1", "private": true}),
    )
    .await;
    publish_as(
        &app,
        &publisher,
        json!({"event": "q", "data": 2, "topic": "open/1"}),
    )
    .await;
    let mut outsider = subscribe_as(&app, &token(grants(&[], &[])), "?last_event_id=0").await;
    let first = outsider.expect().await;
    assert_eq!(envelope(&first)["topic"], "open/1");
}
