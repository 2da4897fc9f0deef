//! The agent client against a real `qemu-ga` on the host (read-only commands only: every
//! command that could change the host is blocked on its command line) and against scripted
//! fakes for what a real agent does not do on demand: stale replies, silence, hang-ups.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use virt_core::error::ErrorCode;

use super::*;

/// Commands the host's qemu-ga must never run for a test (they would change the host).
const BLOCKED: &str = "guest-set-time,guest-shutdown,guest-suspend-disk,guest-suspend-ram,\
guest-suspend-hybrid,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,\
guest-fstrim,guest-exec,guest-exec-status,guest-file-open,guest-file-write,guest-file-close,\
guest-file-read,guest-file-seek,guest-file-flush,guest-set-user-password,guest-set-vcpus,\
guest-set-memory-blocks,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys";

/// A host qemu-ga listening on a socket in a temp dir; killed and reaped on drop.
struct HostAgent {
    child: Child,
    _dir: tempfile::TempDir,
    sock: PathBuf,
}

impl HostAgent {
    fn start() -> HostAgent {
        let dir = tempfile::tempdir().expect("temp dir");
        let sock = dir.path().join("qga.sock");
        let child = Command::new("/usr/sbin/qemu-ga")
            .args(["-m", "unix-listen", "-p"])
            .arg(&sock)
            .arg("-f")
            .arg(dir.path().join("qga.pid"))
            .arg("-t")
            .arg(dir.path())
            .args(["-b", BLOCKED])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/sbin/qemu-ga runs (Debian's qemu-guest-agent)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "qemu-ga never made its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        HostAgent {
            child,
            _dir: dir,
            sock,
        }
    }
}

