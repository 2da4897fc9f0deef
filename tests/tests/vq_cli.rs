//! `virt dommemstat --period` (virDomainSetMemoryStatsPeriod) against `virsh -c
//! test:///default` (libvirt 9.0's test driver): standard output, standard error and exit
//! status of the same command strings must be equal, each string on a fresh connection. Nothing
//! printed here is clock-derived. Needs `virsh`; without it the test prints a notice and
//! passes, unless VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

fn run(bin: &Path, args: &[&str]) -> (String, String, i32) {
    let o = Command::new("timeout")
        .arg("15")
        .arg(bin)
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
fn dommemstat_period_matches_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; dommemstat --period comparison skipped");
        return;
    }
    let ours = workspace_bin("virt");
    let dir = tempfile::tempdir().expect("tempdir");
    let noballoon = dir.path().join("noballoon.xml");
    std::fs::write(
        &noballoon,
        "<domain type='test'><name>nb</name><memory>1024</memory>\
         <os><type>hvm</type></os><devices><memballoon model='none'/></devices></domain>\n",
    )
    .expect("write");
    let nb = noballoon.display().to_string();
    let strings = [
        // Live (the running domain's current default), config, both, and their XML.
        "dommemstat test --period 5; dumpxml test".to_string(),
        "dommemstat test --period 7 --live; dumpxml test; dumpxml test --inactive".into(),
        "dommemstat test --period 9 --config; dumpxml test; dumpxml test --inactive".into(),
        "dommemstat test --period 3 --current; dumpxml test".into(),
        "dommemstat test --period 5; dommemstat test --period 0; dumpxml test".into(),
        "destroy test; dommemstat test --period 4; dumpxml test".into(),
        "destroy test; dommemstat test --period 4 --live".into(),
        // Errors: both definitions at once, bad values, no domain, no balloon.
        "dommemstat test --period 5 --live --config".into(),
        "dommemstat test --period 5 --current --live".into(),
        "dommemstat test --period -1".into(),
        "dommemstat test --period abc".into(),
        "dommemstat test --period 99999999999".into(),
        "dommemstat nosuch --period 2".into(),
        format!("define {nb}; dommemstat nb --period 2"),
    ];
    let mut failures = Vec::new();
    for c in &strings {
        for args in [vec![c.as_str()], vec!["-r", c.as_str()]] {
            let theirs = run(Path::new("virsh"), &args);
            let mine = run(&ours, &args);
            if theirs != mine {
                failures.push(format!(
                    "command {args:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                    theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
