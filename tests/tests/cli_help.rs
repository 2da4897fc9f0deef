//! `virt help`, `virt -v` and the bash completion in deploy/bash-completion/virt, run as a
//! user runs them: the real binary, and bash sourcing the completion script with the line
//! typed so far. None needs a daemon (help needs no connection; domain names come from the
//! embedded test driver).

use std::path::PathBuf;
use std::process::Command;

use virt_tests::workspace_bin;

fn virt(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(workspace_bin("virt"))
        .args(args)
        .output()
        .expect("run virt");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn help_lists_groups_commands_and_pages_without_a_connection() {
    // A URI no daemon serves: help must not connect.
    let (out, err, rc) = virt(&["-c", "qemu+unix:///system?socket=/nonexistent", "help"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with("Grouped commands:\n\n Domain Management (help keyword 'domain'):\n"));
    assert!(
        out.contains("\n    dominfo                        domain information\n"),
        "{out}"
    );
    assert!(
        out.ends_with("\n\n\n"),
        "virsh's closing blank lines: {out:?}"
    );
    let (out, _, rc) = virt(&["help", "monitor"]);
    assert_eq!(rc, 0);
    assert!(
        out.starts_with(" Domain Monitoring (help keyword 'monitor'):\n"),
        "{out}"
    );
    let (out, _, rc) = virt(&["help", "--command", "setmem"]);
    assert_eq!(rc, 0);
    assert!(
        out.contains("  SYNOPSIS\n    setmem <domain> <size> "),
        "{out}"
    );
    assert!(
        out.contains("    [--domain] <string>  domain name, id or uuid\n"),
        "{out}"
    );
    let (out, err, rc) = virt(&["help", "no-such-thing"]);
    assert_eq!((out.as_str(), rc), ("", 1));
    assert_eq!(
        err,
        "error: command or command group 'no-such-thing' doesn't exist\n"
    );
    assert_eq!(virt(&["-v"]).0, "9.0.0\n");
    assert_eq!(virt(&["--version"]).0, "9.0.0\n");
    assert!(virt(&["-V"])
        .0
        .starts_with("Virt command line tool of libvirt 9.0.0\n"));
}

/// What the completion offers for a line typed so far (words; the last is being typed).
fn complete(words: &[&str]) -> Vec<String> {
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "deploy",
        "bash-completion",
        "virt",
    ]
    .iter()
    .collect();
    let bin_dir = workspace_bin("virt")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let body = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n_virt\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" ")
    );
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &body])
        .env("PATH", path)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_options_groups_and_domains() {
    let domi = complete(&["virt", "domi"]);
    assert!(domi.iter().any(|c| c == "dominfo"), "{domi:?}");
    assert!(domi.iter().all(|c| c.starts_with("domi")), "{domi:?}");
    assert_eq!(
        complete(&["virt", "setmem", "--c"]),
        ["--config", "--current"]
    );
    assert_eq!(complete(&["virt", "help", "netw"]), ["network"]);
    assert_eq!(
        complete(&["virt", "-c", "test:///default", "dominfo", ""]),
        ["test"]
    );
    assert_eq!(complete(&["virt", "-c", "te"]), ["test:///default"]);
    assert!(complete(&["virt", "no-such-command", ""]).is_empty());
}
