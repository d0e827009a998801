//! History (issue 16): pages of the log (`GET /events`), one event, a topic's latest,
//! streams that start with the recent past (`rewind`, `since`), and retention by age.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{PATIENCE, TestApp, envelope, problem, spawn_app, spawn_app_with};

/// Every event of `GET /events` with this query, following `next` from page to page;
/// checks that each page's `Link` header names the same next page as its body.
async fn all_pages(app: &TestApp, query: &str) -> (Vec<Value>, usize) {
    let mut url = format!("/events?{query}");
    let (mut events, mut pages) = (Vec::new(), 0);
    loop {
        let response = app.get(&url).await;
        assert_eq!(response.status(), 200, "{url}");
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        let page: Value = response.json().await.expect("JSON");
        pages += 1;
        events.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
                url = next.to_owned();
            }
            None => {
                assert_eq!(link, None, "no Link on the last page");
                return (events, pages);
            }
        }
    }
}

fn ids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("id").parse().expect("numeric"))
        .collect()
}

/// Publishes `n` events in batches: type `a` or `b`, topic `t/0` to `t/4`, `data` the
/// index; returns (id, type, topic) of each.
async fn publish_mix(app: &TestApp, n: usize) -> Vec<(u64, String, String)> {
    let mut published = Vec::new();
    for start in (0..n).step_by(1000) {
        let batch: Vec<Value> = (start..n.min(start + 1000))
            .map(|i| {
                let kind = if i.is_multiple_of(3) { "a" } else { "b" };
                json!({"event": kind, "topic": format!("t/{}", i % 5), "data": i})
            })
            .collect();
        let response = app.post_events(&Value::Array(batch.clone())).await;
        assert_eq!(response.status(), 202);
        let answer: Value = response.json().await.expect("JSON");
        for (id, event) in answer["ids"].as_array().expect("ids").iter().zip(batch) {
            published.push((
                id.as_str().expect("id").parse().expect("numeric"),
                event["event"].as_str().expect("type").to_owned(),
                event["topic"].as_str().expect("topic").to_owned(),
            ));
        }
    }
    published
}

#[tokio::test]
async fn ten_thousand_events_page_through_filters_in_both_orders() {
    let app = spawn_app().await;
    let published = publish_mix(&app, 10_000).await;
    let every: Vec<u64> = published.iter().map(|p| p.0).collect();

    let (events, pages) = all_pages(&app, "limit=1000").await;
    assert_eq!(ids(&events), every);
    assert_eq!(
        pages, 10,
        "the last page ends the walk without an empty one"
    );
    assert_eq!(events[0]["data"], 0);
    assert!(events[0]["timestamp"].is_string());

    let (events, _) = all_pages(&app, "").await;
    assert_eq!(ids(&events), every, "pages of 100 by default");

    let wanted: Vec<u64> = published
        .iter()
        .filter(|(_, kind, topic)| kind == "a" && (topic == "t/1" || topic == "t/2"))
        .map(|p| p.0)
        .rev()
        .collect();
    let (events, _) = all_pages(&app, "types=a&topics=t/1,t/2&order=desc&limit=77").await;
    assert_eq!(ids(&events), wanted);

    let prefix: Vec<u64> = published
        .iter()
        .filter(|(_, kind, _)| kind.starts_with('b'))
        .map(|p| p.0)
        .filter(|id| (2_000..8_000).contains(id))
        .collect();
    let (events, _) = all_pages(&app, "types=b*&after=1999&before=8000&limit=999").await;
    assert_eq!(ids(&events), prefix);
    let (events, _) = all_pages(&app, "types=b*&after=1999&before=8000&order=desc").await;
    assert_eq!(
        ids(&events),
        prefix.iter().rev().copied().collect::<Vec<_>>()
    );

    // A filter matching nothing walks the whole log in bounded pages and ends.
    let (events, pages) = all_pages(&app, "types=nothing.here").await;
    assert!(events.is_empty());
    assert!(pages >= 1);
}

