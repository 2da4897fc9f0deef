//! `virtxend::xenstore` against the real C xenstored of Xen 4.17, run without a hypervisor under
//! ../shared/tools/xen's LD_PRELOAD shim (`start-xenstored.sh DIR`; `--features xen-tests`).
//! Needs `xen-utils-4.17` (the daemon) and gcc (the shim); without them each test prints why and
//! passes, unless VIRT_REQUIRE_XEN is set.
#![cfg(feature = "xen-tests")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use virtxend::xenstore::{Access, Errno, Error, Mode, Perm, WatchEvent, XenStore};

const XENSTORED: &str = "/usr/lib/xen-4.17/bin/xenstored";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/xen/start-xenstored.sh")
}

/// A private xenstored, killed when dropped (also when the test fails).
struct Daemon {
    dir: tempfile::TempDir,
    pid: u32,
}

impl Daemon {
    fn start() -> Option<Daemon> {
        let missing = if !Path::new(XENSTORED).exists() {
            Some(format!("{XENSTORED} (package xen-utils-4.17)"))
        } else if !script().exists() {
            Some(script().display().to_string())
        } else if Command::new("gcc").arg("--version").output().is_err() {
            Some("gcc (builds the shim)".to_string())
        } else {
            None
        };
        if let Some(m) = missing {
            assert!(
                std::env::var_os("VIRT_REQUIRE_XEN").is_none(),
                "VIRT_REQUIRE_XEN is set but {m} is missing"
            );
            eprintln!("skipping: {m} is missing");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("sh")
            .arg(script())
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "start-xenstored.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        Some(Daemon { dir, pid })
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("run/socket")
    }

    async fn connect(&self) -> XenStore {
        XenStore::connect_path(self.socket(), Mode::ReadWrite)
            .await
            .unwrap()
    }

    fn set_domains(&self, text: &str) {
        std::fs::write(self.dir.path().join("fakexen/domains"), text).unwrap();
    }

    /// The shim's stand-in for VIRQ_DOM_EXC: the daemon re-scans the domains.
    fn domain_exception(&self) {
        let st = Command::new("kill")
            .args(["-USR1", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
    }
}

async fn next_event(w: &mut virtxend::xenstore::Watch) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("no watch event within 5 s")
        .expect("watch stream ended")
}

#[tokio::test]
async fn read_write_directory() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    xs.write("/t/a", "hello").await.unwrap();
    xs.write("/t/b/c", b"\x01bin\xff").await.unwrap();
    assert_eq!(xs.read_string("/t/a").await.unwrap(), "hello");
    assert_eq!(xs.read("/t/b/c").await.unwrap(), b"\x01bin\xff");
    // Parents are created empty.
    assert_eq!(xs.read("/t/b").await.unwrap(), b"");
    let mut l = xs.directory("/t").await.unwrap();
    l.sort();
    assert_eq!(l, ["a", "b"]);
    xs.mkdir("/t/empty").await.unwrap();
    assert!(xs.directory("/t/empty").await.unwrap().is_empty());
    xs.rm("/t/b").await.unwrap();
    let e = xs.read("/t/b/c").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.to_string(), "xenstore read /t/b/c: ENOENT");
    // A listing larger than one reply comes in DIRECTORY_PART pieces.
    let names: Vec<String> = (0..150)
        .map(|i| format!("child-with-a-rather-long-name-{i:04}"))
        .collect();
    let tx = xs.start_transaction().await.unwrap();
    for n in &names {
        tx.write(&format!("/big/{n}"), "x").await.unwrap();
    }
    tx.commit().await.unwrap();
    let total: usize = names.iter().map(|n| n.len() + 1).sum();
    assert!(total > 4096);
    let mut got = xs.directory("/big").await.unwrap();
    got.sort();
    assert_eq!(got, names);
    // A request over the 4096-byte payload limit is refused by the client, naming the path.
    let e = xs.write("/t/huge", vec![b'x'; 5000]).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    assert!(e.to_string().contains("/t/huge"), "{e}");
    // The connection survived all of it.
    assert_eq!(xs.read_string("/t/a").await.unwrap(), "hello");
}

#[tokio::test]
async fn bad_path_is_an_error_naming_it() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    for bad in [
        "/a//b",
        "/trailing/",
        "/bad*char",
        "relative-from-dom0-is-fine?",
    ] {
        let e = xs.write(bad, "v").await.unwrap_err();
        assert_eq!(e.errno(), Some(&Errno::Einval), "{bad}: {e}");
        assert!(e.to_string().contains(bad), "{e}");
    }
    let e = xs.read("/nul\0inside").await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    assert!(e.to_string().contains("/nul\\u{0}inside"), "{e}");
    xs.write("/ok", "1").await.unwrap();
}

