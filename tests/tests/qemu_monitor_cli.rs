//! libvirt-qemu's monitor commands through the CLI: `qemu-monitor-command` and
//! `qemu-monitor-event` on a real TCG guest under virtqemud (feature `qemu-tests`), plus
//! `domcontrol` and `domblkerror` of that guest; and the lines virsh prints before reaching a
//! driver (its QMP wrapping, option checks, read-only refusal) against `virsh -c
//! test:///default` (feature `system-tests`), whose test driver has neither call.
//!
//! On the guest: QMP `query-status` as QEMU's reply line (compact, libvirt's `libvirt-N` id),
//! `--pretty`, `--return-value`, `--hmp 'info status'`; an unknown QMP command's error reply
//! printed as the result (libvirt does not turn it into an error) and `--return-value`'s
//! "'return' member missing"; an unknown HMP command's text; the "custom-monitor" taint in the
//! domain's log; `--pass-fds` refused by name; read-only connections refused; a STOP event
//! caught after `suspend`, a RESUME caught through a case-insensitive `--event` filter that
//! skips the STOP before it, a regex filter with RESET's data, and `--timeout` and SIGINT
//! ending a wait that received nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use virt_tests::backend::ProcessDaemon;
use virt_tests::guest::{test_guest, GUEST_CMDLINE};
use virt_tests::qemu::{virt, virt_ok, wait_domstate, QemuGuard};
use virt_tests::workspace_bin;

fn guest_xml(kernel: &Path, initrd: &Path, disk: &Path) -> String {
    format!(
        "<domain type='qemu'><name>qmon</name>\
         <uuid>7e570000-0000-4000-8000-00000000cc01</uuid>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{GUEST_CMDLINE}</cmdline></os>\
         <devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <serial type='pty'><target port='0'/></serial>\
         </devices></domain>",
        kernel.display(),
        initrd.display(),
        disk.display()
    )
}

/// Starts `virt qemu-monitor-event ARGS` in the background.
fn listen(root: &Path, args: &[&str]) -> Child {
    Command::new(workspace_bin("virt"))
        .args(["-c", "qemu:///system", "qemu-monitor-event"])
        .args(args)
        .env("VIRT_ROOT", root)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn qemu-monitor-event")
}