#[tokio::test]
async fn one_event_and_a_topics_latest() {
    let app = spawn_app().await;
    let first = app.publish("a", json!(1), Some("deploys/eu")).await;
    app.publish("a", json!(2), Some("deploys/us")).await;
    let newest = app.publish("b", json!(3), Some("deploys/eu")).await;
    app.publish("c", json!(4), None).await;
    let one: Value = app.get_json(&format!("/events/{first}")).await;
    assert_eq!(
        one,
        json!({"id": first, "event": "a", "topic": "deploys/eu", "data": 1, "timestamp": one["timestamp"]})
    );

    let latest = app.get("/topics/deploys/eu/latest").await;
    assert_eq!(latest.status(), 200);
    assert_eq!(latest.headers()["content-type"], "application/json");
    let latest: Value = latest.json().await.expect("JSON");
    assert_eq!(
        (latest["id"].as_str(), &latest["data"]),
        (Some(newest.as_str()), &json!(3))
    );
    let encoded: Value = app.get_json("/topics/deploys%2Feu/latest").await;
    assert_eq!(encoded, latest, "a percent-encoded slash is the same topic");
    // A topic whose name ends in /latest.
    let odd = app.publish("a", json!(5), Some("odd/latest")).await;
    let found: Value = app.get_json("/topics/odd/latest/latest").await;
    assert_eq!(found["id"].as_str(), Some(odd.as_str()));

    let detail = problem(app.get("/topics/nothing/here/latest").await, 404).await;
    assert!(
        detail["detail"]
            .as_str()
            .expect("detail")
            .contains("nothing/here")
    );
    for missing in ["/events/999", "/events/0", "/events/abc", "/events/-1"] {
        problem(app.get(missing).await, 404).await;
    }
    problem(app.get("/topics/deploys/eu").await, 404).await;
    // Their only parameter is a token; anything else is named, a cache buster passes.
    for path in [
        format!("/events/{first}?topic=x"),
        "/topics/deploys/eu/latest?order=desc".into(),
    ] {
        let refused = problem(app.get(&path).await, 400).await;
        assert!(["topic", "order"].contains(&refused["parameter"].as_str().expect("named")));
    }
    assert_eq!(
        app.get("/topics/deploys/eu/latest?_=17").await.status(),
        200
    );
}

#[tokio::test]
async fn bad_history_parameters_are_named() {
    let app = spawn_app().await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("order=sideways", "order"),
        ("after=x", "after"),
        ("before=-3", "before"),
        ("since=yesterday", "since"),
        ("since=2026-11-24T12:00:00", "since"),
        ("types=bad%20type", "types"),
        ("topics=,", "topics"),
    ] {
        let answer = problem(app.get(&format!("/events?{query}")).await, 400).await;
        assert_eq!(answer["parameter"], parameter, "{query}: {answer}");
    }
    for (query, parameter) in [
        ("rewind=1001", "rewind"),
        ("rewind=-1", "rewind"),
        ("rewind=many", "rewind"),
        ("since=noon", "since"),
        ("rewind=5&since=2026-11-24T12:00:00Z", "since"),
    ] {
        let response = app.get(&format!("/events/stream?{query}")).await;
        let answer = problem(response, 400).await;
        assert_eq!(answer["parameter"], parameter, "{query}: {answer}");
    }
}

