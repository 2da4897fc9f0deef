//! virt-proxy routing to driver daemons: the real proxy binary under a temporary root, driver
//! daemons (the shared runtime serving a test-driver state under a daemon's name) on their
//! sockets under the same root, reached by URI with the `virt` CLI and raw gRPC clients: routing,
//! read-only, daemons down and back, Info, session mode, the config file. Streams:
//! proxy_streams.rs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tonic::Code;
use virt_core::proto::connect_service_client::ConnectServiceClient;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::{DefineDomainRequest, InfoRequest, ListAllDomainsRequest};
use virt_tests::backend::{AnyUri, InProcessDaemon, ProcessDaemon};
use virt_tests::{domain_xml, error_info, raw_channel, with_uri, workspace_bin, DaemonUnderTest};

/// Runs `virt ARGS` against the proxy under `root`; (success, stdout, stderr).
fn virt(root: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("virt"))
        .args(args)
        .env("VIRT_ROOT", root)
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

fn write_xml(root: &Path, name: &str) -> String {
    let path = root.join(format!("{name}.xml"));
    std::fs::write(&path, domain_xml(name)).expect("write xml");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_reaches_two_daemons_by_uri_and_one_dying_leaves_the_other() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let qemu = InProcessDaemon::start("virtqemud", &root, AnyUri::new("QEMU")).await;
    let lxc = InProcessDaemon::start("virtlxcd", &root, AnyUri::new("LXC")).await;

    let q = write_xml(&root, "qdom");
    let l = write_xml(&root, "ldom");
    let (ok, _, err) = virt(&root, &["-c", "qemu:///system", "define", &q]);
    assert!(ok, "define on qemu: {err}");
    let (ok, _, err) = virt(&root, &["-c", "lxc:///", "define", &l]);
    assert!(ok, "define on lxc: {err}");

    let (ok, qlist, _) = virt(&root, &["-c", "qemu:///system", "list", "--all"]);
    assert!(ok);
    assert!(qlist.contains("qdom") && !qlist.contains("ldom"), "{qlist}");
    let (ok, llist, _) = virt(&root, &["-c", "lxc:///", "list", "--all"]);
    assert!(ok);
    assert!(llist.contains("ldom") && !llist.contains("qdom"), "{llist}");
    // test:/// stays the proxy's own embedded driver.
    let (ok, tlist, _) = virt(&root, &["-c", "test+unix:///default", "list", "--all"]);
    assert!(ok);
    assert!(
        !tlist.contains("qdom") && !tlist.contains("ldom"),
        "{tlist}"
    );

    lxc.stop().await;
    let (ok, qlist2, err) = virt(&root, &["-c", "qemu:///system", "list", "--all"]);
    assert!(ok, "qemu after lxc died: {err}");
    assert_eq!(qlist2, qlist);
    let (ok, _, err) = virt(&root, &["-c", "lxc:///", "list", "--all"]);
    assert!(!ok);
    let sock = root.join("run/virt/virtlxcd-sock");
    assert!(
        err.contains("virtlxcd") && err.contains(&sock.display().to_string()),
        "{err}"
    );
    qemu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_socket_forwards_to_the_daemons_read_only_socket() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let qemu = InProcessDaemon::start("virtqemud", &root, AnyUri::new("QEMU")).await;
    let uri = "qemu:///system";
    let mut ro = DomainServiceClient::new(raw_channel(&proxy.socket_ro).await);
    let list = ro
        .list_all_domains(with_uri(ListAllDomainsRequest { flags: 0 }, uri))
        .await
        .expect("a read through the read-only socket")
        .into_inner();
    assert_eq!(list.domains.len(), 1);
    let st = ro
        .define_domain(with_uri(
            DefineDomainRequest {
                xml: domain_xml("escalate"),
                flags: 0,
            },
            uri,
        ))
        .await
        .expect_err("a write through the read-only socket");
    assert_eq!(st.code(), Code::PermissionDenied);
    assert_eq!(
        st.message(),
        "operation forbidden: read only access prevents virDomainDefineXML"
    );
    assert_eq!(error_info(&st).0, "OPERATION_DENIED");
    // The CLI's -r uses the same path.
    let x = write_xml(&root, "ro2");
    let (ok, _, err) = virt(&root, &["-r", "-c", uri, "define", &x]);
    assert!(!ok);
    assert!(err.contains("read only access prevents"), "{err}");
    let (ok, out, _) = virt(&root, &["-r", "-c", uri, "list", "--all"]);
    assert!(ok && out.contains("test"), "{out}");
    // Nothing was defined.
    let (_, all, _) = virt(&root, &["-c", uri, "list", "--all"]);
    assert!(!all.contains("escalate") && !all.contains("ro2"), "{all}");
    qemu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_down_is_unavailable_naming_it_and_calls_recover_when_it_is_back() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let uri = "qemu:///system";
    let mut client = DomainServiceClient::new(raw_channel(&proxy.socket).await);
    let list = |c: &mut DomainServiceClient<tonic::transport::Channel>| {
        let mut c = c.clone();
        async move {
            c.list_all_domains(with_uri(ListAllDomainsRequest { flags: 0 }, uri))
                .await
        }
    };
    let st = list(&mut client).await.expect_err("no daemon yet");
    assert_eq!(st.code(), Code::Unavailable);
    let sock = root.join("run/virt/virtqemud-sock");
    assert_eq!(
        st.message(),
        format!(
            "no connection driver available for qemu:///system: cannot reach virtqemud on {}: \
             No such file or directory",
            sock.display()
        )
    );
    assert_eq!(error_info(&st).0, "NO_CONNECT");

    let registry = AnyUri::new("QEMU");
    let qemu = InProcessDaemon::start("virtqemud", &root, registry.clone()).await;
    assert_eq!(
        list(&mut client)
            .await
            .expect("daemon up")
            .into_inner()
            .domains
            .len(),
        1
    );
    qemu.stop().await;
    let st = list(&mut client).await.expect_err("daemon gone");
    assert_eq!(st.code(), Code::Unavailable);
    assert!(
        st.message().contains("cannot reach virtqemud"),
        "{}",
        st.message()
    );
    let qemu = InProcessDaemon::start("virtqemud", &root, registry).await;
    assert_eq!(
        list(&mut client)
            .await
            .expect("daemon back, same client")
            .into_inner()
            .domains
            .len(),
        1
    );
    qemu.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn info_lists_reachable_backends_and_virt_version_shows_them() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let qemu = InProcessDaemon::start("virtqemud", &root, AnyUri::new("QEMU")).await;
    let mut client = ConnectServiceClient::new(raw_channel(&proxy.socket).await);
    let info = client
        .info(with_uri(InfoRequest {}, "test:///default"))
        .await
        .expect("info")
        .into_inner();
    assert_eq!(
        (info.daemon.as_str(), info.driver.as_str()),
        ("virt-proxy", "TEST")
    );
    assert_eq!(info.api_version, "virt.v1");
    let names: Vec<(&str, &str)> = info
        .backends
        .iter()
        .map(|b| (b.daemon.as_str(), b.driver.as_str()))
        .collect();
    assert_eq!(names, vec![("virtqemud", "QEMU")]);
    assert!(!info.backends[0].daemon_version.is_empty());
    // Without a URI, Info (like any call) is for the probed daemon: its own facts at the top,
    // and the response names the URI.
    let resp = client.info(InfoRequest {}).await.expect("info");
    assert_eq!(
        resp.metadata()
            .get("virt-uri")
            .and_then(|v| v.to_str().ok()),
        Some("qemu:///system")
    );
    let info = resp.into_inner();
    assert_eq!(
        (info.daemon.as_str(), info.driver.as_str()),
        ("virtqemud", "QEMU")
    );
    assert_eq!(info.backends.len(), 1);

    // Through the proxy (libvirt's mode=legacy) the CLI shows the backends behind it; on the
    // default path it talks to virtqemud itself, which has none.
    let legacy = "qemu:///system?mode=legacy";
    let (ok, out, err) = virt(&root, &["-c", legacy, "version", "--daemon"]);
    assert!(ok, "{err}");
    assert!(out.contains("Backend daemon: virtqemud (QEMU) "), "{out}");
    let (ok, out, err) = virt(&root, &["-c", "qemu:///system", "version", "--daemon"]);
    assert!(ok, "{err}");
    assert!(!out.contains("Backend daemon"), "{out}");
    qemu.stop().await;
}

