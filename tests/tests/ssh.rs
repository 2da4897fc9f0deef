//! The `+ssh` transport end to end with a real OpenSSH server: the test starts its own `sshd`
//! on a loopback port with keys generated at test time; the client runs `ssh` to it, which runs
//! `virt-proxy --stdio URI` on the "remote" side (found through the PATH the key's forced
//! command sets), bridging to the proxy daemon's socket. Calls then travel client → ssh → sshd
//! → bridge → proxy, as libvirt's `qemu+ssh://` does with `virt-ssh-helper`.
//!
//! Needs `sshd` (Debian's openssh-server, which the test command installs): missing, the test
//! fails under the full suite (`VIRT_REQUIRE_SSHD=1`) and is skipped otherwise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_client::remote::ssh_channel;
use virt_core::proto::connect_service_client::ConnectServiceClient;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::{GetHostnameRequest, ListAllDomainsRequest};
use virt_core::uri::ConnectUri;
use virt_tests::{with_uri, workspace_bin, DaemonUnderTest};

const SSHD: &str = "/usr/sbin/sshd";

/// A private sshd on 127.0.0.1:port whose only key runs the client's command with the
/// workspace binaries on PATH and `VIRT_ROOT` set; killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    client_key: PathBuf,
    ssh_wrapper: PathBuf,
    _dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(ok.success(), "ssh-keygen failed");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Sshd {
    fn start(virt_root: &Path) -> Sshd {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        let bin_dir = workspace_bin("virt-proxy")
            .parent()
            .expect("bin dir")
            .to_path_buf();
        let pubkey = std::fs::read_to_string(d.join("client_key.pub")).expect("pubkey");
        let forced = format!(
            "command=\"env PATH={}:/usr/bin:/bin VIRT_ROOT={} sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"\",no-pty,no-port-forwarding {}",
            bin_dir.display(),
            virt_root.display(),
            pubkey.trim()
        );
        std::fs::write(d.join("authorized_keys"), forced + "\n").expect("authorized_keys");
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\n\
             UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nAllowUsers *\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        // ssh that neither asks about nor records the throwaway host key.
        let wrapper = d.join("ssh");
        std::fs::write(
            &wrapper,
            "#!/bin/sh\nexec ssh -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \"$@\"\n",
        )
        .expect("wrapper");
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sshd {
            child,
            port,
            client_key: d.join("client_key"),
            ssh_wrapper: wrapper,
            _dir: dir,
        }
    }

    fn uri(&self, path: &str) -> String {
        format!(
            "test+ssh://root@127.0.0.1:{}{path}?keyfile={}&no_verify=1&no_tty=1&command={}",
            self.port,
            self.client_key.display(),
            self.ssh_wrapper.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd_available() -> bool {
    if Path::new(SSHD).exists() {
        return true;
    }
    assert!(
        std::env::var_os("VIRT_REQUIRE_SSHD").is_none(),
        "{SSHD} is missing but VIRT_REQUIRE_SSHD is set (install openssh-server)"
    );
    eprintln!("skipping: {SSHD} not installed");
    false
}

#[tokio::test]
async fn calls_travel_over_ssh_to_the_remote_proxy() {
    if !sshd_available() {
        return;
    }
    let proxy = DaemonUnderTest::proxy(&[]);
    let sshd = Sshd::start(proxy.root.path());
    let text = sshd.uri("/default");
    let uri = ConnectUri::parse(&text).expect("uri");
    let ch = ssh_channel(&uri, &text, false).await.expect("ssh channel");

    let names: Vec<String> = DomainServiceClient::new(ch.clone())
        .list_all_domains(with_uri(
            ListAllDomainsRequest::default(),
            "test:///default",
        ))
        .await
        .expect("list over ssh")
        .into_inner()
        .domains
        .into_iter()
        .filter_map(|d| d.domain.map(|d| d.name))
        .collect();
    assert_eq!(names, ["test"]);

    let host = ConnectServiceClient::new(ch)
        .get_hostname(with_uri(GetHostnameRequest {}, "test:///default"))
        .await
        .expect("hostname over ssh")
        .into_inner()
        .hostname;
    assert!(!host.is_empty());
}

#[tokio::test]
async fn a_refused_key_is_reported_at_open_with_what_ssh_said() {
    if !sshd_available() {
        return;
    }
    let proxy = DaemonUnderTest::proxy(&[]);
    let sshd = Sshd::start(proxy.root.path());
    let other = tempfile::tempdir().expect("tmp");
    keygen(&other.path().join("k"));
    let text = sshd.uri("/default").replace(
        &sshd.client_key.display().to_string(),
        &other.path().join("k").display().to_string(),
    );
    let uri = ConnectUri::parse(&text).expect("uri");
    // ssh exits when the key is refused; opening fails with what ssh said.
    let err = ssh_channel(&uri, &text, false)
        .await
        .expect_err("a refused key must not reach the proxy");
    let msg = err.to_string();
    assert!(
        msg.starts_with("unable to connect to server at '127.0.0.1': ssh: ")
            && msg.contains("Permission denied (publickey)"),
        "{msg}"
    );
}