#[tokio::test]
async fn private_events_and_grants_hold_on_pages_single_events_and_latest() {
    const SECRET: &str = "a-history-secret-of-at-least-32-bytes";
    let app = spawn_app_with(&["--jwt-secret", SECRET]).await;
    let token = |subscribe: &[&str]| {
        let claims = json!({
            "exp": crate::tokens::now() + 3600,
            "taskhub": {"subscribe": subscribe, "publish": ["*"]},
        });
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("token")
    };
    let publisher = token(&[]);
    let publish = |event: Value| {
        let request = app
            .client
            .post(app.url("/events"))
            .bearer_auth(&publisher)
            .json(&event);
        async move {
            let answer: Value = request
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("JSON");
            answer["id"].as_str().expect("id").to_owned()
        }
    };
    let public = publish(json!({"event": "a", "topic": "room/1", "data": "public"})).await;
    let secret =
        publish(json!({"event": "a", "topic": "room/1", "data": "secret", "private": true})).await;
    let elsewhere = publish(json!({"event": "a", "topic": "hall/1", "data": "hall"})).await;
    let get = |path: String, token: Option<String>| {
        let mut request = app.client.get(app.url(&path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("sent") }
    };

    problem(get("/events".into(), None).await, 401).await;
    problem(get(format!("/events/{public}"), None).await, 401).await;
    problem(get("/topics/room/1/latest".into(), None).await, 401).await;

    let insider = token(&["room/*"]);
    let page: Value = get("/events".into(), Some(insider.clone()))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(ids(page["events"].as_array().expect("events")), [1, 2, 3]);
    let latest: Value = get("/topics/room/1/latest".into(), Some(insider.clone()))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(latest["id"].as_str(), Some(secret.as_str()));
    assert_eq!(
        get(format!("/events/{secret}"), Some(insider))
            .await
            .status(),
        200
    );

    let outsider = token(&["hall/*"]);
    let page: Value = get("/events".into(), Some(outsider.clone()))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        ids(page["events"].as_array().expect("events")),
        [
            public.parse::<u64>().expect("id"),
            elsewhere.parse().expect("id")
        ],
        "a private event is left out for credentials that do not cover its topic"
    );
    let refused = problem(
        get(format!("/events/{secret}"), Some(outsider.clone())).await,
        403,
    )
    .await;
    let detail = refused["detail"].as_str().expect("detail");
    assert!(!detail.contains("room"), "the topic is not named: {detail}");
    problem(
        get("/events?topics=room/1".into(), Some(outsider.clone())).await,
        403,
    )
    .await;
    problem(
        get("/topics/room/1/latest".into(), Some(outsider)).await,
        403,
    )
    .await;
}

#[tokio::test]
async fn without_credentials_a_topics_latest_is_its_newest_public_event() {
    let app = spawn_app().await;
    let public = app.publish("a", json!(1), Some("room/1")).await;
    let response = app
        .post_events(&json!({"event": "a", "topic": "room/1", "data": 2, "private": true}))
        .await;
    assert_eq!(response.status(), 202);
    let latest: Value = app.get_json("/topics/room/1/latest").await;
    assert_eq!(latest["id"].as_str(), Some(public.as_str()));
    let page: Value = app.get_json("/events").await;
    assert_eq!(ids(page["events"].as_array().expect("events")), [1]);
    problem(app.get("/events/2").await, 403).await;
}

#[tokio::test]
async fn rewind_starts_with_the_newest_matching_events_then_goes_live() {
    let app = spawn_app().await;
    let published = publish_mix(&app, 40).await;
    let private = app
        .post_events(&json!({"event": "a", "topic": "t/1", "data": "hidden", "private": true}))
        .await;
    assert_eq!(
        private.status(),
        202,
        "private events are left out of a rewind too"
    );
    let newest_a: Vec<String> = published
        .iter()
        .filter(|(_, kind, topic)| kind == "a" && topic != "t/0")
        .map(|p| p.0.to_string())
        .collect();
    let mut sse = app
        .subscribe("?rewind=4&types=a&topics=t/1,t/2,t/3,t/4", None)
        .await
        .connected()
        .await;
    assert_eq!(sse.ids(4).await, newest_a[newest_a.len() - 4..]);
    let live = app.publish("a", json!("live"), Some("t/3")).await;
    assert_eq!(sse.expect().await.id, live);

    // Fewer matching than asked: all of them.
    let mut few = app
        .subscribe("?rewind=1000&topics=t/3", None)
        .await
        .connected()
        .await;
    let on_t3: Vec<String> = published
        .iter()
        .filter(|p| p.2 == "t/3")
        .map(|p| p.0.to_string())
        .chain([live.clone()])
        .collect();
    assert_eq!(few.ids(on_t3.len()).await, on_t3);

    // Zero, or nothing matching: live only.
    for query in ["?rewind=0", "?rewind=10&types=nothing"] {
        let mut sse = app.subscribe(query, None).await.connected().await;
        sse.assert_quiet(Duration::from_millis(200)).await;
    }
    // A last event id wins over rewind.
    let mut resumed = app
        .subscribe("?rewind=10", Some("40"))
        .await
        .connected()
        .await;
    let next = resumed.expect().await;
    assert_eq!(
        next.id, live,
        "the private event 41 is not shown, the stream resumes after 40"
    );
}