fn qemu_xml(name: &str, uuid: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='MiB'>256</memory>\n  <vcpu>2</vcpu>\n  <os>\n    \
         <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n</domain>\n"
    )
}

const ALPHA: &str = "11111111-2222-3333-4444-555555555555";

#[tokio::test(flavor = "multi_thread")]
async fn cli_reaches_real_virtqemud_and_a_second_daemon_and_kill_9_spares_the_other() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let root = proxy.root.path().to_path_buf();
    let qemu = ProcessDaemon::start("virtqemud", &root);
    let lxc = InProcessDaemon::start("virtlxcd", &root, AnyUri::new("LXC")).await;

    // Through the proxy (libvirt's mode=legacy), as a client reaching a socket-activated proxy.
    let uri = "qemu:///system?mode=legacy";
    let q = root.join("alpha.xml");
    std::fs::write(&q, qemu_xml("alpha", ALPHA)).expect("write xml");
    let (ok, _, err) = virt(&root, &["-c", uri, "define", &q.display().to_string()]);
    assert!(ok, "define through the proxy on virtqemud: {err}");
    assert!(
        root.join("etc/virt/qemu/alpha.xml").is_file(),
        "virtqemud wrote it"
    );
    let (ok, qlist, err) = virt(&root, &["-c", uri, "list", "--all"]);
    assert!(ok && qlist.contains("alpha"), "{qlist}{err}");
    let (ok, llist, _) = virt(&root, &["-c", "lxc:///", "list", "--all"]);
    assert!(
        ok && !llist.contains("alpha") && llist.contains("test"),
        "{llist}"
    );

    qemu.kill9();
    let (ok, llist2, err) = virt(&root, &["-c", "lxc:///", "list", "--all"]);
    assert!(ok, "lxc after virtqemud was killed: {err}");
    assert_eq!(llist2, llist);
    let (ok, _, err) = virt(&root, &["-c", uri, "list", "--all"]);
    assert!(!ok);
    assert!(err.contains("cannot reach virtqemud on"), "{err}");
    // The default path goes straight to the dead daemon's socket, and says so, as libvirt's
    // client does.
    let (ok, _, err) = virt(&root, &["-c", "qemu:///system", "list", "--all"]);
    assert!(!ok);
    let sock = root.join("run/virt/virtqemud-sock");
    assert!(
        err.contains(&format!("'{}': Connection refused", sock.display())),
        "{err}"
    );

    let _qemu = ProcessDaemon::start("virtqemud", &root);
    let (ok, qlist2, err) = virt(&root, &["-c", uri, "list", "--all"]);
    assert!(
        ok && qlist2.contains("alpha"),
        "after restart: {qlist2}{err}"
    );
    lxc.stop().await;
}

