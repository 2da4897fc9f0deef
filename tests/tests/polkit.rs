//! polkit authorization of the UNIX sockets, with the real parts: a dbus-daemon of the test's
//! own (system-type config), the real polkitd on it, and virtqemud with
//! `auth_unix_rw = "polkit"` / `auth_unix_ro = "polkit"` in its config file.
//!
//! polkitd runs in a private mount namespace (`unshare -m`) where the repository's action file
//! (deploy/polkit/org.libvirt.unix.policy) is bind-mounted over /usr/share/polkit-1/actions and
//! a rules file of the test's own over /etc/polkit-1/rules.d (and an empty directory over
//! /usr/share/polkit-1/rules.d), so the host's polkit configuration is never read or touched.
//! The rules: uid 1 (`daemon`) may manage, uid 65534 (`nobody`) may not; uid 2 (`bin`) falls
//! to the action's default (auth_admin_keep) and, with no authentication agent, is challenged.
//! Monitoring is allowed for anyone by the action's defaults.
//!
//! Clients run as those users through `setpriv --reuid/--regid/--clear-groups`: the `virt` CLI
//! (what a user sees) and this test binary re-run as a small gRPC client
//! ([`client_helper`]), which reports the status code, the ErrorInfo reason and the message.
//!
//! Checked: A allowed; B refused with PERMISSION_DENIED naming org.libvirt.unix.manage (and
//! the CLI's message); C refused with AUTH_UNAVAILABLE (no agent), as libvirt; B allowed on the
//! read-only socket (monitor); root never asked (the bypass is logged); one question per
//! connection however many calls it carries; the read-write socket bound 0666 (polkit is the
//! gate); polkitd stopped gives UNAVAILABLE naming the bus, at once, not a hang. Without the
//! config (auth none, the default) the read-write socket stays 0600 and another user cannot
//! connect; a bad config file stops the daemon naming file and line.
//!
//! Root only, with polkitd, dbus-daemon, dbus-send, unshare and setpriv: otherwise the tests
//! print why and pass, unless VIRT_REQUIRE_POLKIT is set.
#![cfg(feature = "system-tests")]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::ListAllDomainsRequest;
use virt_tests::{error_info, raw_channel, with_uri, workspace_bin};

const POLKITD: &str = "/usr/lib/polkit-1/polkitd";
/// The users of the rules: allowed, refused, and left to the default (challenged).
const UID_A: u32 = 1;
const UID_B: u32 = 65534;
const UID_C: u32 = 2;

/// Whether the test must be skipped here (and says why).
fn skip() -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("not root".to_string())
    } else if !Path::new(POLKITD).exists() {
        Some(format!("{POLKITD} is missing (Debian package polkitd)"))
    } else {
        ["dbus-daemon", "dbus-send", "unshare", "setpriv", "getent"]
            .iter()
            .find(|t| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {t}")])
                    .stdout(Stdio::null())
                    .status()
                    .map_or(true, |s| !s.success())
            })
            .map(|t| format!("{t} is missing"))
    };
    let Some(why) = why else { return false };
    assert!(
        std::env::var_os("VIRT_REQUIRE_POLKIT").is_none(),
        "VIRT_REQUIRE_POLKIT is set but polkit cannot run here: {why}"
    );
    eprintln!("notice: polkit test skipped: {why}");
    true
}

fn user_name(uid: u32) -> String {
    let out = Command::new("getent")
        .args(["passwd", &uid.to_string()])
        .output()
        .expect("getent");
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| panic!("no user with uid {uid}"))
        .to_string()
}

fn world_readable(p: &Path) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A child killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// dbus-daemon and polkitd, both the test's own.
struct Polkit {
    dir: tempfile::TempDir,
    // Field order: polkitd goes before its bus.
    polkitd: Option<Killed>,
    _bus: virt_tests::dbus::SystemBus,
    address: String,
}

