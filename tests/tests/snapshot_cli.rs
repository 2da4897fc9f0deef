//! The Snapshot group (`snapshot-create`, `-create-as`, `-current`, `-delete`, `-dumpxml`,
//! `-edit`, `-info`, `-list`, `-parent`, `-revert`) against `virsh -c test:///default` (libvirt
//! 9.0's test driver): standard output, standard error and exit status of the same command
//! strings. Each string is one connection (commands separated by `;`), so a snapshot tree built
//! at its start is there for the commands after. Creation times come from the clock: the
//! `<creationTime>` values and the names generated from them (runs of nine or more digits) are
//! compared as `N`, and the table's `YYYY-MM-DD HH:MM:SS` as `DATE`. Needs `virsh`; without it
//! the test prints a notice and passes, unless VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

/// `YYYY-MM-DD HH:MM:SS` as `DATE`, then digit runs of nine or more as `N`.
fn mask(s: &str) -> String {
    let b = s.as_bytes();
    let is_date = |i: usize| {
        i + 19 <= b.len()
            && b[i..i + 19].iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    };
    let mut dated = String::new();
    let mut i = 0;
    while i < b.len() {
        if is_date(i) {
            dated.push_str("DATE");
            i += 19;
        } else {
            let c = s[i..].chars().next().expect("char");
            dated.push(c);
            i += c.len_utf8();
        }
    }
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 9 {
            out.push('N');
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in dated.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

fn run(bin: &Path, args: &[&str], editor: &str) -> (String, String, i32) {
    let o = Command::new(bin)
        .arg("-c")
        .arg("test:///default")
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("VISUAL")
        .env("EDITOR", editor)
        .output()
        .expect("run");
    (
        mask(&String::from_utf8_lossy(&o.stdout)),
        mask(&String::from_utf8_lossy(&o.stderr)),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn mask_hides_dates_and_long_numbers() {
    assert_eq!(
        mask(" s1   2026-12-06 15:34:11 +0000   running\n<creationTime>1796571251</creationTime>"),
        " s1   DATE +0000   running\n<creationTime>N</creationTime>"
    );
    assert_eq!(mask("Children: 2"), "Children: 2");
}

/// A tree: s1 -> s2 -> s3, and s1 -> s4 (current).
const TREE: &str = "snapshot-create-as test s1 --description 'first one'; \
    snapshot-create-as test s2; snapshot-create-as test s3; snapshot-revert test s1; \
    snapshot-create-as test s4";

#[test]
fn snapshot_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; snapshot comparison skipped");
        return;
    }
    let ours = workspace_bin("virt");
    let dir = std::env::temp_dir().join(format!("snapshot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // An editor that adds a description, one that renames s1 to s9, and one that fails.
    let describe = dir.join("describe.sh");
    std::fs::write(
        &describe,
        "#!/bin/sh\nsed -i 's|first one|edited|' \"$1\"\n",
    )
    .expect("write");
    let rename = dir.join("rename.sh");
    std::fs::write(
        &rename,
        "#!/bin/sh\nsed -i 's|<name>s1</name>|<name>s9</name>|' \"$1\"\n",
    )
    .expect("write");
    for f in [&describe, &rename] {
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(f)
            .status()
            .expect("chmod");
    }
    let xmlfile = dir.join("snap.xml");
    std::fs::write(
        &xmlfile,
        "<domainsnapshot><name>fromfile</name><description>d</description></domainsnapshot>\n",
    )
    .expect("write");
    let xf = xmlfile.display().to_string();
    let with_tree = |rest: &str| format!("{TREE}; {rest}");
    let mut commands: Vec<(String, String)> = vec![];
    let plain = |c: String| (c, "true".to_string());
    for c in [
        // Empty list, creation, generated names, --print-xml, duplicates.
        "snapshot-list test".to_string(),
        "snapshot-create test; snapshot-list test --name".into(),
        "snapshot-create-as test; snapshot-current test --name".into(),
        "snapshot-create-as test s1 --description 'a<b&c'; snapshot-dumpxml test s1".into(),
        "snapshot-create-as test --name s1; snapshot-info test s1".into(),
        "snapshot-create-as test s1 --print-xml --description 'x\"y'; snapshot-list test".into(),
        "snapshot-create-as test --print-xml".into(),
        "snapshot-create-as test s1; snapshot-create-as test s1".into(),
        format!("snapshot-create test --xmlfile {xf}; snapshot-info test --current"),
        "snapshot-create test --xmlfile /nonexistent/x.xml".into(),
        "snapshot-create-as test s1 --halt; domstate test; snapshot-list test --inactive".into(),
        "destroy test; snapshot-create-as test off; snapshot-dumpxml test off; \
         snapshot-list test --inactive; snapshot-list test --active"
            .into(),
        "snapshot-create-as test s1 --disk-only".into(),
        "snapshot-create-as test s1 --live".into(),
        "snapshot-create-as test s1 --quiesce; snapshot-create-as test s2 --atomic --validate".into(),
        "snapshot-create-as test s1 --no-metadata".into(),
        "snapshot-create-as test s1 --reuse-external".into(),
        "snapshot-create test --current".into(),
        "snapshot-create-as nosuch s1".into(),
        // Listings of a tree.
        with_tree("snapshot-list test; snapshot-list test --parent; snapshot-list test --tree"),
        with_tree("snapshot-list test --name; snapshot-list test --roots"),
        with_tree("snapshot-list test --leaves; snapshot-list test --no-leaves"),
        with_tree("snapshot-list test --leaves --no-leaves"),
        with_tree("snapshot-list test --from s1; snapshot-list test --from s1 --descendants"),
        with_tree("snapshot-list test --from s2 --tree; snapshot-list test --from s1 --name"),
        with_tree("snapshot-list test --current; snapshot-list test --current --descendants"),
        with_tree("snapshot-list test --topological; snapshot-list test --topological --name"),
        with_tree("snapshot-list test --metadata; snapshot-list test --no-metadata"),
        with_tree("snapshot-list test --metadata --no-metadata"),
        with_tree("snapshot-list test --internal; snapshot-list test --external"),
        with_tree("snapshot-list test --active; snapshot-list test --inactive"),
        with_tree("snapshot-list test --disk-only; snapshot-list test --active --inactive"),
        with_tree("snapshot-list test --from nosuch"),
        with_tree("snapshot-list test --roots --from s1"),
        with_tree("snapshot-list test --current --from s1"),
        with_tree("snapshot-list test --parent --roots"),
        with_tree("snapshot-list test --parent --tree"),
        with_tree("snapshot-list test --tree --name"),
        with_tree("snapshot-list test --roots --tree"),
        "snapshot-list test --tree; snapshot-list test --name".into(),
        "snapshot-list test --current".into(),
        "snapshot-list nosuch".into(),
        // Info, parent, current, dumpxml.
        with_tree("snapshot-info test s1; snapshot-info test --current"),
        with_tree("snapshot-info test --snapshotname s2; snapshot-info --domain test --current"),
        with_tree("snapshot-info test; snapshot-info test s1 --current"),
        with_tree("snapshot-info test nosuch"),
        "snapshot-info test --current".into(),
        with_tree("snapshot-parent test s2; snapshot-parent test --current"),
        with_tree("snapshot-parent test s1"),
        with_tree("snapshot-parent test"),
        "snapshot-parent test --current".into(),
        with_tree("snapshot-current test --name; snapshot-current test"),
        with_tree("snapshot-current test --security-info"),
        with_tree("snapshot-current test --snapshotname s2; snapshot-current test --name"),
        with_tree("snapshot-current test --snapshotname nosuch"),
        "snapshot-current test".into(),
        "snapshot-current test --name".into(),
        with_tree("snapshot-dumpxml test s1; snapshot-dumpxml test --snapshotname s3"),
        with_tree("snapshot-dumpxml test s2 --security-info"),
        with_tree("snapshot-dumpxml test nosuch"),
        "snapshot-dumpxml nosuch s1".into(),
        // Revert: states, flags, errors.
        with_tree("snapshot-revert test s2; snapshot-current test --name; domstate test"),
        with_tree("snapshot-revert test --current; domstate test"),
        with_tree("snapshot-revert test s1 --paused; domstate test"),
        with_tree("snapshot-revert test s1 --running --paused"),
        with_tree("snapshot-revert test"),
        with_tree("snapshot-revert test nosuch"),
        "destroy test; snapshot-create-as test off; start test; snapshot-revert test off; \
         domstate test"
            .into(),
        "snapshot-revert test --current".into(),
        // Delete: alone, children, children only, metadata, current.
        with_tree("snapshot-delete test s2; snapshot-list test --parent"),
        with_tree("snapshot-delete test s1 --children; snapshot-list test --name"),
        with_tree("snapshot-delete test s1 --children-only; snapshot-list test --parent"),
        with_tree("snapshot-delete test s3 --metadata; snapshot-list test --name"),
        with_tree(
            "snapshot-delete test --current; snapshot-current test --name; snapshot-list test --tree",
        ),
        with_tree("snapshot-delete test s1; snapshot-list test --tree"),
        with_tree("snapshot-delete test; snapshot-delete test nosuch"),
        "snapshot-delete test --current".into(),
        // snapshot-edit, editor unchanged.
        with_tree("snapshot-edit test s1; snapshot-edit test --current"),
        with_tree("snapshot-edit test; snapshot-edit test nosuch"),
        "snapshot-edit test --current".into(),
    ] {
        commands.push(plain(c));
    }
    let describe = describe.display().to_string();
    let rename = rename.display().to_string();
    for (c, editor) in [
        (
            with_tree("snapshot-edit test s1; snapshot-info test s1; snapshot-dumpxml test s1"),
            &describe,
        ),
        (
            with_tree("snapshot-edit test s1 --current; snapshot-current test --name"),
            &describe,
        ),
        (with_tree("snapshot-edit test s1"), &rename),
        (
            with_tree("snapshot-edit test s1 --clone; snapshot-list test --parent"),
            &rename,
        ),
        (
            with_tree("snapshot-edit test s1 --rename; snapshot-list test --parent"),
            &rename,
        ),
        (with_tree("snapshot-edit test s1 --rename --clone"), &rename),
    ] {
        commands.push((c, editor.clone()));
    }
    let mut failures = Vec::new();
    for (c, editor) in &commands {
        let theirs = run(Path::new("virsh"), &[c], editor);
        let mine = run(&ours, &[c], editor);
        if theirs != mine {
            failures.push(format!(
                "command {c:?} (EDITOR={editor})\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    // Read-only: listings and XML allowed, changes refused.
    for c in [
        "snapshot-list test",
        "snapshot-create-as test s1",
        "snapshot-current test",
    ] {
        let theirs = run(Path::new("virsh"), &["-r", c], "true");
        let mine = run(&ours, &["-r", c], "true");
        if theirs != mine {
            failures.push(format!(
                "command -r {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
