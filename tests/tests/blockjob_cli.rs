//! `virt blockpull`, `blockcommit`, `blockcopy`, `blockjob`, `blockresize` against
//! `virsh -c test:///default` (libvirt 9.0's test driver, which has no block job API: every
//! call ends in its unsupported-function error, so what is compared is the option handling
//! virsh does before and around the call, the API each option set picks, and the
//! `--print-xml` output): standard output, standard error and exit status of the same command
//! strings, each on a fresh connection. Needs `virsh`; without it the test prints a notice and
//! passes, unless VIRT_REQUIRE_VIRSH is set. Nothing here derives from the clock.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

fn run(bin: &Path, args: &[&str]) -> (String, String, i32) {
    let o = Command::new(bin)
        .arg("-c")
        .arg("test:///default")
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .output()
        .expect("run");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn block_job_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; block job comparison skipped");
        return;
    }
    let xml = std::env::temp_dir().join(format!("blockjob-cli-{}.xml", std::process::id()));
    std::fs::write(&xml, "<disk type='file'><source file='/q.img'/></disk>\n").expect("xml");
    let copy_xml = format!("blockcopy test vda --xml {} --print-xml", xml.display());
    let ours = workspace_bin("virt");
    let mut commands = vec![
        // blockpull: virDomainBlockPull, or BlockRebase with --base / --keep-relative.
        "blockpull test vda",
        "blockpull --domain test --path vda",
        "blockpull test vda --bandwidth 10",
        "blockpull test vda --bandwidth 10M",
        "blockpull test vda --bandwidth -1",
        "blockpull test vda --bandwidth 10 --bytes",
        "blockpull test vda --bandwidth abc",
        "blockpull test vda --base /x",
        "blockpull test vda --keep-relative",
        "blockpull test vda --wait",
        "blockpull test vda --wait --verbose --timeout 5",
        "blockpull test vda --verbose",
        "blockpull test vda --async",
        "blockpull test vda --wait --timeout 0",
        "blockpull test vda --wait --timeout abc",
        "blockpull nosuch vda",
        // blockcommit.
        "blockcommit test vda",
        "blockcommit test vda --active",
        "blockcommit test vda --active --pivot",
        "blockcommit test vda --pivot --keep-overlay",
        "blockcommit test vda --wait --verbose",
        "blockcommit test vda --verbose",
        "blockcommit test vda --async",
        "blockcommit test vda --timeout 0",
        "blockcommit test vda --timeout abc",
        "blockcommit test vda --bandwidth abc",
        "blockcommit test vda --base /a --top /b --shallow --delete --keep-relative --bytes",
        "blockcommit nosuch vda",
        // blockcopy: BlockRebase for a plain copy, BlockCopy otherwise, --print-xml.
        "blockcopy test vda /x",
        "blockcopy test vda --dest /x",
        "blockcopy test vda",
        "blockcopy test vda --dest /x --xml /y",
        "blockcopy test vda /x --format qcow2 --xml /y",
        "blockcopy test vda /x --blockdev --xml /y",
        "blockcopy test vda /x --pivot --finish",
        "blockcopy test vda /x --verbose",
        "blockcopy test vda /x --async",
        "blockcopy test vda /x --pivot",
        "blockcopy test vda /x --format raw",
        "blockcopy test vda /x --format qcow2",
        "blockcopy test vda /x --transient-job",
        "blockcopy test vda /x --synchronous-writes",
        "blockcopy test vda /x --granularity 4096",
        "blockcopy test vda /x --granularity abc",
        "blockcopy test vda /x --buf-size abc",
        "blockcopy test vda /x --bandwidth 5 --format qcow2",
        "blockcopy test vda /x --print-xml",
        "blockcopy test vda /x --format qcow2 --print-xml",
        "blockcopy test vda /x --blockdev --format raw --print-xml",
        "blockcopy test vda '/x&<y>' --print-xml",
        "blockcopy test vda --xml /nonexistent/file.xml",
        "blockcopy nosuch vda /x --print-xml",
        // blockjob.
        "blockjob test vda",
        "blockjob test vda --info",
        "blockjob test vda --raw",
        "blockjob test vda --bytes",
        "blockjob test vda --abort",
        "blockjob test vda --async",
        "blockjob test vda --pivot",
        "blockjob test vda --bandwidth 10",
        "blockjob test vda --bandwidth 10 --bytes",
        "blockjob test vda --bandwidth abc",
        "blockjob test vda --raw --abort",
        "blockjob test vda --raw --pivot",
        "blockjob test vda --raw --bandwidth 1",
        "blockjob test vda --info --abort",
        "blockjob test vda --info --async",
        "blockjob test vda --bytes --abort",
        "blockjob test vda --bytes --pivot",
        "blockjob nosuch vda",
        // blockresize.
        "blockresize test vda 10",
        "blockresize test vda 10M",
        "blockresize test vda 1000b",
        "blockresize --domain test --path vda --size 1G",
        "blockresize test vda abc",
        "blockresize test vda 10x",
        "blockresize test vda -5",
        "blockresize nosuch vda 10",
    ];
    commands.push(&copy_xml);
    let mut failures = Vec::new();
    for c in &commands {
        let theirs = run(Path::new("virsh"), &[c]);
        let mine = run(&ours, &[c]);
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    // Read-only connections: only the job query is allowed.
    for c in [
        "blockjob test vda",
        "blockjob test vda --abort",
        "blockjob test vda --bandwidth 1",
        "blockpull test vda",
        "blockcommit test vda",
        "blockcopy test vda /x",
        "blockcopy test vda /x --format qcow2",
        "blockresize test vda 1M",
    ] {
        let theirs = run(Path::new("virsh"), &["-r", c]);
        let mine = run(&ours, &["-r", c]);
        if theirs != mine {
            failures.push(format!(
                "command -r {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    let _ = std::fs::remove_file(&xml);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn argument_errors_fail_before_any_call() {
    let ours = workspace_bin("virt");
    for args in [
        &["blockjob", "test"][..],
        &["blockresize", "test", "vda"],
        &["blockpull"],
        &["blockcommit", "test", "vda", "--bogus"],
        &["blockcopy", "test", "vda", "/x", "extra"],
    ] {
        let (out, err, code) = run(&ours, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
}
