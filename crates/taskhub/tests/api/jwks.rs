//! Tokens verified by the keys of a JWKS URL (`--jwt-jwks-url`, `--mercure-jwks-url`),
//! served by a real key server (tests/python/jwks_server.py: keys made by Python's
//! `cryptography`, tokens signed with them): every key type, rotation without restart,
//! the provider down with a warm and a cold cache, forged `kid`s, algorithm confusion,
//! the issuer, audience and `nbf` rules, and namespaced claims and scopes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    LoggedServer, PATIENCE, Sse, TestApp, assert_refused_at_start, metrics, problem,
    spawn_app_with, spawn_app_with_env,
};
use crate::scripts::PythonServer;
use crate::tokens::now;

/// The key server, on a free loopback port; stopped when dropped.
pub(crate) struct KeyServer {
    server: PythonServer,
    client: reqwest::Client,
}

impl KeyServer {
    pub(crate) fn start() -> Self {
        Self {
            server: PythonServer::start("jwks_server.py"),
            client: reqwest::Client::new(),
        }
    }

    /// The same, also serving the set over HTTPS with `certs`' cert.pem and key.pem.
    fn start_tls(certs: &std::path::Path) -> Self {
        let (cert, key) = (certs.join("cert.pem"), certs.join("key.pem"));
        Self {
            server: PythonServer::start_with("jwks_server.py", &[&cert, &key]),
            client: reqwest::Client::new(),
        }
    }

    /// The HTTPS JWKS URL of a server started with [`KeyServer::start_tls`].
    fn jwks_https_url(&self) -> String {
        format!("https://localhost:{}/jwks", self.server.started["tls_port"])
    }

    /// The JWKS URL.
    pub(crate) fn jwks_url(&self) -> String {
        self.server.url("/jwks")
    }