/// The listener's (success, stdout, stderr) once it ended.
fn finish(child: Child) -> (bool, String, String) {
    let out = child.wait_with_output().expect("qemu-monitor-event output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `line` is `event NAME at SECS.USECS for domain 'qmon': DETAILS` (the time is
/// QEMU's clock, so only its form is checked: digits, a dot, six digits).
fn is_event_line(line: &str, name: &str, details: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("event {name} at ")) else {
        return false;
    };
    let Some((time, tail)) = rest.split_once(' ') else {
        return false;
    };
    let Some((secs, usecs)) = time.split_once('.') else {
        return false;
    };
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && usecs.len() == 6
        && usecs.bytes().all(|b| b.is_ascii_digit())
        && tail == format!("for domain 'qmon': {details}")
}

/// Runs `trigger` while a listener with `args` waits, until the listener prints something
/// (a listener that started too late for the trigger gets another try).
fn catch(root: &Path, args: &[&str], trigger: &dyn Fn()) -> (bool, String, String) {
    for attempt in 0..3 {
        let child = listen(root, args);
        // The listener connects and subscribes first (a fresh process, well under this).
        std::thread::sleep(Duration::from_secs(3 + attempt));
        trigger();
        let got = finish(child);
        if got.1.contains("events received: 0") && attempt < 2 {
            continue;
        }
        return got;
    }
    unreachable!()
}

#[test]
#[cfg_attr(
    not(feature = "qemu-tests"),
    ignore = "boots a real guest; run with --features qemu-tests"
)]
fn monitor_commands_and_events_of_a_real_guest() {
    let image = test_guest().expect("test guest");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let _guard = QemuGuard::new(root);
    let _daemon = ProcessDaemon::start("virtqemud", root);
    let disk = root.join("qmon.qcow2");
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("16M")
        .status()
        .expect("qemu-img");
    assert!(st.success());
    let file = root.join("qmon.xml");
    std::fs::write(&file, guest_xml(&image.kernel, &image.initrd, &disk)).expect("xml");
    virt_ok(root, &["define", &file.display().to_string()]);
    virt_ok(root, &["start", "qmon"]);

    // QMP as QEMU answers it: compact, with libvirt's id form.
    let out = virt_ok(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            r#"{"execute":"query-status"}"#,
        ],
    );
    let line = out.lines().next().expect("a reply line");
    assert!(
        line.starts_with(r#"{"return":{"status":"running","#)
            && line.contains(r#","id":"libvirt-"#),
        "{out:?}"
    );
    assert!(line.ends_with("\"}"), "{out:?}");
    // The same command built from a bare command name.
    let out = virt_ok(root, &["qemu-monitor-command", "qmon", "query-status"]);
    assert!(
        out.starts_with(r#"{"return":{"status":"running","#),
        "{out:?}"
    );
    // --return-value: the return member only; with --pretty indented as yajl does.
    let out = virt_ok(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            "--return-value",
            "query-status",
        ],
    );
    assert!(
        out.starts_with(r#"{"status":"running","#) && !out.contains("libvirt-"),
        "{out:?}"
    );
    let out = virt_ok(
        root,
        &["qemu-monitor-command", "qmon", "--pretty", "query-status"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "{", "{out}");
    assert_eq!(lines[1], "  \"return\": {", "{out}");
    assert_eq!(lines[2], "    \"status\": \"running\",", "{out}");
    assert!(
        lines.iter().any(|l| l.starts_with("  \"id\": \"libvirt-")),
        "{out}"
    );
    assert!(lines.contains(&"}"), "{out}");
    let out = virt_ok(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            "--pretty",
            "--return-value",
            "query-status",
        ],
    );
    assert!(
        out.starts_with("{\n  \"status\": \"running\",\n"),
        "{out:?}"
    );

    // Arguments wrapped as virsh wraps them: key:value members joined into an object.
    let out = virt_ok(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            "--return-value",
            "qom-get",
            r#""path":"/machine""#,
            r#""property":"type""#,
        ],
    );
    assert!(out.starts_with("\"pc-i440fx-"), "{out:?}");

    // HMP through human-monitor-command: QEMU's text.
    let out = virt_ok(
        root,
        &["qemu-monitor-command", "qmon", "--hmp", "info", "status"],
    );
    assert!(out.starts_with("VM status: running"), "{out:?}");
    let out = virt_ok(
        root,
        &["qemu-monitor-command", "qmon", "--hmp", "nosuchcmd"],
    );
    assert!(out.contains("unknown command: 'nosuchcmd'"), "{out:?}");

    // An unknown QMP command: QEMU's error reply is the result, as libvirt returns it.
    let out = virt_ok(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            r#"{"execute":"no-such-command"}"#,
        ],
    );
    assert!(
        out.contains(r#""error":{"class":"CommandNotFound","desc":"The command no-such-command has not been found"}"#),
        "{out:?}"
    );
    let (ok, out, err) = virt(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            "--return-value",
            "no-such-command",
        ],
    );
    assert!(!ok);
    assert_eq!(out, "\n");
    assert_eq!(err, "error: 'return' member missing\n");

    // The domain is tainted in its log, as libvirt does.
    let log = std::fs::read_to_string(root.join("var/log/virt/qemu/qmon.log")).expect("log");
    assert!(
        log.contains("Domain id=1 is tainted: custom-monitor"),
        "{log}"
    );

    // --pass-fds: gRPC carries no descriptors; a bad list fails as virsh's check does.
    let (ok, _, err) = virt(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            "--pass-fds",
            "0",
            "query-status",
        ],
    );
    assert!(!ok);
    assert!(err.contains("Option --pass-fds is not supported"), "{err}");
    let (ok, _, err) = virt(
        root,
        &[
            "qemu-monitor-command",
            "qmon",
            "--pass-fds",
            "x",
            "query-status",
        ],
    );
    assert!(!ok);
    assert_eq!(err, "error: Unable to parse FD number 'x'\n");

    // Read-only connections may not use either call.
    let (ok, _, err) = virt(
        root,
        &["-r", "qemu-monitor-command", "qmon", "query-status"],
    );
    assert!(!ok);
    assert_eq!(
        err,
        "error: operation forbidden: read only access prevents virDomainQemuMonitorCommand\n"
    );
    let (ok, _, err) = virt(root, &["-r", "qemu-monitor-event", "--timeout", "1"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: operation forbidden: read only access prevents \
         virConnectDomainQemuMonitorEventRegister\n"
    );

    // The monitor is free: domcontrol says ok; the disk has no I/O error.
    assert_eq!(
        virt_ok(root, &["domcontrol", "qmon"]).lines().next(),
        Some("ok")
    );
    assert_eq!(
        virt_ok(root, &["domblkerror", "qmon"]).lines().next(),
        Some("No errors found")
    );

    // A real STOP event after suspend, for this domain, without --loop: the first one ends it.
    // (Events show QEMU's clock: only the line's form is checked.)
    let (ok, out, err) = catch(
        root,
        &["qmon", "--event", "STOP", "--timeout", "30"],
        &|| {
            // A retry finds the guest paused by the try before.
            let _ = virt(root, &["resume", "qmon"]);
            virt_ok(root, &["suspend", "qmon"]);
        },
    );
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(is_event_line(lines[0], "STOP", "<null>"), "{out:?}");
    assert_eq!(lines[1], "events received: 1", "{out:?}");
    assert_eq!(
        wait_domstate(root, "qmon", "paused (user)", Duration::from_secs(10)),
        "paused (user)"
    );

    // A case-insensitive name filter in a loop: RESUME passes, the STOP after it does not;
    // the timeout ends the loop.
    let (ok, out, err) = catch(
        root,
        &["--event", "resume", "--no-case", "--loop", "--timeout", "6"],
        &|| {
            virt_ok(root, &["resume", "qmon"]);
            virt_ok(root, &["suspend", "qmon"]);
        },
    );
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(is_event_line(lines[0], "RESUME", "<null>"), "{out:?}");
    assert_eq!(
        &lines[1..3],
        &["event loop timed out", "events received: 1"],
        "{out:?}"
    );
    virt_ok(root, &["resume", "qmon"]);

    // A regex filter, and data in QEMU's member order: RESET's data after `reset`.
    let (ok, out, err) = catch(
        root,
        &["qmon", "--event", "^RES.T$", "--regex", "--timeout", "30"],
        &|| {
            virt_ok(root, &["reset", "qmon"]);
        },
    );
    assert!(ok, "{out}{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(
        is_event_line(
            first,
            "RESET",
            r#"{"guest":false,"reason":"host-qmp-system-reset"}"#
        ),
        "{out:?}"
    );

    // Nothing received before the timeout: virsh's two lines, failure without a message.
    let (ok, out, err) = virt(
        root,
        &[
            "qemu-monitor-event",
            "qmon",
            "--event",
            "NOSUCH",
            "--timeout",
            "1",
        ],
    );
    assert!(!ok);
    assert_eq!(out, "event loop timed out\nevents received: 0\n\n");
    assert_eq!(err, "");

    // Ctrl-C (SIGINT) ends a looping wait as virsh's does.
    let child = listen(root, &["--loop"]);
    std::thread::sleep(Duration::from_secs(3));
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let (ok, out, err) = finish(child);
    assert!(!ok);
    assert_eq!(out, "event loop interrupted\nevents received: 0\n\n");
    assert_eq!(err, "");

    virt_ok(root, &["destroy", "qmon"]);
    // Not running: the monitor calls say so.
    let (ok, _, err) = virt(root, &["qemu-monitor-command", "qmon", "query-status"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: Requested operation is not valid: domain is not running\n"
    );
}

/// What virsh prints before any driver is reached, and the test driver's unsupported error,
/// compared line for line.
#[test]
#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "compares with virsh; run with --features system-tests"
)]
fn wrapping_and_refusals_match_virsh_on_the_test_driver() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; comparison skipped");
        return;
    }
    let cases: &[&[&str]] = &[
        &["qemu-monitor-command test info status"],
        &["qemu-monitor-command test x 1"],
        &["qemu-monitor-command test x true"],
        &["qemu-monitor-command test x '{'"],
        &[r#"qemu-monitor-command test x '"a"'"#],
        &[r#"qemu-monitor-command test x '"a":1' '"b"'"#],
        &[r#"qemu-monitor-command test x '"a":'"#],
        &[r#"qemu-monitor-command test x a '"b"'"#],
        &["qemu-monitor-command test x abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"],
        &[r#"qemu-monitor-command test block_resize '"device":"x"' '"size":1'"#],
        &[r#"qemu-monitor-command test '{"execute":"query-status"}'"#],
        &["qemu-monitor-command test query-status"],
        &["qemu-monitor-command test --hmp --return-value x"],
        &["qemu-monitor-command test --pass-fds a '{}'"],
        &["qemu-monitor-command test --pass-fds '' query-status"],
        &["qemu-monitor-command nosuch --pass-fds a x"],
        &["-r", "qemu-monitor-command test query-status"],
        &["-r", "qemu-monitor-event --timeout 1"],
        &["qemu-monitor-event --regex --event '(' --timeout 1"],
        &["qemu-monitor-event test --event STOP --timeout 1 --loop --pretty --no-case --timestamp"],
        &["qemu-monitor-event --timeout 2147484"],
        &["qemu-monitor-event --timeout -1"],
        &["qemu-monitor-event --domain nosuch"],
    ];
    let ours = workspace_bin("virt");
    let mut failures = Vec::new();
    for c in cases {
        let theirs = virt_tests::virsh::run("test:///default", c);
        let mine = virt_tests::virsh::run_bounded(
            Path::new(&ours),
            "test:///default",
            c,
            Duration::from_secs(60),
        )
        .unwrap_or_else(|| panic!("virt {c:?} hung"));
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
        assert_ne!(mine.2, 0, "{c:?}: the test driver has neither call");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
