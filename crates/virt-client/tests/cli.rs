//! Runs the real `virt` binary against the embedded test driver (`test:///default`) and checks
//! its output, errors and exit statuses.

use std::process::{Command, Output};

const SMALL_XML: &str = "<domain type='test'>
  <name>small</name>
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
";

fn virt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_virt"))
        .args(["-c", "test:///default"])
        .args(args)
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .expect("run virt")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

fn ok(args: &[&str]) -> String {
    let o = virt(args);
    assert!(
        o.status.success(),
        "virt {args:?} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn list_all_shows_the_test_domain_table() {
    assert_eq!(
        ok(&["list", "--all"]),
        " Id   Name   State\n----------------------\n 1    test   running\n\n"
    );
}

#[test]
fn quiet_list_drops_header_and_closing_line() {
    assert_eq!(ok(&["-q", "list", "--all"]), " 1   test   running\n");
}

#[test]
fn dominfo_test_lists_the_fixture_facts() {
    let text = ok(&["dominfo", "test"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Id:             1");
    assert_eq!(lines[1], "Name:           test");
    assert_eq!(
        lines[2],
        "UUID:           6695eb01-f6a4-8304-79aa-97f2502e193f"
    );
    assert_eq!(lines[4], "State:          running");
    assert_eq!(lines[5], "CPU(s):         2");
    assert!(text.contains("Max memory:     8388608 KiB\n"));
    assert!(text.contains("Used memory:    2097152 KiB\n"));
    assert!(text.contains("Persistent:     yes\nAutostart:      disable\nManaged save:   no\n"));
    assert!(text.ends_with("\n\n"), "closing blank line: {text:?}");
}

#[test]
fn domstate_reason_of_the_fixture() {
    assert_eq!(
        ok(&["domstate", "test", "--reason"]),
        "running (unknown)\n\n"
    );
    assert_eq!(ok(&["domstate", "test"]), "running\n\n");
    assert_eq!(ok(&["domstate", "1"]), "running\n\n");
}

#[test]
fn domstats_prints_the_state_group() {
    assert_eq!(
        ok(&["domstats", "test"]),
        "Domain: 'test'\n  state.state=1\n  state.reason=0\n\n"
    );
}

#[test]
fn define_start_destroy_undefine_cycle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("small.xml");
    std::fs::write(&file, SMALL_XML).expect("write xml");
    let file = file.to_str().expect("utf-8 path");
    // Each `virt` process has its own embedded test driver, so the cycle runs as one virsh
    // command string on one connection.
    let script = format!(
        "define '{file}'; start small; domstate small --reason; destroy small; \
         domstate small --reason; undefine small; list --all"
    );
    assert_eq!(
        ok(&[&script]),
        format!(
            "Domain 'small' defined from {file}\n\n\
             Domain 'small' started\n\n\
             running (booted)\n\n\
             Domain 'small' destroyed\n\n\
             shut off (destroyed)\n\n\
             Domain 'small' has been undefined\n\n \
             Id   Name   State\n----------------------\n 1    test   running\n\n"
        )
    );
    let o = virt(&["start", "small"]);
    assert_eq!(o.status.code(), Some(1), "small is gone in a new process");
    assert_eq!(stderr(&o), "error: failed to get domain 'small'\n");
}

#[test]
fn command_string_exit_status_is_the_last_commands() {
    let o = virt(&["dominfo nope; uri"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "\ntest:///default\n\n");
    let o = virt(&["uri; dominfo nope"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn unknown_domain_is_an_error_with_exit_status_1() {
    let o = virt(&["dominfo", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "error: failed to get domain 'nope'\n");
    assert_eq!(stdout(&o), "\n");
}

#[test]
fn read_only_connection_refuses_destroy() {
    let o = virt(&["-r", "destroy", "test"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: Failed to destroy domain 'test'\n\
         error: operation forbidden: read only access prevents virDomainDestroy\n"
    );
}

#[test]
fn destroy_then_lifecycle_messages() {
    assert_eq!(ok(&["destroy", "test"]), "Domain 'test' destroyed\n\n");
    assert_eq!(ok(&["suspend", "test"]), "Domain 'test' suspended\n\n");
    assert_eq!(ok(&["-q", "reset", "test"]), "");
    let o = virt(&["start", "test"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "error: Domain is already active\n");
}

#[test]
fn usage_errors_exit_with_1() {
    let o = virt(&["dominfo"]);
    assert_eq!(o.status.code(), Some(1));
    let o = virt(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn event_times_out_and_counts() {
    // virsh counts a wait that received nothing as a failure, silently.
    let o = virt(&["event", "--all", "--timeout", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "event loop timed out\nevents received: 0\n\n");
    assert_eq!(stderr(&o), "");
    let o = virt(&["event", "--event", "bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "error: unknown event type bogus\n");
}

#[test]
fn tls_without_a_ca_file_names_the_file() {
    let o = Command::new(env!("CARGO_BIN_EXE_virt"))
        .args([
            "-c",
            "qemu+tls://127.0.0.1/system?pkipath=/nonexistent",
            "list",
        ])
        .output()
        .expect("run virt");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: failed to connect to the hypervisor\n"),
        "{err}"
    );
    assert!(
        err.contains("cannot load CA certificate from /nonexistent/cacert.pem"),
        "{err}"
    );
}

#[test]
fn missing_daemon_socket_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("nope-sock");
    let uri = format!("qemu:///system?socket={}", sock.display());
    let o = Command::new(env!("CARGO_BIN_EXE_virt"))
        .args(["-c", &uri, "list"])
        .output()
        .expect("run virt");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "error: failed to connect to the hypervisor\n\
             error: failed to connect to the daemon socket '{}': No such file or directory\n",
            sock.display()
        )
    );
}