/// A daemon binary run in session mode with its per-user tree under `home`; killed on drop.
struct SessionDaemon(std::process::Child);

impl SessionDaemon {
    fn start(name: &str, home: &Path) -> SessionDaemon {
        let mut cmd = Command::new(workspace_bin(name));
        cmd.arg("--session");
        session_env(&mut cmd, home);
        let child = cmd.spawn().expect("spawn");
        let sock = home.join(format!("xdg-run/virt/{name}-sock"));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(std::time::Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        SessionDaemon(child)
    }
}

impl Drop for SessionDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn session_env(cmd: &mut Command, home: &Path) {
    cmd.env_remove("VIRT_ROOT")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", home.join("xdg-run"))
        .env("XDG_CONFIG_HOME", home.join("xdg-config"))
        .env("XDG_DATA_HOME", home.join("xdg-data"));
}

#[test]
fn session_uris_go_to_the_session_daemons_without_a_root() {
    let home = tempfile::tempdir().expect("home");
    let _qemu = SessionDaemon::start("virtqemud", home.path());
    let _proxy = SessionDaemon::start("virt-proxy", home.path());
    let xml = home.path().join("sess.xml");
    std::fs::write(&xml, qemu_xml("sess", ALPHA)).expect("xml");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(workspace_bin("virt"));
        cmd.args(args);
        session_env(&mut cmd, home.path());
        let out = cmd.output().expect("virt");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(&[
        "-c",
        "qemu:///session",
        "define",
        &xml.display().to_string(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["-c", "qemu:///session", "list", "--all"]);
    assert!(ok && out.contains("sess"), "{out}{err}");
    assert!(home.path().join("xdg-config/virt/qemu/sess.xml").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_file_names_backend_sockets_and_a_bad_one_stops_the_proxy() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let qemu = InProcessDaemon::start("virtqemud", elsewhere.path(), AnyUri::new("QEMU")).await;
    let cfg = elsewhere.path().join("virt-proxy.conf");
    std::fs::write(
        &cfg,
        format!(
            "# sockets outside the proxy's tree\nqemu_system_socket = \"{}\"\n\
             qemu_system_socket_ro = \"{}\"\ntls_allowed_dn_list = [\"CN=a\"]\n",
            qemu.socket.display(),
            qemu.socket_ro.display()
        ),
    )
    .expect("write config");
    let proxy = DaemonUnderTest::proxy(&["--config", &cfg.display().to_string()]);
    let root = proxy.root.path().to_path_buf();
    let (ok, out, err) = virt(&root, &["-c", "qemu:///system", "list", "--all"]);
    assert!(ok && out.contains("test"), "{out}{err}");

    std::fs::write(&cfg, "qemu_sytem_socket = \"/x\"\n").expect("write bad config");
    let out = Command::new(workspace_bin("virt-proxy"))
        .arg("--root")
        .arg(elsewhere.path().join("r2"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run proxy");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:1: unknown key qemu_sytem_socket",
            cfg.display()
        )),
        "{err}"
    );
    qemu.stop().await;
}
