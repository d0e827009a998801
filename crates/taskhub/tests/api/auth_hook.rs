//! The auth hook (`--auth-hook-url`): a real aiohttp application with its own session
//! cookies (tests/python/session_app.py) decides for requests without a valid token:
//! allowed, refused (401/403 passed on), cached per credential, fail-closed (503) when
//! it is down, slow, redirects or answers too much, and a stream it let in ends when
//! the answer's TTL runs out; concurrent first requests with one credential make one
//! call; the Mercure hub let in by the same hook; and the board in Chromium, on the
//! application's cookie, behind the repository's nginx configuration.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    PATIENCE, Sse, TestApp, assert_refused_at_start, metrics, problem, spawn_app_with,
};
use crate::nginx::Nginx;
use crate::scripts::{PythonServer, Script};
use crate::tokens::now;

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

/// The application, and a client that logs in to it.
struct SessionApp {
    server: PythonServer,
    client: reqwest::Client,
}

impl SessionApp {
    fn start() -> Self {
        Self {
            server: PythonServer::start("session_app.py"),
            client: reqwest::Client::new(),
        }
    }

    fn hook_url(&self) -> String {
        self.server.url("/auth")
    }

    /// Logs `user` in: the value of the session cookie the application set.
    async fn login(&self, user: &str) -> String {
        let response = self
            .client
            .post(self.server.url("/login"))
            .json(&json!({ "user": user }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        let pair = set_cookie.split(';').next().expect("name=value");
        let value = pair.strip_prefix("sessionid=").expect("the session cookie");
        value.to_owned()
    }

    async fn set_mode(&self, mode: &str, ttl_secs: u64) {
        let response = self
            .client
            .post(self.server.url("/mode"))
            .json(&json!({"mode": mode, "ttl_secs": ttl_secs}))
            .send()
            .await
            .expect("mode");
        assert_eq!(response.status(), 200);
    }

    async fn stats(&self) -> Value {
        self.client
            .get(self.server.url("/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("JSON")
    }

    async fn calls(&self) -> u64 {
        self.stats().await["calls"].as_u64().expect("a count")
    }

    /// Answers the questions held in the "hold" mode as `mode` says.
    async fn release(&self, mode: &str) {
        let response = self
            .client
            .post(self.server.url("/release"))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .expect("release");
        assert_eq!(response.status(), 200);
    }
}

/// TaskHub asking `app`'s hook, with `extra` flags, its hook answering within `timeout_ms`.
async fn taskhub(app: &SessionApp, timeout_ms: u64, extra: &[&str]) -> TestApp {
    let url = app.hook_url();
    let timeout = timeout_ms.to_string();
    let mut args = vec![
        "--auth-hook-url",
        url.as_str(),
        "--auth-hook-forward",
        "cookie:sessionid,header:x-api-key",
        "--auth-hook-timeout-ms",
        timeout.as_str(),
    ];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

fn with_session(request: reqwest::RequestBuilder, session: &str) -> reqwest::RequestBuilder {
    request.header("cookie", format!("theme=dark; sessionid={session}"))
}

async fn get_tasks(app: &TestApp, session: &str) -> reqwest::Response {
    with_session(app.client.get(app.url("/tasks")), session)
        .send()
        .await
        .expect("sent")
}

async fn publish(app: &TestApp, session: &str, topic: &str) -> u16 {
    with_session(
        app.client
            .post(app.url("/events"))
            .json(&json!({"event": "e", "data": 1, "topic": topic})),
        session,
    )
    .send()
    .await
    .expect("sent")
    .status()
    .as_u16()
}

#[tokio::test]
async fn a_session_cookie_lets_in_what_the_application_grants() {
    let web = SessionApp::start();
    let app = taskhub(&web, 2000, &[]).await;
    let alice = web.login("alice").await;
    assert_eq!(get_tasks(&app, &alice).await.status(), 200);
    assert_eq!(publish(&app, &alice, "news/1").await, 202);
    // The grants are TaskHub's to check, as a token's are.
    assert_eq!(publish(&app, &alice, "other/1").await, 403);
    let stream = with_session(
        app.client
            .get(app.url("/events/stream?topics=news/*&types=e"))
            .header("authorization", "Basic c2VjcmV0")
            .header("x-api-key", "key-1"),
        &alice,
    )
    .send()
    .await
    .expect("sent");
    assert_eq!(stream.status(), 200);

    // The question: method, path, topics, types, address and only the named credentials.
    let stats = web.stats().await;
    let question = stats["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["path"] == "/events/stream")
        .expect("the stream's question")
        .clone();
    assert_eq!(question["method"], "GET");
    assert_eq!(question["topics"], "news/*");
    assert_eq!(question["types"], "e");
    assert_eq!(question["client_addr"], "127.0.0.1");
    assert_eq!(
        question["credentials"],
        json!({"cookie:sessionid": alice, "header:x-api-key": "key-1"}),
        "nothing but the forwarded credentials: no other cookie, no Authorization"
    );
}

#[tokio::test]
async fn refusals_are_passed_on_and_requests_without_credentials_never_reach_the_hook() {
    let web = SessionApp::start();
    let app = taskhub(&web, 2000, &[]).await;
    let unknown = problem(get_tasks(&app, "no-such-session").await, 401).await;
    assert!(
        unknown["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no such session")),
        "{unknown}"
    );
    let mallory = web.login("mallory").await;
    let banned = problem(get_tasks(&app, &mallory).await, 403).await;
    assert!(banned["detail"].to_string().contains("banned"), "{banned}");
    // Bob may read public events but publish nothing.
    let bob = web.login("bob").await;
    assert_eq!(publish(&app, &bob, "news/1").await, 403);

    let calls = web.calls().await;
    let anonymous = app
        .client
        .get(app.url("/tasks"))
        .send()
        .await
        .expect("sent");
    problem(anonymous, 401).await;
    let other_cookie = app
        .client
        .get(app.url("/tasks"))
        .header("cookie", "theme=dark")
        .send()
        .await
        .expect("sent");
    problem(other_cookie, 401).await;
    assert_eq!(
        web.calls().await,
        calls,
        "no hook call without a credential"
    );
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_auth_hook_refusals_total"], 2.0);
}

#[tokio::test]
async fn answers_are_cached_per_credential() {
    let web = SessionApp::start();
    let app = taskhub(&web, 2000, &[]).await;
    let alice = web.login("alice").await;
    let bob = web.login("bob").await;
    for _ in 0..5 {
        assert_eq!(get_tasks(&app, &alice).await.status(), 200);
    }
    assert_eq!(web.calls().await, 1, "one call for five requests");
    // Another credential is another answer, never alice's.
    assert_eq!(publish(&app, &bob, "news/1").await, 403);
    assert_eq!(publish(&app, &alice, "news/1").await, 202);
    assert_eq!(web.calls().await, 2);
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_auth_hook_calls_total"], 2.0);
    assert_eq!(counted["taskhub_auth_hook_cache_hits_total"], 5.0);
}

#[tokio::test]
async fn a_hook_that_fails_is_a_503_never_a_pass() {
    let mut web = SessionApp::start();
    let app = taskhub(&web, 500, &[]).await;
    for (round, mode) in ["down", "slow", "redirect", "huge"].into_iter().enumerate() {
        web.set_mode(mode, 600).await;
        // A fresh session each time: nothing cached.
        let session = web.login("alice").await;
        let response = get_tasks(&app, &session).await;
        assert!(response.headers().contains_key("retry-after"), "{mode}");
        let problem = problem(response, 503).await;
        assert_eq!(
            problem["type"], "https://taskhub.dev/problems/auth-unavailable",
            "{mode}"
        );
        let counted = metrics(&app.address).await;
        assert_eq!(
            counted["taskhub_auth_hook_failures_total"],
            (round + 1) as f64,
            "{mode}"
        );
    }
    // The application gone altogether.
    web.server.kill();
    problem(get_tasks(&app, "any-session").await, 503).await;
}

#[tokio::test]
async fn a_stream_let_in_by_the_hook_ends_when_the_answer_expires() {
    let web = SessionApp::start();
    web.set_mode("ok", 2).await;
    let app = taskhub(&web, 2000, &[]).await;
    let alice = web.login("alice").await;
    let response = with_session(app.client.get(app.url("/events/stream")), &alice)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let mut sse = Sse::new(response).connected().await;
    assert!(sse.next().await.is_none(), "the stream ends with the TTL");
}

#[tokio::test]
async fn a_valid_token_is_checked_first_and_a_bad_one_falls_back_on_the_hook() {
    let web = SessionApp::start();
    let app = taskhub(&web, 2000, &["--jwt-secret", SECRET]).await;
    let claims = json!({"exp": now() + 3600, "taskhub": {"publish": ["*"]}});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let with_token = app
        .client
        .get(app.url("/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(with_token.status(), 200);
    assert_eq!(web.calls().await, 0, "a valid token needs no hook");
    // An expired token and a session: the hook decides.
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"exp": now() - 60}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let alice = web.login("alice").await;
    let both = with_session(
        app.client.get(app.url("/tasks")).bearer_auth(&expired),
        &alice,
    )
    .send()
    .await
    .expect("sent");
    assert_eq!(both.status(), 200);
    // An expired token alone: the token's own error.
    let alone = app
        .client
        .get(app.url("/tasks"))
        .bearer_auth(&expired)
        .send()
        .await
        .expect("sent");
    let detail = problem(alone, 401).await["detail"].to_string();
    assert!(detail.contains("expired"), "{detail}");
}

#[test]
fn bad_hook_settings_are_refused_at_start() {
    assert_refused_at_start(
        &[
            "--auth-hook-url",
            "http://app.example.com/auth",
            "--auth-hook-forward",
            "cookie:sessionid",
        ],
        "plain HTTP to a host that is not a loopback address",
    );
    assert_refused_at_start(
        &[
            "--auth-hook-url",
            "http://127.0.0.1:9/auth",
            "--auth-hook-forward",
            "cookie:taskhub_token",
        ],
        "carries TaskHub's own tokens",
    );
    assert_refused_at_start(
        &[
            "--auth-hook-url",
            "http://127.0.0.1:9/auth",
            "--auth-hook-forward",
            "query:x",
        ],
        "is neither cookie:NAME nor header:NAME",
    );
}

#[tokio::test]
async fn the_board_goes_live_on_the_applications_session_cookie_behind_nginx() {
    let web = SessionApp::start();
    let app = taskhub(&web, 2000, &[]).await;
    let application = web.server.address.trim_start_matches("http://");
    let nginx = Nginx::start_with(
        &app,
        "60s",
        &format!("    location /app/ {{\n        proxy_pass http://{application}/;\n    }}\n\n"),
    );
    Script::node("board_session.mjs", &[&nginx.address])
        .finish()
        .await;
    let stats = web.stats().await;
    assert!(
        stats["questions"]
            .as_array()
            .expect("questions")
            .iter()
            .any(|q| q["path"] == "/events/stream"),
        "the board's stream was let in by the hook: {stats}"
    );
}

/// Waits until the server's metric `name` reads `value`; panics after [`PATIENCE`].
async fn await_metric(app: &TestApp, name: &str, value: f64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = metrics(&app.address).await.get(name).copied();
        if now == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {now:?}, not {value}, after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `n` concurrent `GET /tasks` with one session cookie: their statuses, once all end.
fn concurrent_gets(app: &TestApp, session: &str, n: usize) -> tokio::task::JoinSet<u16> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = with_session(app.client.get(app.url("/tasks")), session);
        requests.spawn(async move { request.send().await.expect("sent").status().as_u16() });
    }
    requests
}

#[tokio::test]
async fn concurrent_first_requests_with_one_credential_make_one_hook_call() {
    let web = SessionApp::start();
    let app = taskhub(&web, 10_000, &[]).await;
    web.set_mode("hold", 600).await;
    let alice = web.login("alice").await;
    let requests = concurrent_gets(&app, &alice, 20);
    // The first asks; the nineteen others wait for its answer instead of asking.
    await_metric(&app, "taskhub_auth_hook_waits_total", 19.0).await;
    assert_eq!(web.calls().await, 1);
    web.release("ok").await;
    assert_eq!(requests.join_all().await, vec![200; 20]);
    assert_eq!(web.calls().await, 1, "one hook call for twenty requests");
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_auth_hook_calls_total"], 1.0);
    assert_eq!(counted["taskhub_auth_hook_waits_total"], 19.0);

    // A failure is shared by that flight's waiters, counted once, and not remembered.
    web.set_mode("hold", 600).await;
    let fresh = web.login("alice").await;
    let requests = concurrent_gets(&app, &fresh, 10);
    await_metric(&app, "taskhub_auth_hook_waits_total", 28.0).await;
    web.release("down").await;
    assert_eq!(requests.join_all().await, vec![503; 10]);
    assert_eq!(web.calls().await, 2);
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_auth_hook_calls_total"], 2.0);
    assert_eq!(counted["taskhub_auth_hook_failures_total"], 1.0);
    web.set_mode("ok", 600).await;
    assert_eq!(get_tasks(&app, &fresh).await.status(), 200);
    assert_eq!(web.calls().await, 3, "the failure was not cached");
}

const MERCURE_KEY: &str = "a-mercure-test-key-of-at-least-32-bytes";
const BOOK_1: &str = "https://example.com/books/1";
const BOOKS: &str = "https://example.com/books/{id}";

/// A Mercure subscription to `topic` with a session cookie (none when `session` is
/// `None`).
async fn mercure_subscribe(app: &TestApp, topic: &str, session: Option<&str>) -> reqwest::Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("topic", topic)
        .finish();
    let request = app
        .client
        .get(app.url(&format!("/.well-known/mercure?{query}")));
    let request = match session {
        Some(session) => with_session(request, session),
        None => request,
    };
    request.send().await.expect("sent")
}

/// A Mercure publish with a session cookie, from a page of `origin`.
async fn mercure_publish(
    app: &TestApp,
    session: &str,
    origin: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    with_session(
        app.client
            .post(app.url("/.well-known/mercure"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(form.finish()),
        session,
    )
    .send()
    .await
    .expect("sent")
}

/// The ids of `sse`'s events up to the one named `last`, which is left out.
async fn ids_until(sse: &mut Sse, last: &str) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let id = sse.expect().await.id;
        if id == last {
            return ids;
        }
        ids.push(id);
    }
}

#[tokio::test]
async fn the_mercure_hub_lets_in_what_the_hook_grants() {
    let web = SessionApp::start();
    let app = taskhub(&web, 2000, &["--mercure-jwt-key", MERCURE_KEY]).await;
    let (carol, bob) = (web.login("carol").await, web.login("bob").await);
    let carol_stream = mercure_subscribe(&app, BOOKS, Some(&carol)).await;
    assert_eq!(carol_stream.status(), 200);
    let mut carol_stream = Sse::new(carol_stream);
    // Bob is let in with no grant: public updates only.
    let bob_stream = mercure_subscribe(&app, BOOKS, Some(&bob)).await;
    assert_eq!(bob_stream.status(), 200);
    let mut bob_stream = Sse::new(bob_stream);

    // Carol publishes through the hook too, from a page of the hub's own origin.
    let own = app.address.clone();
    let private = mercure_publish(
        &app,
        &carol,
        &own,
        &[
            ("topic", BOOK_1),
            ("private", "on"),
            ("id", "private-1"),
            ("data", "x"),
        ],
    )
    .await;
    assert_eq!(private.status(), 200);
    assert_eq!(private.text().await.expect("the id"), "private-1");
    // The grants are the hub's to check: a topic outside carol's prefix is refused.
    let outside = mercure_publish(
        &app,
        &carol,
        &own,
        &[("topic", "https://example.com/authors/1"), ("data", "x")],
    )
    .await;
    problem(outside, 403).await;
    assert_eq!(
        mercure_publish(&app, &bob, &own, &[("topic", BOOK_1), ("data", "x")])
            .await
            .status(),
        403,
        "bob may publish nothing"
    );
    // A session cookie sent along by another site's form is refused before the hook is
    // asked (CSRF).
    let calls = web.calls().await;
    let forged = mercure_publish(
        &app,
        &carol,
        "https://evil.example",
        &[("topic", BOOK_1), ("data", "x")],
    )
    .await;
    problem(forged, 403).await;
    assert_eq!(web.calls().await, calls);
    let end = mercure_publish(
        &app,
        &carol,
        &own,
        &[("topic", "https://example.com/books/end"), ("id", "end")],
    )
    .await;
    assert_eq!(end.status(), 200);

    assert_eq!(ids_until(&mut carol_stream, "end").await, ["private-1"]);
    assert!(
        ids_until(&mut bob_stream, "end").await.is_empty(),
        "the private update is not for bob"
    );
    let stats = web.stats().await;
    let questions = stats["questions"].as_array().expect("questions");
    assert!(
        questions.iter().all(|q| q["path"] == "/.well-known/mercure"
            && q["credentials"]["cookie:sessionid"].is_string()),
        "{stats}"
    );
    assert_eq!(
        web.calls().await,
        2,
        "one call per session, for both subscribe and publish"
    );
}

#[tokio::test]
async fn the_mercure_hub_passes_the_hooks_refusals_on_and_fails_closed() {
    let mut web = SessionApp::start();
    let app = taskhub(
        &web,
        500,
        &["--mercure-jwt-key", MERCURE_KEY, "--mercure-anonymous"],
    )
    .await;
    let mallory = web.login("mallory").await;
    let banned = problem(mercure_subscribe(&app, BOOKS, Some(&mallory)).await, 403).await;
    assert!(banned["detail"].to_string().contains("banned"), "{banned}");
    problem(
        mercure_subscribe(&app, BOOKS, Some("no-such-session")).await,
        401,
    )
    .await;
    // Without a credential, the anonymous hub takes the subscriber, and the hook is not
    // asked.
    let calls = web.calls().await;
    assert_eq!(mercure_subscribe(&app, BOOKS, None).await.status(), 200);
    assert_eq!(web.calls().await, calls);

    web.set_mode("down", 600).await;
    let carol = web.login("carol").await;
    let down = mercure_subscribe(&app, BOOKS, Some(&carol)).await;
    assert!(down.headers().contains_key("retry-after"));
    let down = problem(down, 503).await;
    assert_eq!(
        down["type"],
        "https://taskhub.dev/problems/auth-unavailable"
    );
    let own = app.address.clone();
    problem(
        mercure_publish(&app, &carol, &own, &[("topic", BOOK_1), ("data", "x")]).await,
        503,
    )
    .await;
    // The application gone altogether: still never a pass, nor anonymous.
    web.server.kill();
    problem(mercure_subscribe(&app, BOOKS, Some(&carol)).await, 503).await;
}

#[tokio::test]
async fn a_mercure_stream_let_in_by_the_hook_ends_when_the_answer_expires() {
    let web = SessionApp::start();
    web.set_mode("ok", 2).await;
    let app = taskhub(&web, 2000, &["--mercure-jwt-key", MERCURE_KEY]).await;
    let carol = web.login("carol").await;
    let opened = Instant::now();
    let response = mercure_subscribe(&app, BOOKS, Some(&carol)).await;
    assert_eq!(response.status(), 200);
    let mut sse = Sse::new(response);
    assert!(sse.next().await.is_none(), "the stream ends with the TTL");
    assert!(opened.elapsed() >= Duration::from_secs(1), "not before it");
}
