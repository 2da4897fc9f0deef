//! A client in another language: Python stubs generated from proto/ by grpcio-tools run list,
//! define and start against the daemon (tests/python/client_test.py). Needs the Python venv
//! that tools/test-all.sh prepares (VIRT_TEST_PYTHON).
#![cfg(feature = "system-tests")]

use virt_tests::DaemonUnderTest;

#[test]
fn python_grpc_client_lists_defines_and_starts() {
    let python = std::env::var("VIRT_TEST_PYTHON").expect(
        "VIRT_TEST_PYTHON must name a Python with grpcio-tools (tools/test-all.sh sets it)",
    );
    let daemon = DaemonUnderTest::proxy(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/client_test.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&daemon.socket)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("active: test py1"), "{stdout}");
    assert!(stdout.contains("python client ok"), "{stdout}");
}

/// Issue 11's contract points from Python (tests/python/contract_test.py): ENFORCE_STATS through
/// `enforce_stats` (the enum constant is negative and Python refuses it in `flags`), typed
/// lifecycle details, ErrorInfo / BadRequest read with grpcio-status, the event sequence number.
#[test]
fn python_client_meets_the_contract_fixes() {
    let python = std::env::var("VIRT_TEST_PYTHON").expect(
        "VIRT_TEST_PYTHON must name a Python with grpcio-tools and grpcio-status \
         (tools/test-all.sh sets it)",
    );
    let daemon = DaemonUnderTest::proxy(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/contract_test.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&daemon.socket)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python contract test failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("python contract ok"), "{stdout}");
}