#[tokio::test]
async fn permissions() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    xs.write("/perm/public", "p").await.unwrap();
    // Nodes dom0 creates are owned by dom0 and closed to others.
    assert_eq!(
        xs.get_perms("/perm/public").await.unwrap(),
        [Perm::new(0, Access::None)]
    );
    xs.set_perms("/perm/public", &[Perm::new(0, Access::Read)])
        .await
        .unwrap();
    // Owned by domain 5, unreadable to every other domain but domain 7, which may read it.
    xs.write("/perm/secret", "s").await.unwrap();
    let acl = [Perm::new(5, Access::None), Perm::new(7, Access::Read)];
    xs.set_perms("/perm/secret", &acl).await.unwrap();
    assert_eq!(xs.get_perms("/perm/secret").await.unwrap(), acl);
    assert_eq!(
        xs.get_perms("/perm/public").await.unwrap(),
        [Perm::new(0, Access::Read)]
    );
    // New children inherit their parent's permissions.
    xs.write("/perm/secret/child", "c").await.unwrap();
    assert_eq!(xs.get_perms("/perm/secret/child").await.unwrap(), acl);
    let e = xs.get_perms("/perm/none").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("get_perms /perm/none"), "{e}");
}

#[tokio::test]
async fn watches_fire_while_requests_flow() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    xs.mkdir("/w").await.unwrap();
    let mut w = xs.watch("/w").await.unwrap();
    // The initial event at registration.
    let ev = next_event(&mut w).await;
    assert_eq!(ev.path, "/w");
    assert_eq!(ev.token, w.token());
    // A write under the watched path, from another connection, then requests on this one.
    let other = d.connect().await;
    other.write("/w/x/y", "1").await.unwrap();
    assert_eq!(xs.read_string("/w/x/y").await.unwrap(), "1");
    let mut seen = vec![next_event(&mut w).await.path];
    // Writing /w/x/y created /w/x too: the daemon may report either or both.
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), w.next()).await {
        seen.push(ev.path);
    }
    assert!(seen.iter().any(|p| p == "/w/x/y"), "{seen:?}");
    // Outside the watched path: nothing.
    other.write("/elsewhere", "1").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), w.next())
        .await
        .is_err());
    // Two watches on one connection are told apart by token.
    let mut w2 = xs.watch("/w/x").await.unwrap();
    assert_eq!(next_event(&mut w2).await.path, "/w/x");
    other.write("/w/x/z", "2").await.unwrap();
    assert_eq!(next_event(&mut w2).await.path, "/w/x/z");
    assert_eq!(next_event(&mut w).await.path, "/w/x/z");
    w2.unwatch().await.unwrap();
    other.write("/w/x/z", "3").await.unwrap();
    assert_eq!(next_event(&mut w).await.path, "/w/x/z");
    assert_eq!(w.lost(), 0);
    // Closing ends the stream.
    xs.close();
    assert!(tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .unwrap()
        .is_none());
    let e = xs.read("/w").await.unwrap_err();
    assert!(matches!(e, Error::Closed { .. }), "{e}");
}

#[tokio::test]
async fn transaction_conflict_and_retry() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    xs.write("/tx/k", "0").await.unwrap();
    let t1 = xs.start_transaction().await.unwrap();
    let t2 = xs.start_transaction().await.unwrap();
    assert_ne!(t1.id(), t2.id());
    assert_eq!(t1.read_string("/tx/k").await.unwrap(), "0");
    assert_eq!(t2.read_string("/tx/k").await.unwrap(), "0");
    t1.write("/tx/k", "1").await.unwrap();
    t2.write("/tx/k", "2").await.unwrap();
    // Each sees its own write only.
    assert_eq!(t2.read_string("/tx/k").await.unwrap(), "2");
    assert_eq!(xs.read_string("/tx/k").await.unwrap(), "0");
    t1.commit().await.unwrap();
    let e = t2.commit().await.unwrap_err();
    assert!(e.is_eagain(), "{e}");
    assert_eq!(xs.read_string("/tx/k").await.unwrap(), "1");

    // The helper: the first attempt is spoiled by a write from outside, the second commits.
    let other = d.connect().await;
    let attempts = AtomicU32::new(0);
    let v = xs
        .transaction(|tx| {
            let (other, attempts) = (&other, &attempts);
            async move {
                let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                let cur: u32 = tx.read_string("/tx/k").await?.parse().unwrap();
                if n == 1 {
                    other.write("/tx/k", "10").await?;
                }
                tx.write("/tx/k", (cur + 1).to_string()).await?;
                Ok(cur + 1)
            }
        })
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(v, 11);
    assert_eq!(xs.read_string("/tx/k").await.unwrap(), "11");

    // An error of the body aborts: nothing it wrote is applied.
    let e = xs
        .transaction(|tx| async move {
            tx.write("/tx/k", "99").await?;
            tx.read("/tx/missing").await
        })
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(xs.read_string("/tx/k").await.unwrap(), "11");
}