#[tokio::test]
async fn since_starts_with_the_events_committed_from_that_time() {
    let app = spawn_app().await;
    app.publish_batch(0, 5).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.publish_batch(5, 5).await;
    let page: Value = app.get_json("/events").await;
    let events = page["events"].as_array().expect("events").clone();
    let from = events[5]["timestamp"]
        .as_str()
        .expect("timestamp")
        .to_owned();
    let expected: Vec<String> = events
        .iter()
        .filter(|e| e["timestamp"].as_str().expect("timestamp") >= from.as_str())
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(expected.len() >= 5 && expected[0] == "6", "{expected:?}");

    let mut sse = app
        .subscribe(&format!("?since={from}"), None)
        .await
        .connected()
        .await;
    assert_eq!(sse.ids(expected.len()).await, expected);
    let (paged, _) = all_pages(&app, &format!("since={from}")).await;
    assert_eq!(
        ids(&paged),
        expected
            .iter()
            .map(|id| id.parse::<u64>().expect("id"))
            .collect::<Vec<_>>()
    );
    // In another zone, the same instant.
    let long_ago: Value = app
        .get_json("/events?since=2000-01-01T09:00:00%2B09:00")
        .await;
    assert_eq!(long_ago["events"].as_array().expect("events").len(), 10);
    // Later than everything: live only, and an empty page.
    let mut future = app
        .subscribe("?since=2999-01-01T00:00:00Z", None)
        .await
        .connected()
        .await;
    future.assert_quiet(Duration::from_millis(200)).await;
    let live = app.publish("x", json!(1), None).await;
    assert_eq!(future.expect().await.id, live);
}

#[tokio::test]
async fn events_older_than_the_maximum_age_are_trimmed_and_ids_go_on() {
    let app = spawn_app_with(&["--history-max-age", "1s"]).await;
    app.publish("a", json!(1), Some("k/1")).await;
    app.publish_batch(0, 3).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let page: Value = app.get_json("/events").await;
        if page["events"].as_array().expect("events").is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never trimmed: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    problem(app.get("/topics/k/1/latest").await, 404).await;
    problem(app.get("/events/1").await, 404).await;
    let mut resumed = app.subscribe("", Some("1")).await.connected().await;
    assert_eq!(
        resumed.expect().await.event,
        "reset",
        "replay past the trimmed point"
    );
    let next = app.publish("a", json!(2), Some("k/1")).await;
    assert_eq!(next, "5", "ids are never reused");
    let latest: Value = app.get_json("/topics/k/1/latest").await;
    assert_eq!(latest["id"], "5");
}

#[tokio::test]
async fn a_short_max_age_and_a_size_trim_together_whichever_first() {
    let app = spawn_app_with(&["--history-max-age", "1h", "--history-size", "3"]).await;
    app.publish_batch(0, 10).await;
    let page: Value = app.get_json("/events").await;
    assert_eq!(ids(page["events"].as_array().expect("events")), [8, 9, 10]);
}