impl Drop for HostAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "runs the host's qemu-ga; run with --features qemu-tests"
)]
async fn a_real_qemu_ga_answers_ping_info_hostname_time_and_interfaces() {
    let qga = HostAgent::start();
    let mut a = Agent::connect(&qga.sock).await.expect("connect");
    let wait = Some(Duration::from_secs(5));
    let ping = a
        .execute(&json!({"execute": "guest-ping"}), wait)
        .await
        .expect("ping");
    assert_eq!(ping.value, json!({}));
    assert_eq!(ping.text, r#"{"return": {}}"#);
    let info = a
        .execute(&json!({"execute": "guest-info"}), wait)
        .await
        .expect("guest-info");
    assert_eq!(info.value["version"], json!("7.2.22"));
    let host = a
        .execute(&json!({"execute": "guest-get-host-name"}), wait)
        .await
        .expect("host name");
    let ours = nix::unistd::gethostname().expect("hostname");
    assert_eq!(host.value["host-name"], json!(ours.to_string_lossy()));
    let t = a
        .execute(&json!({"execute": "guest-get-time"}), wait)
        .await
        .expect("time");
    let ns = t.value.as_u64().expect("nanoseconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    assert!(now.abs_diff(ns) < 5_000_000_000, "agent {ns} vs host {now}");
    let ifs = a
        .execute(&json!({"execute": "guest-network-get-interfaces"}), wait)
        .await
        .expect("interfaces");
    let lo = ifs
        .value
        .as_array()
        .expect("array")
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo listed");
    assert!(
        lo["ip-addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .any(|a| a["ip-address"] == "127.0.0.1" && a["prefix"] == 8),
        "{lo}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "runs the host's qemu-ga; run with --features qemu-tests"
)]
async fn a_refused_command_is_internal_error_with_the_agents_words_and_the_link_stays_usable() {
    let qga = HostAgent::start();
    let mut a = Agent::connect(&qga.sock).await.expect("connect");
    let wait = Some(Duration::from_secs(5));
    let e = a
        .execute(&json!({"execute": "guest-set-time"}), wait)
        .await
        .expect_err("blocked on the command line");
    assert!(e.is_unsupported(), "{e:?}");
    let v = e.to_virt();
    assert_eq!(v.code, ErrorCode::InternalError);
    assert_eq!(
        v.detail,
        "unable to execute QEMU agent command 'guest-set-time': Command guest-set-time has been disabled"
    );
    let e = a
        .execute(&json!({"execute": "guest-no-such"}), wait)
        .await
        .expect_err("unknown");
    assert!(e.is_unsupported());
    a.execute(&json!({"execute": "guest-ping"}), wait)
        .await
        .expect("still in sync");
}

/// A scripted agent: answers each line with what `answer` returns (`None`: say nothing, an
/// empty answer: hang up); `answer` also sees the line's bytes as they came.
async fn fake_agent(
    answer: impl Fn(&serde_json::Value) -> Option<Vec<u8>> + Send + 'static,
) -> (tempfile::TempDir, PathBuf) {
    fake_agent_raw(move |v, _| answer(v)).await
}

async fn fake_agent_raw(
    answer: impl Fn(&serde_json::Value, &[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match lines.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text: Vec<u8> = buf.iter().copied().filter(|b| *b != 0xff).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
                continue;
            };
            if let Some(out) = answer(&v, &buf) {
                if out.is_empty() {
                    return;
                }
                if w.write_all(&out).await.is_err() {
                    return;
                }
            }
        }
    });
    (dir, sock)
}

fn sync_reply(v: &serde_json::Value) -> Option<Vec<u8>> {
    (v["execute"] == "guest-sync-delimited").then(|| {
        let mut out = b"{\"return\": 1}\n{\"error\": {\"class\": \"GenericError\"}}\n\xff".to_vec();
        out.extend_from_slice(format!("{{\"return\": {}}}\n", v["arguments"]["id"]).as_bytes());
        out
    })
}

#[tokio::test]
async fn stale_replies_and_garbage_before_the_delimiter_are_skipped() {
    let (_d, sock) = fake_agent(|v| {
        sync_reply(v).or_else(|| {
            (v["execute"] == "guest-info")
                .then(|| b"{\"return\": {\"version\": \"9.9\"}}\n".to_vec())
        })
    })
    .await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let r = a
        .execute(
            &json!({"execute": "guest-info"}),
            Some(Duration::from_secs(2)),
        )
        .await
        .expect("answered after the resync");
    assert_eq!(r.value["version"], "9.9");
}

#[tokio::test]
async fn an_agent_that_never_answers_is_agent_unresponsive_within_the_deadline() {
    let (_d, sock) = fake_agent(|_| None).await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let t = Instant::now();
    let e = a
        .execute(
            &json!({"execute": "guest-ping"}),
            Some(Duration::from_millis(300)),
        )
        .await
        .expect_err("silence");
    assert!(matches!(e, AgentError::Timeout), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let v = e.to_virt();
    assert_eq!(v.code, ErrorCode::AgentUnresponsive);
    assert_eq!(
        v.message(),
        "Guest agent is not responding: Guest agent not available for now"
    );
}

#[tokio::test]
async fn a_command_that_times_out_leaves_a_reply_the_next_resync_skips() {
    // The first guest-info answer comes only after the second request arrives.
    let (_d, sock) = fake_agent({
        let seen = std::sync::atomic::AtomicU32::new(0);
        move |v| {
            if let Some(s) = sync_reply(v) {
                let n = seen.load(std::sync::atomic::Ordering::SeqCst);
                if n == 1 {
                    let mut out = b"{\"return\": {\"version\": \"stale\"}}\n".to_vec();
                    out.extend(s);
                    return Some(out);
                }
                return Some(s);
            }
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (n == 1).then(|| b"{\"return\": {\"version\": \"fresh\"}}\n".to_vec())
        }
    })
    .await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let wait = Some(Duration::from_millis(300));
    let e = a
        .execute(&json!({"execute": "guest-info"}), wait)
        .await
        .expect_err("no answer the first time");
    assert!(matches!(e, AgentError::Timeout));
    let r = a
        .execute(
            &json!({"execute": "guest-info"}),
            Some(Duration::from_secs(2)),
        )
        .await
        .expect("second time");
    assert_eq!(r.value["version"], "fresh");
}

#[tokio::test]
async fn a_hang_up_mid_command_is_agent_unresponsive() {
    let (_d, sock) = fake_agent(|v| sync_reply(v).or(Some(Vec::new()))).await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let e = a
        .execute(
            &json!({"execute": "guest-ping"}),
            Some(Duration::from_secs(2)),
        )
        .await
        .expect_err("closed");
    assert!(matches!(e, AgentError::Closed), "{e:?}");
    assert_eq!(e.to_virt().code, ErrorCode::AgentUnresponsive);
    assert_eq!(
        e.to_virt().detail,
        "Guest agent disappeared while executing command"
    );
}

#[tokio::test]
async fn a_command_answered_by_an_event_succeeds_when_the_event_comes() {
    let (_d, sock) = fake_agent(sync_reply).await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let cmd = json!({"execute": "guest-shutdown", "arguments": {"mode": "powerdown"}});
    a.execute_until(
        &cmd,
        Some(Duration::from_secs(2)),
        tokio::time::sleep(Duration::from_millis(50)),
    )
    .await
    .expect("the event came first");
    let t = Instant::now();
    let e = a
        .execute_until(
            &cmd,
            Some(Duration::from_millis(200)),
            std::future::pending(),
        )
        .await
        .expect_err("no event, no reply");
    assert!(matches!(e, AgentError::Timeout));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_hang_up_while_awaiting_the_shutdown_event_is_success() {
    // The agent syncs, then closes the channel on guest-shutdown without a reply, as a guest
    // powering off does.
    let (_d, sock) = fake_agent(|v| sync_reply(v).or(Some(Vec::new()))).await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let cmd = json!({"execute": "guest-shutdown", "arguments": {"mode": "powerdown"}});
    a.execute_until(&cmd, Some(Duration::from_secs(2)), std::future::pending())
        .await
        .expect("the hang-up is the guest going down");
}

#[tokio::test]
async fn a_missing_socket_is_a_connect_error_naming_it() {
    let e = Agent::connect(Path::new("/nonexistent/qga.sock"))
        .await
        .expect_err("no socket");
    let v = e.to_virt();
    assert_eq!(v.code, ErrorCode::AgentUnresponsive);
    assert!(v.detail.contains("/nonexistent/qga.sock"), "{}", v.detail);
}

#[tokio::test]
async fn set_time_goes_out_as_one_line_of_nanoseconds() {
    // Never against the host's agent: it would set the host clock. A fake records the bytes.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let (_d, sock) = fake_agent_raw(move |v, raw| {
        sync_reply(v).or_else(|| {
            let _ = tx.send(String::from_utf8_lossy(raw).into_owned());
            Some(b"{\"return\": {}}\n".to_vec())
        })
    })
    .await;
    let mut a = Agent::connect(&sock).await.expect("connect");
    let cmd = replies::set_time_command(2_000_000_000, 250, false).expect("fits");
    a.execute(&cmd, Some(Duration::from_secs(2)))
        .await
        .expect("set");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(2)).expect("recorded"),
        "{\"arguments\":{\"time\":2000000000000000250},\"execute\":\"guest-set-time\"}\n"
    );
}