#[tokio::test]
async fn read_only_connection_refuses_writes() {
    let Some(d) = Daemon::start() else { return };
    let rw = d.connect().await;
    rw.write("/ro/k", "v").await.unwrap();
    // Xen 4.17's xenstored has no socket_ro: read-only opens use the one socket.
    assert!(!d.dir.path().join("run/socket_ro").exists());
    std::env::set_var("XENSTORED_PATH", d.socket());
    let ro = XenStore::connect_read_only().await.unwrap();
    assert_eq!(ro.mode(), Mode::ReadOnly);
    assert_eq!(ro.read_string("/ro/k").await.unwrap(), "v");
    assert_eq!(ro.directory("/ro").await.unwrap(), ["k"]);
    let mut w = ro.watch("/ro").await.unwrap();
    assert_eq!(next_event(&mut w).await.path, "/ro");
    let e = ro.write("/ro/k", "changed").await.unwrap_err();
    assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "xenstore write /ro/k: the connection is read-only"
    );
    assert!(matches!(
        ro.rm("/ro").await.unwrap_err(),
        Error::ReadOnly { .. }
    ));
    assert!(matches!(
        ro.set_perms("/ro", &[Perm::new(0, Access::Both)])
            .await
            .unwrap_err(),
        Error::ReadOnly { .. }
    ));
    assert_eq!(rw.read_string("/ro/k").await.unwrap(), "v");
}

#[tokio::test]
async fn domains_introduce_and_release() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    assert_eq!(xs.get_domain_path(5).await.unwrap(), "/local/domain/5");
    assert!(xs.is_domain_introduced(0).await.unwrap());
    assert!(!xs.is_domain_introduced(5).await.unwrap());
    d.set_domains("0\n5\n");
    let mut intro = xs.watch("@introduceDomain").await.unwrap();
    assert_eq!(next_event(&mut intro).await.path, "@introduceDomain");
    let mut rel = xs.watch("@releaseDomain").await.unwrap();
    assert_eq!(next_event(&mut rel).await.path, "@releaseDomain");
    xs.introduce(5, 4242, 3).await.unwrap();
    assert_eq!(next_event(&mut intro).await.path, "@introduceDomain");
    assert!(xs.is_domain_introduced(5).await.unwrap());
    // The domain dies: the daemon notices on the next domain exception and fires @releaseDomain.
    d.set_domains("0\n5:dying\n");
    d.domain_exception();
    assert_eq!(next_event(&mut rel).await.path, "@releaseDomain");
    let mut gone = false;
    for _ in 0..50 {
        if !xs.is_domain_introduced(5).await.unwrap() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "domain 5 still introduced after its death");
    let e = xs.release(77).await.unwrap_err();
    assert!(e.errno().is_some(), "{e}");
    assert!(e.to_string().contains("release 77"), "{e}");
}

/// The driver's view of running domains (`virtxend::xsview`): name and UUID of each domain
/// the toolstack wrote, as the store lists them, through a read-only connection.
#[tokio::test]
async fn the_driver_reads_domains_from_the_store() {
    let Some(d) = Daemon::start() else { return };
    let xs = d.connect().await;
    let uuid = "dcab5cb9-f711-408d-96e4-44598930d4eb";
    xs.write("/local/domain/0/name", "Domain-0").await.unwrap();
    xs.write("/local/domain/7/name", "tiny").await.unwrap();
    xs.write("/local/domain/7/vm", format!("/vm/{uuid}"))
        .await
        .unwrap();
    // A domain being built has no name yet, and is left out.
    xs.mkdir("/local/domain/8").await.unwrap();
    let ro = XenStore::connect_path(d.socket(), Mode::ReadOnly)
        .await
        .unwrap();
    let mut doms = virtxend::xsview::domains(&ro).await.unwrap();
    doms.sort_by_key(|x| x.domid);
    assert_eq!(doms.len(), 2, "{doms:?}");
    assert_eq!(
        (doms[0].domid, doms[0].name.as_str(), doms[0].uuid),
        (0, "Domain-0", None)
    );
    assert_eq!(doms[1].domid, 7);
    assert_eq!(doms[1].name, "tiny");
    assert_eq!(doms[1].uuid.map(|u| u.to_string()).as_deref(), Some(uuid));
    xs.rm("/local/domain/7").await.unwrap();
    let doms = virtxend::xsview::domains(&ro).await.unwrap();
    assert!(doms.iter().all(|x| x.domid != 7), "{doms:?}");
}
