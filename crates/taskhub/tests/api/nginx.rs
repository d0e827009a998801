//! TaskHub behind a real nginx running `deploy/nginx.conf` (only its addresses and read
//! timeout changed): events pass unbuffered, keepalives hold idle streams open past
//! nginx's read timeout, and rate limits see each client's own address through
//! `--trusted-proxies`.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{Sse, TestApp, spawn_app_with};
use crate::scripts::repo_root;

/// Where nginx listens; clients connect from other loopback addresses, so nginx (and
/// through it, TaskHub) can tell them apart.
const NGINX_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// An nginx process in front of one test server, with its own prefix directory.
pub(crate) struct Nginx {
    child: Child,
    pub(crate) address: String,
    _dir: TempDir,
}

impl Nginx {
    /// Starts nginx with `deploy/nginx.conf` pointing at `app`, closing idle proxied
    /// streams after `read_timeout`.
    fn start(app: &TestApp, read_timeout: &str) -> Self {
        Self::start_with(app, read_timeout, "")
    }

    /// The same, with `locations` (nginx `location` blocks) added to the server before
    /// TaskHub's own: another application on the same site.
    pub(crate) fn start_with(app: &TestApp, read_timeout: &str, locations: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = TcpListener::bind((NGINX_IP, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let upstream = app.address.trim_start_matches("http://");
        let example = std::fs::read_to_string(repo_root().join("deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
        let mut site = example;
        for (from, to) in [
            ("server 127.0.0.1:8000;", format!("server {upstream};")),
            ("listen 80;", format!("listen {NGINX_IP}:{port};")),
            (
                "proxy_read_timeout 60s;",
                format!("proxy_read_timeout {read_timeout};"),
            ),
            ("    location / {", format!("{locations}    location / {{")),
        ] {
            assert_eq!(
                site.matches(from).count(),
                1,
                "deploy/nginx.conf has {from}"
            );
            site = site.replace(from, &to);
        }
        std::fs::write(dir.path().join("taskhub.conf"), site).expect("written");
        let prefix = dir.path().display();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log warn;\nevents {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  \
             proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n  \
             uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
             include {prefix}/taskhub.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("written");
        let child = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .spawn()
            .expect("nginx starts (scripts/test-deps.sh installs it)");
        let deadline = Instant::now() + crate::helpers::PATIENCE;
        while std::net::TcpStream::connect((NGINX_IP, port)).is_err() {
            assert!(Instant::now() < deadline, "nginx never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            address: format!("http://{NGINX_IP}:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client whose connections come from `from` (a loopback address).
fn client_from(from: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .build()
        .expect("client")
}

async fn open_stream(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client
        .get(format!("{base}/events/stream"))
        .send()
        .await
        .expect("stream request")
}

/// Publishes `n` events one at a time, each once both streams delivered the previous,
/// timing its arrival on each from the request. Returns the latencies, direct and
/// through nginx, and what nginx added to each event, all sorted.
async fn arrival_times(
    app: &TestApp,
    direct: &mut Sse,
    proxied: &mut Sse,
    n: usize,
) -> [Vec<Duration>; 3] {
    let (mut direct_times, mut proxied_times, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let started = Instant::now();
        let published = app.publish("ping", json!({"n": i}), None);
        let direct_arrival = async {
            let event = direct.expect().await;
            (started.elapsed(), event)
        };
        let proxied_arrival = async {
            let event = proxied.expect().await;
            (started.elapsed(), event)
        };
        let (_, (direct_time, a), (proxied_time, b)) =
            tokio::join!(published, direct_arrival, proxied_arrival);
        assert_eq!(crate::helpers::envelope(&a)["data"]["n"], i);
        assert_eq!(crate::helpers::envelope(&b)["data"]["n"], i);
        direct_times.push(direct_time);
        added.push(proxied_time.saturating_sub(direct_time));
        proxied_times.push(proxied_time);
    }
    for times in [&mut direct_times, &mut proxied_times, &mut added] {
        times.sort();
    }
    [direct_times, proxied_times, added]
}

fn summary(latencies: &[Duration]) -> String {
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    format!(
        "p50 {:.3} ms, p90 {:.3} ms, max {:.3} ms over {} events",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        latencies.len()
    )
}

#[tokio::test]
async fn events_pass_through_nginx_unbuffered() {
    let app = spawn_app_with(&[]).await;
    let nginx = Nginx::start(&app, "60s");
    let client = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let response = open_stream(&client, &nginx.address).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // nginx's own $request_id (32 hex digits), passed on and echoed by TaskHub.
    let request_id = response.headers()["x-request-id"].to_str().expect("text");
    assert!(request_id.len() == 32 && request_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut proxied = Sse::new(response).connected().await;
    let mut direct = app.subscribe("", None).await.connected().await;

    // Publish-to-delivery time on the same event, with and without nginx. Numbers, not
    // assertions: a buffering proxy would hold small events until the test timed out.
    let [direct_times, proxied_times, added] =
        arrival_times(&app, &mut direct, &mut proxied, 300).await;
    println!(
        "publish → delivery direct:        {}",
        summary(&direct_times)
    );
    println!(
        "publish → delivery through nginx: {}",
        summary(&proxied_times)
    );
    println!("added by nginx: {}", summary(&added));
}

#[tokio::test]
async fn keepalives_hold_idle_streams_open_past_the_read_timeout() {
    let app = spawn_app_with(&["--keepalive-secs", "1"]).await;
    let nginx = Nginx::start(&app, "3s");
    let client = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let mut sse = Sse::new(open_stream(&client, &nginx.address).await)
        .connected()
        .await;
    // Idle for more than twice nginx's read timeout: only keepalives cross the stream.
    sse.assert_quiet(Duration::from_secs(7)).await;
    app.publish("after.silence", json!(1), None).await;
    assert_eq!(sse.expect().await.event, "after.silence");
}

#[tokio::test]
async fn without_keepalives_nginx_closes_idle_streams() {
    // The control for the test above: the same proxy ends a silent stream.
    let app = spawn_app_with(&["--keepalive-secs", "60"]).await;
    let nginx = Nginx::start(&app, "2s");
    let client = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let mut sse = Sse::new(open_stream(&client, &nginx.address).await)
        .connected()
        .await;
    assert!(sse.next().await.is_none(), "nginx ended the stream");
}

#[tokio::test]
async fn rate_limits_see_each_client_through_nginx_with_trusted_proxies() {
    let alice = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let bob = client_from(Ipv4Addr::new(127, 0, 0, 4));
    for (trusted, bob_status) in [(true, 200), (false, 429)] {
        let mut args = vec!["--connect-rate", "2"];
        if trusted {
            args.extend(["--trusted-proxies", "127.0.0.1"]);
        }
        let app = spawn_app_with(&args).await;
        let nginx = Nginx::start(&app, "60s");
        let first = open_stream(&alice, &nginx.address).await;
        let second = open_stream(&alice, &nginx.address).await;
        assert_eq!(
            (first.status().as_u16(), second.status().as_u16()),
            (200, 200)
        );
        let third = open_stream(&alice, &nginx.address).await;
        assert_eq!(third.status(), 429, "Alice is over her limit");
        assert!(third.headers().get("retry-after").is_some());
        let other = open_stream(&bob, &nginx.address).await;
        assert_eq!(
            other.status(),
            bob_status,
            "Bob through nginx, trusted proxies: {trusted}"
        );
    }
}