    async fn call(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.server.url(path))
            .json(&body)
            .send()
            .await
            .expect("the key server answers");
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("JSON")
    }

    /// Makes a key of type `kty` (RSA, EC or OKP) named `kid`; it is not published yet.
    pub(crate) async fn make_key(&self, kid: &str, kty: &str) {
        self.call("/keys", json!({"kid": kid, "kty": kty})).await;
    }

    /// Publishes exactly these keys.
    pub(crate) async fn publish(&self, kids: &[&str]) {
        self.call("/publish", json!({ "kids": kids })).await;
    }

    /// Makes keys and publishes them.
    pub(crate) async fn with_keys(keys: &[(&str, &str)]) -> Self {
        let server = Self::start();
        for (kid, kty) in keys {
            server.make_key(kid, kty).await;
        }
        let kids: Vec<&str> = keys.iter().map(|(kid, _)| *kid).collect();
        server.publish(&kids).await;
        server
    }

    /// The `Cache-Control: max-age` the set is served with from now on.
    async fn set_max_age(&self, secs: u64) {
        self.call("/cache", json!({ "max_age": secs })).await;
    }

    pub(crate) async fn set_down(&self, down: bool) {
        self.call("/down", json!({ "down": down })).await;
    }

    /// A token signed by the key `kid`, `exp` an hour away unless `claims` say.
    pub(crate) async fn sign(&self, kid: &str, mut claims: Value) -> String {
        if claims.get("exp").is_none() {
            claims["exp"] = json!(now() + 3600);
        }
        let answer = self
            .call("/sign", json!({"kid": kid, "claims": claims}))
            .await;
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// A token signed by `kid` whose header says `header` (overriding `alg`, `kid`).
    async fn sign_with_header(&self, kid: &str, header: Value, claims: Value) -> String {
        let answer = self
            .call(
                "/sign",
                json!({"kid": kid, "header": header, "claims": claims}),
            )
            .await;
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// HS256 over the RSA key `kid`'s public PEM, as an attacker who read the set would.
    async fn confused(&self, kid: &str, claims: Value) -> String {
        let answer = self
            .call("/confuse", json!({"kid": kid, "claims": claims}))
            .await;
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// Requests to the JWKS document so far.
    pub(crate) async fn fetches(&self) -> u64 {
        self.fetches_above(None).await
    }

    /// Requests to the JWKS document, once there are more than `above`.
    async fn fetches_above(&self, above: Option<u64>) -> u64 {
        let path = above.map_or("/count".to_owned(), |n| format!("/count?above={n}"));
        let answer: Value = self
            .client
            .get(self.server.url(&path))
            .send()
            .await
            .expect("count")
            .json()
            .await
            .expect("JSON");
        answer["jwks"].as_u64().expect("a count")
    }
}

fn all() -> Value {
    json!({"taskhub": {"subscribe": ["*"], "publish": ["*"]}})
}

async fn status(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(app.url("/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

async fn publish_status(app: &TestApp, token: &str, topic: &str) -> u16 {
    app.client
        .post(app.url("/events"))
        .bearer_auth(token)
        .json(&json!({"event": "e", "data": 1, "topic": topic}))
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn rsa_ec_and_ed25519_keys_each_verify_their_own_tokens() {
    let keys = KeyServer::with_keys(&[("rsa", "RSA"), ("ec", "EC"), ("ed", "OKP")]).await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    for kid in ["rsa", "ec", "ed"] {
        let token = keys.sign(kid, all()).await;
        assert_eq!(status(&app, &token).await, 200, "{kid}");
        assert_eq!(publish_status(&app, &token, "t/1").await, 202, "{kid}");
    }
    // A token whose header names another algorithm than its key's: the key decides.
    let lying = keys
        .sign_with_header("ec", json!({"alg": "RS256"}), all())
        .await;
    problem(
        app.client
            .get(app.url("/tasks"))
            .bearer_auth(&lying)
            .send()
            .await
            .expect("sent"),
        401,
    )
    .await;
    // No token at all is still 401, not a bypass.
    let anonymous = app
        .client
        .get(app.url("/tasks"))
        .send()
        .await
        .expect("sent");
    problem(anonymous, 401).await;
    assert_eq!(keys.fetches().await, 1, "fetched once, at start");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_the_retired_one_refused_without_restart() {
    let keys = KeyServer::with_keys(&[("2026-01", "RSA")]).await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let old = keys.sign("2026-01", all()).await;
    assert_eq!(status(&app, &old).await, 200);

    // The provider rotates: the new key is published, the old one retired.
    keys.make_key("2026-02", "EC").await;
    keys.publish(&["2026-02"]).await;
    let new = keys.sign("2026-02", all()).await;
    assert_eq!(
        status(&app, &new).await,
        200,
        "the new kid is fetched at once"
    );
    let refused = app
        .client
        .get(app.url("/tasks"))
        .bearer_auth(&old)
        .send()
        .await
        .expect("sent");
    let detail = problem(refused, 401).await["detail"].to_string();
    assert!(detail.contains("kid"), "{detail}");
    assert_eq!(
        keys.fetches().await,
        2,
        "start, then one refetch for the new kid"
    );
}

/// The set's `max-age` (above the 60 s floor, below the 10 min default, so that only
/// reading it explains the timing).
const MAX_AGE: Duration = Duration::from_secs(65);

#[tokio::test]
async fn the_key_set_is_refetched_when_its_max_age_runs_out() {
    let keys = KeyServer::with_keys(&[("k", "RSA")]).await;
    keys.set_max_age(MAX_AGE.as_secs()).await;
    let started = Instant::now();
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let old = keys.sign("k", all()).await;
    assert_eq!(status(&app, &old).await, 200);

    // The provider replaces the key under the same kid: no unknown kid can explain a
    // refetch, and a token of the new key is refused until the set is refreshed.
    keys.make_key("k", "RSA").await;
    let new = keys.sign("k", all()).await;
    assert_eq!(status(&app, &new).await, 401);
    assert_eq!(keys.fetches().await, 1, "a known kid causes no refetch");

    let deadline = started + MAX_AGE + PATIENCE;
    let refetched = tokio::time::timeout_at(deadline.into(), keys.fetches_above(Some(1)))
        .await
        .expect("a refresh once the max-age ran out");
    assert_eq!(refetched, 2);
    assert!(
        started.elapsed() >= MAX_AGE,
        "refetched after {:?}, before the max-age ran out",
        started.elapsed()
    );
    // The fetch is counted when the provider is asked; the keys swap once it answers.
    while status(&app, &new).await != 200 {
        assert!(Instant::now() < deadline, "the refreshed key is not used");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status(&app, &old).await, 401, "the replaced key is gone");
    assert_eq!(keys.fetches().await, 2);
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_jwks_fetches_total"], 2.0);
    assert_eq!(counted["taskhub_jwks_fetch_failures_total"], 0.0);
}

#[tokio::test]
async fn the_refresh_interval_is_held_between_a_minute_and_a_day() {
    let keys = KeyServer::with_keys(&[("k", "EC")]).await;
    let url = keys.jwks_url();
    for (max_age, refresh) in [(31_536_000, 24 * 3600), (0, 60), (MAX_AGE.as_secs(), 65)] {
        keys.set_max_age(max_age).await;
        // The first fetch is done before the server listens, so its line is there.
        let server = LoggedServer::start(&["--jwt-jwks-url", &url], "info");
        let fetched = server
            .lines()
            .into_iter()
            .find(|log| log["message"] == "fetched the key set")
            .expect("the fetch is logged");
        assert_eq!(
            fetched["refresh_secs"], refresh,
            "max-age={max_age}: {fetched}"
        );
    }
}

#[tokio::test]
async fn forged_kids_cause_at_most_one_refetch() {
    let keys = KeyServer::with_keys(&[("real", "RSA")]).await;
    // The attacker's own key, never published.
    keys.make_key("attacker", "RSA").await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let mut forged = Vec::new();
    for i in 0..40 {
        forged.push(
            keys.sign_with_header("attacker", json!({"kid": format!("forged-{i}")}), all())
                .await,
        );
    }
    let requests = forged
        .iter()
        .map(|token| app.client.get(app.url("/tasks")).bearer_auth(token).send());
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.expect("sent").status(), 401);
    }
    assert_eq!(
        keys.fetches().await,
        2,
        "the start's fetch and one refetch for forty forged kids"
    );
    // The real key still works meanwhile.
    let real = keys.sign("real", all()).await;
    assert_eq!(status(&app, &real).await, 200);
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_jwks_fetches_total"], 2.0);
}

#[tokio::test]
async fn with_the_provider_down_cached_keys_keep_working() {
    let keys = KeyServer::with_keys(&[("k1", "RSA")]).await;
    keys.make_key("k2", "RSA").await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let cached = keys.sign("k1", all()).await;
    assert_eq!(status(&app, &cached).await, 200);

    keys.set_down(true).await;
    keys.publish(&["k1", "k2"]).await;
    // An unknown kid makes TaskHub try the provider, which fails: 401, the cache kept.
    let unknown = keys.sign("k2", all()).await;
    assert_eq!(status(&app, &unknown).await, 401);
    assert_eq!(
        status(&app, &cached).await,
        200,
        "the cached key still verifies"
    );
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_jwks_fetch_failures_total"], 1.0);
}

#[tokio::test]
async fn a_key_set_over_the_key_bound_is_refused_and_the_cached_one_kept() {
    let keys = KeyServer::with_keys(&[("first", "EC")]).await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let cached = keys.sign("first", all()).await;
    assert_eq!(status(&app, &cached).await, 200);
    // 33 keys: one more than a set may hold.
    let mut kids = vec!["first".to_owned()];
    for i in 0..32 {
        let kid = format!("extra-{i}");
        keys.make_key(&kid, "EC").await;
        kids.push(kid);
    }
    keys.publish(&kids.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let newcomer = keys.sign("extra-0", all()).await;
    assert_eq!(
        status(&app, &newcomer).await,
        401,
        "the refetched set was refused"
    );
    assert_eq!(status(&app, &cached).await, 200, "the cached set stays");
    let counted = metrics(&app.address).await;
    assert_eq!(counted["taskhub_jwks_fetch_failures_total"], 1.0);
}

#[tokio::test]
async fn with_no_keys_ever_fetched_requests_get_503_never_a_bypass() {
    let keys = KeyServer::with_keys(&[("k1", "EC")]).await;
    keys.set_down(true).await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let token = keys.sign("k1", all()).await;
    for request in [
        app.client.get(app.url("/tasks")),
        app.client.get(app.url("/events/stream")),
        app.client
            .post(app.url("/events"))
            .json(&json!({"event": "e", "data": 1})),
    ] {
        let response = request.bearer_auth(&token).send().await.expect("sent");
        assert!(response.headers().contains_key("retry-after"));
        let problem = problem(response, 503).await;
        assert_eq!(
            problem["type"],
            "https://taskhub.dev/problems/auth-unavailable"
        );
    }
    // Without a token there is nothing to check: 401 as always.
    problem(
        app.client
            .get(app.url("/tasks"))
            .send()
            .await
            .expect("sent"),
        401,
    )
    .await;

    // The provider recovers: the background retry (a backoff from one second) fetches.
    keys.set_down(false).await;
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match status(&app, &token).await {
            200 => break,
            503 => assert!(std::time::Instant::now() < deadline, "never recovered"),
            other => panic!("status {other} while the cache was cold"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn alg_confusion_with_the_rsa_public_key_as_an_hmac_secret_is_refused() {
    let keys = KeyServer::with_keys(&[("rsa", "RSA")]).await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let confused = keys.confused("rsa", all()).await;
    let response = app
        .client
        .get(app.url("/tasks"))
        .bearer_auth(&confused)
        .send()
        .await
        .expect("sent");
    let detail = problem(response, 401).await["detail"].to_string();
    assert!(detail.contains("algorithm"), "{detail}");
}

#[tokio::test]
async fn issuer_audience_and_nbf_are_checked() {
    let keys = KeyServer::with_keys(&[("k", "RSA")]).await;
    let issuer = "https://idp.example.com/realms/acme";
    let app = spawn_app_with(&[
        "--jwt-jwks-url",
        &keys.jwks_url(),
        "--jwt-issuer",
        issuer,
        "--jwt-audience",
        "taskhub",
    ])
    .await;
    let grants = json!({"subscribe": ["*"], "publish": ["*"]});
    let cases = [
        ("right", json!({"iss": issuer, "aud": "taskhub"}), 200),
        (
            "audience among several",
            json!({"iss": issuer, "aud": ["account", "taskhub"]}),
            200,
        ),
        (
            "wrong issuer",
            json!({"iss": "https://evil.example.com", "aud": "taskhub"}),
            401,
        ),
        ("no issuer", json!({"aud": "taskhub"}), 401),
        (
            "wrong audience",
            json!({"iss": issuer, "aud": "account"}),
            401,
        ),
        ("no audience", json!({"iss": issuer}), 401),
        (
            "not valid for a minute",
            json!({"iss": issuer, "aud": "taskhub", "nbf": now() + 60}),
            401,
        ),
        (
            "valid in a second (within the leeway)",
            json!({"iss": issuer, "aud": "taskhub", "nbf": now() + 1}),
            200,
        ),
        (
            "expired a minute ago",
            json!({"iss": issuer, "aud": "taskhub", "exp": now() - 60}),
            401,
        ),
    ];
    for (what, mut claims, expected) in cases {
        claims["taskhub"] = grants.clone();
        let token = keys.sign("k", claims).await;
        assert_eq!(status(&app, &token).await, expected, "{what}");
    }
}

#[tokio::test]
async fn grants_come_from_a_namespaced_claim_and_from_scopes_and_roles() {
    let keys = KeyServer::with_keys(&[("k", "EC")]).await;
    let claim = "https://example.com/taskhub";
    let app = spawn_app_with(&[
        "--jwt-jwks-url",
        &keys.jwks_url(),
        "--jwt-claims-path",
        claim,
    ])
    .await;
    let namespaced = keys
        .sign("k", json!({ claim: {"publish": ["news/*"]} }))
        .await;
    assert_eq!(publish_status(&app, &namespaced, "news/1").await, 202);
    assert_eq!(publish_status(&app, &namespaced, "other/1").await, 403);
    // The plain `taskhub` claim is not read when another is configured.
    let plain = keys
        .sign("k", json!({"taskhub": {"publish": ["other/*"]}}))
        .await;
    assert_eq!(publish_status(&app, &plain, "other/1").await, 403);
    let scoped = keys
        .sign(
            "k",
            json!({
                "scope": "openid taskhub:publish:alerts/*",
                "realm_access": {"roles": ["taskhub:subscribe:alerts/*"]},
            }),
        )
        .await;
    assert_eq!(publish_status(&app, &scoped, "alerts/1").await, 202);
    assert_eq!(publish_status(&app, &scoped, "news/1").await, 403);
    let stream = app
        .client
        .get(app.url("/events/stream?topics=alerts/*"))
        .bearer_auth(&scoped)
        .send()
        .await
        .expect("sent");
    assert_eq!(stream.status(), 200);
}

#[tokio::test]
async fn a_stream_opened_with_a_jwks_token_ends_when_it_expires() {
    let keys = KeyServer::with_keys(&[("k", "OKP")]).await;
    let app = spawn_app_with(&["--jwt-jwks-url", &keys.jwks_url()]).await;
    let short = keys
        .sign(
            "k",
            json!({"exp": now() + 2, "taskhub": {"subscribe": ["*"]}}),
        )
        .await;
    let response = app
        .client
        .get(app.url("/events/stream"))
        .bearer_auth(&short)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let mut sse = Sse::new(response).connected().await;
    assert!(sse.next().await.is_none(), "the stream ends at exp");
}

#[tokio::test]
async fn the_mercure_hub_verifies_with_the_same_key_set() {
    let keys = KeyServer::with_keys(&[("k", "EC")]).await;
    let url = keys.jwks_url();
    let app = spawn_app_with(&["--jwt-jwks-url", &url, "--mercure-jwks-url", &url]).await;
    let publisher = keys.sign("k", json!({"mercure": {"publish": ["*"]}})).await;
    let response = app
        .client
        .post(app.url("/.well-known/mercure"))
        .bearer_auth(&publisher)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("topic=https%3A%2F%2Fexample.com%2Fa&data=hello")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let forged = keys
        .sign_with_header(
            "k",
            json!({"alg": "HS256"}),
            json!({"mercure": {"publish": ["*"]}}),
        )
        .await;
    let refused = app
        .client
        .post(app.url("/.well-known/mercure"))
        .bearer_auth(&forged)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("topic=https%3A%2F%2Fexample.com%2Fa&data=hello")
        .send()
        .await
        .expect("sent");
    problem(refused, 401).await;
    let subscriber = keys
        .sign("k", json!({"mercure": {"subscribe": ["*"]}}))
        .await;
    let stream = app
        .client
        .get(app.url("/.well-known/mercure?topic=*"))
        .bearer_auth(&subscriber)
        .send()
        .await
        .expect("sent");
    assert_eq!(stream.status(), 200);
    assert_eq!(
        keys.fetches().await,
        1,
        "one key set for both, fetched once"
    );
}

/// A test CA (`ca.pem`) and a certificate it signed for `localhost` and `127.0.0.1`
/// (`cert.pem`, `key.pem`), made by openssl: rustls refuses a self-signed CA
/// certificate as a server's own.
fn certificate_chain() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = |name: &str| dir.path().join(name);
    std::fs::write(
        path("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("written");
    let openssl = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=TaskHub test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=localhost",
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
            ],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    dir
}

#[tokio::test]
async fn an_https_key_set_is_fetched_only_from_a_trusted_certificate() {
    let certs = certificate_chain();
    let keys = KeyServer::start_tls(certs.path());
    keys.make_key("k", "RSA").await;
    keys.publish(&["k"]).await;
    let url = keys.jwks_https_url();
    let token = keys.sign("k", all()).await;
    let ca = certs.path().join("ca.pem");
    let trusting = spawn_app_with_env(
        &["--jwt-jwks-url", &url],
        &[("SSL_CERT_FILE", ca.to_str().expect("UTF-8 path"))],
    )
    .await;
    assert_eq!(status(&trusting, &token).await, 200);
    // The system's anchors do not include the test's certificate: no keys, 503.
    let distrusting = spawn_app_with(&["--jwt-jwks-url", &url]).await;
    assert_eq!(status(&distrusting, &token).await, 503);
    assert_eq!(
        keys.fetches().await,
        1,
        "the TLS handshake failed before any request"
    );
}

#[test]
fn bad_key_set_settings_are_refused_at_start() {
    assert_refused_at_start(
        &["--jwt-jwks-url", "http://idp.example.com/jwks"],
        "plain HTTP to a host that is not a loopback address",
    );
    assert_refused_at_start(
        &[
            "--jwt-jwks-url",
            "https://idp.example.com/jwks",
            "--jwt-secret",
            "a-test-secret-of-at-least-32-bytes!!",
        ],
        "give one of a JWT secret, a JWT public key or a JWKS URL",
    );
    assert_refused_at_start(
        &[
            "--jwt-jwks-url",
            "https://idp.example.com/jwks",
            "--jwt-algorithms",
            "HS256",
        ],
        "each key of the set fixes its own algorithm",
    );
    assert_refused_at_start(
        &["--jwt-issuer", "https://idp.example.com/"],
        "--jwt-issuer needs a key",
    );
}
