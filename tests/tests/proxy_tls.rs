//! The proxy's remote listener as a user sets it up: `virt-proxy` with `listen_tls = 1` in its
//! config file and certificates generated at test time, a real `virtqemud` behind it, and the
//! `virt` CLI connecting with `qemu+tls://127.0.0.1:PORT/system?pkipath=DIR`. A valid client
//! defines and lists; a client without a certificate, with one from another CA, or with a DN
//! not on `tls_allowed_dn_list` is refused with the reason. Plain TCP is off unless enabled.
//! A Python grpcio client does the same over TLS (system tests).

use std::path::{Path, PathBuf};
use std::process::Command;

use virt_tests::backend::ProcessDaemon;
use virt_tests::pki::{write_client, Ca};
use virt_tests::{workspace_bin, DaemonUnderTest};

struct Setup {
    dir: tempfile::TempDir,
    ca: Ca,
    port: u16,
    proxy: DaemonUnderTest,
    _qemu: ProcessDaemon,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Setup {
    fn start() -> Setup {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = Ca::new("virt test CA");
        let server = ca.server();
        let d = dir.path();
        std::fs::write(d.join("ca.pem"), ca.cert_pem()).expect("ca");
        std::fs::write(d.join("server.pem"), &server.cert_pem).expect("cert");
        std::fs::write(d.join("server.key"), &server.key_pem).expect("key");
        let port = free_port();
        let config = format!(
            "# remote access\nlisten_tls = 1\nlisten_addr = \"127.0.0.1\"\ntls_port = {port}\n\
             ca_file = \"{d}/ca.pem\"\ncert_file = \"{d}/server.pem\"\nkey_file = \"{d}/server.key\"\n\
             tls_allowed_dn_list = [\"C=GB,O=virt tests,CN=admin-*\"]\n",
            d = d.display()
        );
        std::fs::write(d.join("virt-proxy.conf"), config).expect("config");
        let proxy =
            DaemonUnderTest::proxy(&["--config", &d.join("virt-proxy.conf").display().to_string()]);
        let qemu = ProcessDaemon::start("virtqemud", proxy.root.path());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "TLS listener did not open"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Setup {
            dir,
            ca,
            port,
            proxy,
            _qemu: qemu,
        }
    }

    /// A client PKI dir trusting our CA, with a certificate for `cn` issued by `issuer`.
    fn client(&self, name: &str, issuer: Option<(&Ca, &str)>) -> PathBuf {
        let issued = issuer.map(|(ca, cn)| ca.client("virt tests", cn));
        write_client(&self.dir.path().join(name), &self.ca, issued.as_ref())
    }

    fn uri(&self, pki: &Path) -> String {
        format!(
            "qemu+tls://127.0.0.1:{}/system?pkipath={}",
            self.port,
            pki.display()
        )
    }

    fn virt(&self, pki: &Path, args: &[&str]) -> (bool, String, String) {
        let o = Command::new(workspace_bin("virt"))
            .arg("-c")
            .arg(self.uri(pki))
            .args(args)
            .env_remove("VIRT_ROOT")
            .output()
            .expect("run virt");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

const QEMU_XML: &str = "<domain type='qemu'><name>remote1</name><memory unit='MiB'>64</memory>\
    <os><type arch='x86_64'>hvm</type></os></domain>";

#[test]
fn cli_over_tls_reaches_virtqemud_and_refuses_whom_it_should() {
    let s = Setup::start();
    let admin = s.client("admin", Some((&s.ca, "admin-alice")));
    let xml = s.dir.path().join("remote1.xml");
    std::fs::write(&xml, QEMU_XML).expect("xml");

    let (ok, out, err) = s.virt(&admin, &["define", &xml.display().to_string()]);
    assert!(ok, "define over TLS: {err}");
    assert!(out.contains("Domain 'remote1' defined"), "{out}");
    let (ok, out, err) = s.virt(&admin, &["list", "--all", "--name"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "remote1");
    // The definition landed in virtqemud's config dir under the proxy's root.
    assert!(s
        .proxy
        .root
        .path()
        .join("etc/virt/qemu/remote1.xml")
        .exists());

    let none = s.client("none", None);
    let (ok, _, err) = s.virt(&none, &["list", "--all"]);
    assert!(!ok);
    assert!(err.contains("no client certificate"), "{err}");

    let rogue_ca = Ca::new("rogue CA");
    let rogue = s.client("rogue", Some((&rogue_ca, "admin-mallory")));
    let (ok, _, err) = s.virt(&rogue, &["list", "--all"]);
    assert!(!ok);
    assert!(
        err.contains("'C=GB,O=virt tests,CN=admin-mallory' is not trusted"),
        "{err}"
    );

    let stranger = s.client("stranger", Some((&s.ca, "bob")));
    let (ok, _, err) = s.virt(&stranger, &["list", "--all"]);
    assert!(!ok);
    assert!(
        err.contains("'C=GB,O=virt tests,CN=bob' is not on the list of allowed clients"),
        "{err}"
    );
}

#[test]
fn plain_tcp_is_closed_unless_enabled() {
    let s = Setup::start();
    let o = Command::new(workspace_bin("virt"))
        .args(["-c", "qemu+tcp://127.0.0.1:16509/system", "list"])
        .output()
        .expect("run virt");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("127.0.0.1:16509"), "{err}");
    drop(s);
}

#[cfg(feature = "system-tests")]
#[test]
fn python_grpcio_client_reaches_virtqemud_over_tls() {
    let python = std::env::var("VIRT_TEST_PYTHON").expect(
        "VIRT_TEST_PYTHON must name a Python with grpcio-tools (tools/test-all.sh sets it)",
    );
    let s = Setup::start();
    let admin = s.client("admin", Some((&s.ca, "admin-py")));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/tls_client_test.py");
    let out = Command::new(python)
        .arg(script)
        .arg(format!("127.0.0.1:{}", s.port))
        .arg(&admin)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python TLS client failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("python TLS client ok: pytls"), "{stdout}");
}