impl Polkit {
    fn start() -> Polkit {
        let dir = tempfile::tempdir().expect("tempdir");
        world_readable(dir.path());
        let d = dir.path();
        let bus = virt_tests::dbus::SystemBus::start(d);
        let address = bus.address.clone();

        // The repository's action file, and the test's rules, for polkitd's eyes only.
        let actions = d.join("actions");
        let rules = d.join("rules.d");
        let empty = d.join("empty");
        for dir in [&actions, &rules, &empty] {
            std::fs::create_dir(dir).expect("mkdir");
            world_readable(dir);
        }
        let policy =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/polkit/org.libvirt.unix.policy");
        std::fs::copy(&policy, actions.join("org.libvirt.unix.policy")).expect("copy policy");
        let (a, b) = (user_name(UID_A), user_name(UID_B));
        std::fs::write(
            rules.join("50-virt-test.rules"),
            format!(
                r#"polkit.addRule(function(action, subject) {{
    if (action.id == "org.libvirt.unix.manage") {{
        if (subject.user == "{a}") return polkit.Result.YES;
        if (subject.user == "{b}") return polkit.Result.NO;
    }}
}});
"#
            ),
        )
        .expect("write rules");
        for f in [
            actions.join("org.libvirt.unix.policy"),
            rules.join("50-virt-test.rules"),
        ] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let script = format!(
            "set -e\n\
             mount --bind '{actions}' /usr/share/polkit-1/actions\n\
             mount --bind '{rules}' /etc/polkit-1/rules.d\n\
             mount --bind '{empty}' /usr/share/polkit-1/rules.d\n\
             exec {POLKITD} --no-debug",
            actions = actions.display(),
            rules = rules.display(),
            empty = empty.display(),
        );
        let log = std::fs::File::create(d.join("polkitd.log")).expect("log");
        let polkitd = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn polkitd");
        let mut polkit = Polkit {
            polkitd: Some(Killed(polkitd)),
            _bus: bus,
            address,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !polkit.has_owner() {
            if let Some(Ok(Some(status))) = polkit.polkitd.as_mut().map(|p| p.0.try_wait()) {
                panic!("polkitd exited ({status}): {}", polkit.log());
            }
            assert!(
                Instant::now() < deadline,
                "polkitd did not take org.freedesktop.PolicyKit1 in time: {}",
                polkit.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        polkit
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("polkitd.log")).unwrap_or_default()
    }

    /// Whether polkitd holds its name on the bus.
    fn has_owner(&self) -> bool {
        let out = Command::new("dbus-send")
            .args([
                "--system",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.PolicyKit1",
            ])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// Stops polkitd and waits until its name is gone from the bus.
    fn stop_polkitd(&mut self) {
        drop(self.polkitd.take());
        wait_for("polkitd to leave the bus", Duration::from_secs(10), || {
            !self.has_owner()
        });
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// virtqemud under a root readable by the test users, its config file written first, its log
/// kept.
struct Qemud {
    /// Killed on drop, before the root goes (fields drop in order).
    _child: Killed,
    root: tempfile::TempDir,
    log: PathBuf,
}

impl Qemud {
    fn start(config: Option<&str>, bus: Option<&str>) -> Qemud {
        let root = tempfile::tempdir().expect("root");
        world_readable(root.path());
        let etc = root.path().join("etc/virt");
        std::fs::create_dir_all(&etc).expect("etc");
        if let Some(text) = config {
            std::fs::write(etc.join("virtqemud.conf"), text).expect("config");
        }
        let log = root.path().join("virtqemud.log");
        let child = Qemud::spawn(root.path(), bus, &log);
        let q = Qemud {
            _child: Killed(child),
            log,
            root,
        };
        let ro = q.socket(true);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&ro).is_err() {
            assert!(
                Instant::now() < deadline,
                "virtqemud did not start: {}",
                q.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        q
    }

    fn spawn(root: &Path, bus: Option<&str>, log: &Path) -> Child {
        let file = std::fs::File::create(log).expect("log");
        let mut cmd = Command::new(workspace_bin("virtqemud"));
        cmd.arg("--root")
            .arg(root)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file);
        match bus {
            Some(b) => cmd.env("DBUS_SYSTEM_BUS_ADDRESS", b),
            None => cmd.env_remove("DBUS_SYSTEM_BUS_ADDRESS"),
        };
        cmd.spawn().expect("spawn virtqemud")
    }

    fn socket(&self, read_only: bool) -> PathBuf {
        let run = self.root.path().join("run/virt");
        run.join(if read_only {
            "virtqemud-sock-ro"
        } else {
            "virtqemud-sock"
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `virt` as `uid` (root when `None`), against this daemon.
    fn virt(&self, uid: Option<u32>, args: &[&str]) -> (bool, String, String) {
        let mut cmd = as_user(uid, &workspace_bin("virt"));
        let out = cmd
            .args(["-c", "qemu:///system"])
            .args(args)
            .env("VIRT_ROOT", self.root.path())
            .env_remove("LIBVIRT_DEFAULT_URI")
            .env_remove("VIRSH_DEFAULT_CONNECT_URI")
            .output()
            .expect("run virt");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// This test binary, as `uid`, making `calls` calls on one connection to a socket; the
    /// helper's report of each (`OK` or `CODE REASON MESSAGE`), and how long it took.
    fn client(&self, uid: Option<u32>, read_only: bool, calls: u32) -> (Vec<String>, Duration) {
        let exe = std::env::current_exe().expect("test exe");
        let started = Instant::now();
        let out = as_user(uid, &exe)
            .args([
                "client_helper",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HELPER_SOCKET, self.socket(read_only))
            .env(HELPER_CALLS, calls.to_string())
            .output()
            .expect("run the client helper");
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let times: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("TIME "))
            .collect();
        eprintln!("uid {uid:?} read_only {read_only}: call latencies (us) {times:?}");
        let lines: Vec<String> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT "))
            .map(str::to_string)
            .collect();
        assert_eq!(
            lines.len(),
            calls as usize,
            "helper output: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (lines, took)
    }
}

fn as_user(uid: Option<u32>, program: &Path) -> Command {
    match uid {
        None => Command::new(program),
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={u}"))
                .arg(format!("--regid={u}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            c
        }
    }
}

const HELPER_SOCKET: &str = "VIRT_POLKIT_HELPER_SOCKET";
const HELPER_CALLS: &str = "VIRT_POLKIT_HELPER_CALLS";

/// Not a test on its own: the gRPC client the tests run as other users. Without its
/// environment it does nothing.
#[tokio::test]
async fn client_helper() {
    let Some(socket) = std::env::var_os(HELPER_SOCKET) else {
        return;
    };
    let calls: u32 = std::env::var(HELPER_CALLS)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    // libtest has printed "test client_helper ... " without a newline: start a fresh line.
    println!();
    let mut client = DomainServiceClient::new(raw_channel(Path::new(&socket)).await);
    for _ in 0..calls {
        let started = Instant::now();
        let r = client
            .list_all_domains(with_uri(
                ListAllDomainsRequest { flags: 0 },
                "qemu:///system",
            ))
            .await;
        println!("TIME {}", started.elapsed().as_micros());
        match r {
            Ok(_) => println!("RESULT OK"),
            Err(st) => {
                let (reason, _) = error_info(&st);
                println!("RESULT {:?} {reason} {}", st.code(), st.message());
            }
        }
    }
}

const POLKIT_CONF: &str = r#"# libvirt's keys, as in its virtqemud.conf
auth_unix_rw = "polkit"
auth_unix_ro = "polkit"
max_clients = 5000   # a libvirt key we do not implement: a warning, not an error
"#;

#[test]
fn polkit_allows_refuses_and_fails_clearly() {
    if skip() {
        return;
    }
    let mut polkit = Polkit::start();
    let q = Qemud::start(Some(POLKIT_CONF), Some(&polkit.address));
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&q.socket(false)), 0o666, "polkit is the gate");
    assert_eq!(mode(&q.socket(true)), 0o666);
    assert!(
        q.log()
            .contains("max_clients is a libvirt setting this daemon does not implement"),
        "{}",
        q.log()
    );

    // A: allowed, three calls on one connection, one question to polkit.
    let (a, _) = q.client(Some(UID_A), false, 3);
    assert_eq!(a, ["OK", "OK", "OK"], "{}", polkit.log());
    let asked = q.log().matches("policy allowed action").count();
    assert_eq!(asked, 1, "one question per connection: {}", q.log());
    let (ok, out, err) = q.virt(Some(UID_A), &["list", "--all"]);
    assert!(ok, "virt list as uid {UID_A}: {err}");
    assert!(out.contains("Id"), "{out}");

    // B: refused, every call of the connection, naming the action.
    let (b, _) = q.client(Some(UID_B), false, 2);
    let refused = "PermissionDenied AUTH_FAILED authentication failed: access denied by policy for action 'org.libvirt.unix.manage' (pid ";
    for r in &b {
        assert!(r.starts_with(refused), "{r}");
        assert!(r.ends_with(&format!(", uid {UID_B})")), "{r}");
    }
    let (ok, _, err) = q.virt(Some(UID_B), &["list", "--all"]);
    assert!(!ok);
    assert!(
        err.starts_with(
            "error: Failed to list domains\nerror: authentication failed: access denied by policy for action 'org.libvirt.unix.manage' (pid "
        ),
        "{err}"
    );
    assert!(err.ends_with(&format!(", uid {UID_B})\n")), "{err}");
    // B on the read-only socket: monitor is allowed to anyone.
    let (b_ro, _) = q.client(Some(UID_B), true, 1);
    assert_eq!(b_ro, ["OK"]);
    let (ok, _, err) = q.virt(Some(UID_B), &["-r", "list", "--all"]);
    assert!(ok, "virt -r list as uid {UID_B}: {err}");

    // C: no rule, auth_admin_keep by default, no agent to ask: libvirt's AUTH_UNAVAILABLE.
    let (c, _) = q.client(Some(UID_C), false, 1);
    assert_eq!(
        c,
        ["PermissionDenied AUTH_UNAVAILABLE authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.manage'"]
    );

    // root: never asked.
    let (r, _) = q.client(None, false, 1);
    assert_eq!(r, ["OK"]);
    assert!(
        q.log().contains("bypass polkit auth for privileged client"),
        "{}",
        q.log()
    );

    // polkitd gone: a clear error naming the bus, at once.
    polkit.stop_polkitd();
    let (a, took) = q.client(Some(UID_A), false, 1);
    let unavailable = format!(
        "Unavailable AUTH_UNAVAILABLE authentication unavailable: cannot ask polkit for action 'org.libvirt.unix.manage' on the system bus {}: ",
        polkit.address
    );
    assert!(a[0].starts_with(&unavailable), "{}", a[0]);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // root still is served.
    assert_eq!(q.client(None, false, 1).0, ["OK"]);
}

#[test]
fn without_config_auth_is_none_and_a_bad_config_stops_the_daemon() {
    if skip() {
        return;
    }
    let q = Qemud::start(None, None);
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&q.socket(false)), 0o600);
    assert_eq!(q.client(None, false, 1).0, ["OK"]);
    // Another user cannot even connect to the read-write socket; the read-only one serves.
    let (ok, _, err) = q.virt(Some(UID_B), &["list", "--all"]);
    assert!(!ok);
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(q.client(Some(UID_B), true, 1).0, ["OK"]);
    drop(q);

    let root = tempfile::tempdir().expect("root");
    let etc = root.path().join("etc/virt");
    std::fs::create_dir_all(&etc).expect("etc");
    let conf = etc.join("virtqemud.conf");
    std::fs::write(
        &conf,
        "auth_unix_rw = \"polkit\"\n\nauth_unix_ro = \"kerberos\"\n",
    )
    .expect("config");
    let log = root.path().join("log");
    let mut child = Killed(Qemud::spawn(root.path(), None, &log));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "virtqemud kept running");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut text = String::new();
    std::fs::File::open(&log)
        .expect("log")
        .read_to_string(&mut text)
        .expect("read log");
    assert!(
        text.contains(&format!(
            "{}:3: auth_unix_ro = \"kerberos\" is not an authentication scheme (\"none\" or \"polkit\")",
            conf.display()
        )),
        "{text}"
    );
    assert!(!root.path().join("run/virt/virtqemud-sock").exists());
}
