//! Clients in another language: Python stubs generated from proto/ by grpcio-tools, driving
//! the daemons through virt-proxy over its UNIX socket with a channel that has no options.
//! - tests/python/client_test.py: list, define, start against the test driver;
//! - tests/python/contract_test.py: where a call without `virt-uri` goes and the `virt-uri`
//!   response header, misspelt keys, Info.features of a routed URI (a real virtqemud);
//! - proto/README.md: its stub-generation command and its Python example, run as written.
//!
//! Needs the Python venv that tools/test-all.sh prepares (VIRT_TEST_PYTHON, with grpcio,
//! grpcio-tools and grpcio-status); CI always runs these (feature `system-tests`).
#![cfg(feature = "system-tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use virt_tests::backend::ProcessDaemon;
use virt_tests::DaemonUnderTest;

fn python() -> PathBuf {
    PathBuf::from(std::env::var("VIRT_TEST_PYTHON").expect(
        "VIRT_TEST_PYTHON must name a Python with grpcio-tools (tools/test-all.sh sets it)",
    ))
}

fn script(name: &str) -> String {
    format!("{}/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Checks `out` succeeded; its stdout.
fn succeeded(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn python_grpc_client_lists_defines_and_starts() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let out = Command::new(python())
        .arg(script("client_test.py"))
        .arg(&daemon.socket)
        .output()
        .expect("run python");
    let stdout = succeeded("python client", &out);
    assert!(stdout.contains("active: test py1"), "{stdout}");
    assert!(stdout.contains("python client ok"), "{stdout}");
}

#[test]
fn python_sees_the_default_uri_misspelt_keys_and_backend_features_through_the_proxy() {
    let proxy = DaemonUnderTest::proxy(&[]);
    let _qemu = ProcessDaemon::start("virtqemud", proxy.root.path());
    let empty = DaemonUnderTest::proxy(&[]);
    let out = Command::new(python())
        .arg(script("contract_test.py"))
        .arg(&proxy.socket)
        .arg(&empty.socket)
        .output()
        .expect("run python");
    let stdout = succeeded("python contract test", &out);
    assert!(stdout.contains("default uri: qemu:///system"), "{stdout}");
    assert!(stdout.contains("python contract ok"), "{stdout}");
}

/// The fenced block of kind `lang` that follows the line `<!-- test: NAME` in `text`.
fn block_after(text: &str, name: &str, lang: &str) -> String {
    let marker = format!("<!-- test: {name}");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("proto/README.md has no '{marker}' marker"));
    let fence = format!("```{lang}\n");
    let start = at
        + text[at..]
            .find(&fence)
            .expect("a fenced block after the marker")
        + fence.len();
    let len = text[start..].find("```").expect("the block ends");
    text[start..start + len].to_string()
}

#[test]
fn proto_readme_python_commands_and_example_run_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/README.md"))
            .expect("read proto/README.md");
    let commands = block_after(&readme, "python-stubs", "sh");
    let example = block_after(&readme, "python-example", "python");
    assert!(commands.contains("-I proto"), "{commands}");

    // The commands run from a repository root: a directory holding proto/.
    let work = tempfile::tempdir().expect("tempdir");
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    std::os::unix::fs::symlink(&proto, work.path().join("proto")).expect("link proto");
    let py = python();
    let bin = py.parent().expect("venv bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &commands])
        .current_dir(work.path())
        .env("PATH", &path)
        .output()
        .expect("run the README's commands");
    succeeded("the README's stub commands", &out);
    assert!(work.path().join("gen/virt/v1/domain_pb2_grpc.py").is_file());

    std::fs::write(work.path().join("example.py"), &example).expect("write example");
    let daemon = DaemonUnderTest::proxy(&[]);
    let out = Command::new(&py)
        .arg("example.py")
        .arg(&daemon.socket)
        .arg("test:///default")
        .current_dir(work.path())
        .env("PYTHONPATH", "gen")
        .output()
        .expect("run the README's example");
    let stdout = succeeded("the README's example", &out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "domain test DOMAIN_STATE_RUNNING", "{stdout}");
    assert!(lines[1].starts_with("defined example "), "{stdout}");
    assert_eq!(
        lines[2], "state DOMAIN_STATE_RUNNING DOMAIN_RUNNING_REASON_BOOTED",
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("error NOT_FOUND ") && lines[3].contains("no-such-domain"),
        "{stdout}"
    );
    assert!(
        lines[4].starts_with("error-info NO_DOMAIN virt "),
        "{stdout}"
    );
}

/// Issue 11's schema contract points from Python (tests/python/schema_contract_test.py):
/// ENFORCE_STATS through `enforce_stats` (the enum constant is negative and Python refuses it
/// in `flags`), typed lifecycle details, ErrorInfo / BadRequest read with grpcio-status, the
/// event sequence number.
#[test]
fn python_client_meets_the_schema_contract_fixes() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let out = Command::new(python())
        .arg(script("schema_contract_test.py"))
        .arg(&daemon.socket)
        .output()
        .expect("run python");
    let stdout = succeeded("python schema contract test", &out);
    assert!(stdout.contains("python contract ok"), "{stdout}");
}
