//! TLS and HTTP/2: with `--tls-cert`/`--tls-key` the server speaks HTTPS, HTTP/2 through
//! ALPN (and HTTP/1.1 for clients that ask for it); without them, plain HTTP/1.1 (and
//! h2c for clients that know). Checked with curl and with Chromium.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::helpers::{TestApp, serve_command, spawn_app_with};
use crate::scripts::Script;

/// A self-signed certificate for `127.0.0.1` and `localhost`, made by openssl.
fn certificate() -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "openssl: {status:?}");
    dir
}

async fn spawn_https(certs: &Path) -> (TestApp, String) {
    let cert = certs.join("cert.pem");
    let key = certs.join("key.pem");
    let app = spawn_app_with(&[
        "--tls-cert",
        cert.to_str().expect("UTF-8 path"),
        "--tls-key",
        key.to_str().expect("UTF-8 path"),
    ])
    .await;
    let https = app.address.replacen("http://", "https://", 1);
    (app, https)
}

/// The HTTP version curl used for `GET url/healthz` with `flags`, checking the answer.
fn curl_version(url: &str, flags: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(flags)
        .args(["--write-out", "\n%{http_version}"])
        .arg(format!("{url}/healthz"))
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl: {output:?}");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let (body, version) = text.rsplit_once('\n').expect("body and version");
    assert_eq!(body, r#"{"status":"ok"}"#);
    version.to_owned()
}

#[tokio::test]
async fn https_negotiates_http2_and_still_serves_http1() {
    let certs = certificate();
    let (_app, https) = spawn_https(certs.path()).await;
    let ca = certs.path().join("cert.pem");
    let ca = ca.to_str().expect("UTF-8 path");
    assert_eq!(curl_version(&https, &["--cacert", ca, "--http2"]), "2");
    assert_eq!(curl_version(&https, &["--cacert", ca, "--http1.1"]), "1.1");
}

/// `http://` to the TLS port: a 400 in plain HTTP naming the `https://` URL, not a
/// handshake failure the client cannot explain.
#[tokio::test]
async fn plain_http_to_the_tls_port_is_told_to_use_https() {
    let certs = certificate();
    let (_app, https) = spawn_https(certs.path()).await;
    let plain = https.replacen("https://", "http://", 1);
    for method in ["GET", "POST"] {
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "10", "-X", method])
            .args(["--data-binary", "{\"event\":\"x\",\"data\":1}"])
            .args(["--write-out", "\n%{http_code} %{content_type}"])
            .arg(format!("{plain}/events?x=1"))
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "{method}: {output:?}");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        let (body, status) = text.rsplit_once('\n').expect("body and status");
        assert_eq!(status, "400 application/problem+json", "{method}: {text}");
        let problem: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(
            problem["type"],
            "https://taskhub.dev/problems/https-required"
        );
        let wanted = format!("use {https}/events?x=1");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.ends_with(&wanted)),
            "{method}: {problem}"
        );
    }
    // The port still speaks TLS afterwards.
    let ca = certs.path().join("cert.pem");
    let ca = ca.to_str().expect("UTF-8 path");
    assert_eq!(curl_version(&https, &["--cacert", ca, "--http1.1"]), "1.1");
}

#[tokio::test]
async fn without_a_certificate_it_is_plain_http1_with_h2c_for_those_who_ask() {
    let app = spawn_app_with(&[]).await;
    assert_eq!(curl_version(&app.address, &["--http1.1"]), "1.1");
    assert_eq!(
        curl_version(&app.address, &["--http2-prior-knowledge"]),
        "2"
    );
}

#[tokio::test]
async fn a_bad_certificate_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").expect("written");
    let output = serve_command(dir.path(), "127.0.0.1:0")
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("holds no PEM certificate"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--tls-cert"])
        .arg(&cert)
        .output()
        .expect("runs");
    assert!(!output.status.success(), "--tls-cert needs --tls-key");
}

#[tokio::test]
async fn chromium_holds_twenty_event_streams_over_http2() {
    let certs = certificate();
    let (_app, https) = spawn_https(certs.path()).await;
    Script::node("many_streams.mjs", &[&https, "all"])
        .finish()
        .await;
}

#[tokio::test]
async fn over_http1_chromium_stops_at_six_event_streams() {
    let app = spawn_app_with(&[]).await;
    Script::node("many_streams.mjs", &[&app.address, "six"])
        .finish()
        .await;
}
