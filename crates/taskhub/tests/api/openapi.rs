//! `GET /openapi.json`: generated from the code, covering every endpoint; and
//! schemathesis, run against a live server, finds nothing.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_document_covers_every_endpoint_and_its_errors() {
    let app = spawn_app().await;
    let document: Value = app.get_json("/openapi.json").await;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for (path, method) in [
        ("/events", "post"),
        ("/events/stream", "get"),
        ("/tasks", "post"),
        ("/tasks", "get"),
        ("/tasks/{id}", "get"),
        ("/tasks/{id}", "patch"),
        ("/tasks/{id}", "delete"),
        ("/tasks/status/{id}", "put"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
    ] {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} is problem+json"
                );
            }
        }
    }
    let stream = &document["paths"]["/events/stream"]["get"];
    let params: Vec<&str> = stream["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "types",
        "topics",
        "last_event_id",
        "typed",
        "access_token",
        "Last-Event-ID",
    ] {
        assert!(params.contains(&name), "stream parameter {name}");
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        document["components"]["schemas"]["EventInput"]["then"]["required"][0],
        "topic"
    );
}

/// The schemathesis that `scripts/test-deps.sh` installs.
fn schemathesis() -> PathBuf {
    let installed = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.test-deps/schemathesis/bin/schemathesis"
    ));
    assert!(
        installed.exists(),
        "schemathesis is missing: run scripts/test-deps.sh (scripts/test.sh does)"
    );
    installed
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    // A webhook target (nothing is selected, so nothing is sent) for the webhook
    // operations to find; the hooks put its URL into valid requests.
    let webhook = "http://127.0.0.1:9/hook";
    let app = spawn_app_with(&[
        "--webhook-url",
        webhook,
        "--webhook-secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ])
    .await;
    let output = tokio::task::spawn_blocking({
        let schema = app.url("/openapi.json");
        move || {
            Command::new(schemathesis())
                // A valid request gets an Idempotency-Key of its own (see the file).
                .env(
                    "SCHEMATHESIS_HOOKS",
                    concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../../tests/schemathesis/hooks.py"
                    ),
                )
                .env("TASKHUB_TEST_WEBHOOK_URL", webhook)
                .args([
                    "run",
                    &schema,
                    "--checks",
                    "all",
                    "--no-color",
                    "--seed",
                    "20261124",
                ])
                .args(["--max-examples", "40", "--workers", "2"])
                // Every warning but `missing_test_data`: whether the random stateful phase
                // happens to reuse an id it created (rather than answer 404 to made-up
                // ids) shifts with the seed and the set of operations, and says nothing
                // about conformance; the examples and coverage phases still reach each
                // operation with the values the document gives.
                .args([
                    "--warnings",
                    "missing_auth,base_url_mismatch,validation_mismatch,missing_deserializer,\
                     unused_openapi_auth,unsupported_regex,method_not_allowed,\
                     constants_extraction,unmatched_filter,unresolvable_reference,\
                     low_valid_rate,rate_limited,dictionary_mismatch,timeout_units",
                ])
                // An endless event stream cannot be checked as a response; tests/api covers it.
                .args(["--exclude-path", "/events/stream"])
                .output()
                .expect("schemathesis runs")
        }
    })
    .await
    .expect("joined");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
}
