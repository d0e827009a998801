//! An unavailable store: writes answer 503, nothing is claimed published, and the server
//! recovers by itself when the store does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{SqliteLock, backend_is_sqlite, id_range, problem, spawn_app, spawn_app_on};

#[tokio::test]
async fn a_locked_database_gives_503_and_loses_nothing() {
    // About the SQLite file; cluster mode's outages are in `cluster`.
    if !backend_is_sqlite() {
        return;
    }
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    // Another process takes the database's write lock and holds it.
    let path = app.dir.path().join("taskhub.db");
    let lock = SqliteLock::take(path);

    let lost = json!({"event": "lost", "data": 1});
    let (publish, task, ready) = tokio::join!(
        app.post_events(&lost),
        app.client
            .post(app.url("/tasks"))
            .json(&json!({"title": "t"}))
            .send(),
        app.client.get(app.url("/readyz")).send(),
    );
    assert_eq!(publish.headers()["retry-after"], "1");
    problem(publish, 503).await;
    problem(task.expect("sent"), 503).await;
    problem(ready.expect("sent"), 503).await;

    lock.release();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    // No id was spent on the failed writes, and the open stream saw none of them.
    assert_eq!(app.publish("kept", json!(2), None).await, "1");
    let event = sse.expect().await;
    assert_eq!((event.id.as_str(), event.event.as_str()), ("1", "kept"));
    sse.assert_quiet(Duration::from_millis(200)).await;
}

/// A small file system of the test's own (tmpfs), unmounted when dropped, panics included.
struct SmallDisk {
    mount_point: TempDir,
}

impl SmallDisk {
    /// Mounts one of `size` (`mount -o size=`); `None`, saying why, unless running as root.
    fn mount(size: &str) -> Option<Self> {
        let uid = Command::new("id").arg("-u").output().expect("id runs");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("skipped: mounting a small file system to fill needs root");
            return None;
        }
        let mount_point = tempfile::tempdir().expect("temporary directory");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount_point.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "cannot mount a tmpfs");
        Some(Self { mount_point })
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }

    /// Writes a file until the file system is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(e) = file.write_all(&chunk) {
                assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
                return path;
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a server that outlived a panic): detach it now, freed when idle.
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
    }
}

#[tokio::test]
async fn a_full_disk_makes_readyz_503_until_space_is_freed_and_loses_nothing() {
    // About the SQLite file; cluster mode's outages are in `cluster`.
    if !backend_is_sqlite() {
        return;
    }
    let Some(disk) = SmallDisk::mount("8m") else {
        return;
    };
    // Dropped before the disk: the server stops before it is unmounted.
    let app = spawn_app_on(&disk.path().join("x.db"), &[]);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let before = app.publish_batch(0, 20).await;
    assert_eq!(before, id_range(1, 20));

    let filler = disk.fill();
    let refused = app.post_events(&json!({"event": "lost", "data": 1})).await;
    problem(refused, 503).await;
    let task = app
        .client
        .post(app.url("/tasks"))
        .json(&json!({"title": "lost"}))
        .send()
        .await
        .expect("sent");
    problem(task, 503).await;
    let ready = problem(app.get("/readyz").await, 503).await;
    assert!(
        ready["detail"].as_str().is_some_and(|d| d.contains("full")),
        "says why: {ready}"
    );
    // Still not ready a moment later: nothing but freeing space makes it so.
    tokio::time::sleep(Duration::from_millis(300)).await;
    problem(app.get("/readyz").await, 503).await;

    std::fs::remove_file(filler).expect("free the space");
    app.await_ready(Duration::from_secs(5)).await;
    // No id was spent on the refused writes, and every acknowledged event is there.
    assert_eq!(app.publish("kept", json!(2), None).await, "21");
    let mut replay = app.subscribe("", Some("0")).await.connected().await;
    assert_eq!(replay.ids(21).await, id_range(1, 21));
    replay.assert_quiet(Duration::from_millis(200)).await;
}