/// The rewind seam under concurrent publishing, for many random rewinds: a stream gets a
/// contiguous run of the matching events, no gap and no duplicate, starting with the
/// newest `rewind` of them as of some instant while its request was served.
#[tokio::test]
async fn rewind_seam_holds_under_concurrent_publishing() {
    let app = Arc::new(spawn_app().await);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (app, acknowledged, stop) = (app.clone(), acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0_usize;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<Value> = (0..1 + i % 4)
                    .map(|j| json!({"event": if (i + j).is_multiple_of(3) { "a" } else { "b" }, "data": i}))
                    .collect();
                let answer: Value = app
                    .post_events(&Value::Array(batch))
                    .await
                    .json()
                    .await
                    .expect("JSON");
                let ids = answer["ids"].as_array().expect("ids");
                let last: u64 = ids[ids.len() - 1]
                    .as_str()
                    .expect("id")
                    .parse()
                    .expect("id");
                acknowledged.fetch_max(last, Ordering::SeqCst);
                i += 1;
            }
        })
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
        | 1;
    let mut random = seed;
    let mut next_random = move |below: u64| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random % below
    };
    while acknowledged.load(Ordering::SeqCst) < 30 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut streams = Vec::new();
    for _ in 0..12 {
        let rewind = 1 + next_random(40);
        let before = acknowledged.load(Ordering::SeqCst);
        let sse = app
            .subscribe(&format!("?types=a&rewind={rewind}"), None)
            .await
            .connected()
            .await;
        let newest: Value = app.get_json("/events?order=desc&limit=1").await;
        let after: u64 = newest["events"][0]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("id");
        streams.push((rewind, before, after, sse));
        tokio::time::sleep(Duration::from_millis(next_random(30))).await;
    }
    stop.store(true, Ordering::Relaxed);
    publisher.await.expect("publisher");
    let marker = app.publish("a", json!("end"), None).await;
    let (all, _) = all_pages(&app, "types=a&limit=1000").await;
    let matching = ids(&all);
    for (rewind, before, after, mut sse) in streams {
        let mut received = Vec::new();
        loop {
            let event = sse.expect().await;
            assert_eq!(envelope(&event)["event"], "a");
            received.push(event.id.parse::<u64>().expect("id"));
            if event.id == marker {
                break;
            }
        }
        let case = format!(
            "seed {seed}, rewind {rewind}, acknowledged before {before}, newest after {after}"
        );
        let start = matching
            .iter()
            .position(|id| *id == received[0])
            .unwrap_or_else(|| panic!("{case}: {} is not a matching event", received[0]));
        assert_eq!(received, matching[start..], "{case}: a gap or a duplicate");
        let count_to = |last: u64| received.iter().filter(|id| **id <= last).count() as u64;
        let matching_to = |last: u64| matching.iter().filter(|id| **id <= last).count() as u64;
        assert!(
            count_to(before) <= rewind,
            "{case}: more than {rewind} from the past"
        );
        assert!(
            count_to(after) >= rewind.min(matching_to(before)),
            "{case}: fewer than {rewind} from the past"
        );
    }
}

fn taskhub_history(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .arg("history")
        .args(args)
        .output()
        .expect("runs")
}

fn lines(output: &std::process::Output) -> Vec<Value> {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn taskhub_history_prints_pages_as_json_lines() {
    let app = spawn_app().await;
    let published = publish_mix(&app, 2_500).await;
    let every = lines(&taskhub_history(&[&app.address]));
    assert_eq!(
        ids(&every),
        published.iter().map(|p| p.0).collect::<Vec<_>>()
    );

    let filtered = lines(&taskhub_history(&[
        &app.address,
        "--types",
        "a",
        "--topics",
        "t/1",
        "--newest-first",
        "--limit",
        "5",
    ]));
    let expected: Vec<u64> = published
        .iter()
        .rev()
        .filter(|p| p.1 == "a" && p.2 == "t/1")
        .map(|p| p.0)
        .take(5)
        .collect();
    assert_eq!(ids(&filtered), expected);

    let since = every[2_000]["timestamp"].as_str().expect("timestamp");
    let recent = lines(&taskhub_history(&[&app.address, "--since", since]));
    assert!(
        recent
            .iter()
            .all(|e| e["timestamp"].as_str().expect("timestamp") >= since)
    );
    assert!(
        recent.len() >= 500,
        "at least the events from the 2,001st on"
    );

    let refused = taskhub_history(&[&app.address, "--since", "yesterday"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("400") && stderr.contains("yesterday"),
        "{stderr}"
    );
}

#[tokio::test]
async fn taskhub_history_follow_goes_on_live_without_a_gap_or_a_repeat() {
    use std::io::BufRead;

    let app = spawn_app().await;
    app.publish_batch(0, 1_000).await;
    app.publish_batch(1_000, 500).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["history", &app.address, "--follow", "--types", "tick"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let envelope: Value = serde_json::from_str(&line).expect("a JSON line");
            if sender
                .send(envelope["id"].as_str().expect("id").to_owned())
                .is_err()
            {
                return;
            }
        }
    });
    // Publishing goes on while the pages are read and the stream opens.
    let publishing = {
        let address = app.address.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..100 {
                let response = client
                    .post(format!("{address}/events"))
                    .json(&json!({"event": "tick", "data": {"n": 1_500 + i}}))
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(response.status(), 202);
            }
        })
    };
    publishing.await.expect("published");
    let mut seen = Vec::new();
    while seen.len() < 1_600 {
        let id = received
            .recv_timeout(PATIENCE)
            .expect("every event, in time");
        seen.push(id.parse::<u64>().expect("id"));
    }
    assert_eq!(seen, (1..=1_600).collect::<Vec<_>>());
    child.kill().expect("killed");
    child.wait().expect("reaped");
}
