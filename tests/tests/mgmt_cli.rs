//! The rest of Domain Management (issue 15) against `virsh -c test:///default` (libvirt 9.0's
//! test driver): `desc`, `metadata`, `domrename`, `edit`, `managedsave-remove` /
//! `-dumpxml` / `-define` / `-edit`, `save-image-dumpxml` / `-define` / `-edit`, `dump`,
//! `domblkinfo`, `dommemstat`. Standard output, standard error and exit status of the same
//! command strings must be equal, each string on a fresh connection. Nothing here is
//! clock-derived except `dominfo`'s CPU time, which no string below prints.
//! virsh 9.0's `dump` runs the call in a job thread that now and then never returns against
//! the test driver (always, it seems, when the call fails in the driver); its runs are retried
//! under a timeout, and the failures it never returns from are checked on our side only, with
//! the lines virsh printed when it did return (`dump_failures_as_libvirt_reports_them`). Needs `virsh`; without it the test
//! prints a notice and passes, unless VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::process::Command;

use virt_tests::workspace_bin;

/// Runs `bin -c test:///default ARGS` under `timeout`, with `env` set; exit 124 is a hang.
fn run(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String, i32) {
    let mut cmd = Command::new("timeout");
    cmd.arg("15")
        .arg(bin)
        .arg("-c")
        .arg("test:///default")
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("VISUAL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// virsh's answer, retried while its dump job thread hangs.
fn virsh(args: &[&str], env: &[(&str, &str)]) -> (String, String, i32) {
    let mut last = run(Path::new("virsh"), args, env);
    // As many attempts as tests/src/virsh.rs makes: on a loaded machine the hang is common.
    for _ in 0..5 {
        if last.2 != 124 {
            break;
        }
        last = run(Path::new("virsh"), args, env);
    }
    last
}

/// A scratch directory with the files the command strings name: `new.xml` (the test domain
/// with a description), `other.xml` (a second domain) and editor scripts.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        std::fs::write(
            p.join("new.xml"),
            "<domain type='test'>\n  <name>test</name>\n  \
             <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n  \
             <description>edited</description>\n  <memory unit='KiB'>8388608</memory>\n  \
             <vcpu>2</vcpu>\n  <os><type arch='i686'>hvm</type></os>\n</domain>\n",
        )
        .expect("write");
        std::fs::write(
            p.join("other.xml"),
            "<domain type='test'><name>other</name><memory>1024</memory>\
             <os><type>hvm</type></os></domain>\n",
        )
        .expect("write");
        // Adds a description after <name>.
        script(
            p,
            "ed-desc.sh",
            "sed -i 's|<name>test</name>|<name>test</name><description>ed</description>|' \"$1\"",
        );
        // Replaces the whole text (a description or a metadata element).
        script(p, "ed-text.sh", "printf 'from the editor' > \"$1\"");
        script(p, "ed-meta.sh", "printf '<edited/>' > \"$1\"");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }
}

fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// One comparison: virt's arguments and the environment to set.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

fn compare(ours: &Path, cases: &[Case<'_>], scratch: &Scratch) -> Vec<String> {
    let mut failures = Vec::new();
    for (args, env) in cases {
        // Each side gets a clean scratch image and dump file.
        let reset = || {
            let _ = std::fs::remove_file(scratch.path("s.img"));
            let _ = std::fs::remove_file(scratch.path("core"));
        };
        reset();
        let theirs = virsh(args, env);
        reset();
        let mine = run(ours, args, env);
        if theirs != mine {
            failures.push(format!(
                "command {args:?} env {env:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    failures
}

#[test]
fn domain_management_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; domain management comparison skipped");
        return;
    }
    let ours = workspace_bin("virt");
    let s = Scratch::new();
    let (new, other, img, core) = (
        s.path("new.xml"),
        s.path("other.xml"),
        s.path("s.img"),
        s.path("core"),
    );
    let strings: Vec<String> = vec![
        // desc: get, set live / config / title, removal, errors; no closing blank line after
        // a read or an update, as virsh.
        "desc test".into(),
        "desc --domain test --title".into(),
        "desc test --new-desc 'hello world'; desc test; desc test --config; desc test --live".into(),
        "desc test --config --new-desc cfg; desc test --config; desc test".into(),
        "desc test two words; desc test".into(),
        "desc test --title --new-desc T1; desc test --title; list --title".into(),
        "desc test --new-desc x; desc test --new-desc ''; desc test".into(),
        "desc test --title --new-desc 'a\nb'".into(),
        "desc test --current --live".into(),
        "desc test --current --config".into(),
        "desc nosuch".into(),
        "destroy test; desc test --live".into(),
        "destroy test; desc test --new-desc off; desc test; desc test --config".into(),
        format!("create {other}; desc other --config"),
        format!("create {other}; desc other --new-desc t; desc other"),
        // metadata: set with a key, read back without its namespace, the stored form,
        // replace, remove, live / config, errors.
        "metadata test --uri http://e.org/".into(),
        "metadata test http://e.org/ --key e --set '<foo a=\"1\"><bar/></foo>'; metadata test --uri http://e.org/; dumpxml test; metadata test http://e.org/ --remove; metadata test http://e.org/".into(),
        "metadata test --uri http://e.org/ --key e --set '<foo xmlns:o=\"http://o/\" a=\"1\">txt<o:x/><bar>t2</bar></foo>'; metadata test --uri http://e.org/; dumpxml test --inactive".into(),
        "metadata test --uri http://e.org/ --key e --set '<a/>'; metadata test --uri http://e.org/ --key f --set '<z/>'; metadata test --uri http://x/ --key x --set '<y/>'; dumpxml test".into(),
        "metadata test --uri http://e.org/ --key e --set '<a/>' --config; metadata test --uri http://e.org/ --config; metadata test --uri http://e.org/ --live".into(),
        "metadata test --uri http://e.org/ --key e --set '<a/>' --live --config; metadata test --uri http://e.org/ --config".into(),
        "metadata test --uri http://e.org/ --set '<z/>'".into(),
        "metadata test --uri http://e.org/ --key 'a b' --set '<z/>'".into(),
        "metadata test --uri http://e.org/ --key e --remove --set '<z/>'".into(),
        "metadata test --uri http://e.org/ --remove".into(),
        "metadata test --uri http://e.org/ --current --live".into(),
        "metadata nosuch --uri http://e.org/".into(),
        "destroy test; metadata test --uri http://e.org/ --key e --set '<a/>'; metadata test --uri http://e.org/; metadata test --uri http://e.org/ --live".into(),
        // domrename: only inactive persistent domains, not to itself or a taken name.
        "domrename test t2".into(),
        "destroy test; domrename test test; domrename test t2; domrename --domain t2 --new-name 'a b'; list --all".into(),
        format!("destroy test; define {other}; domrename test other"),
        format!("create {other}; domrename other x"),
        "destroy test; domrename 6695eb01-f6a4-8304-79aa-97f2502e193f byuuid; list --all".into(),
        "domrename nosuch x".into(),
        "destroy test; managedsave-remove test; start test; managedsave test; domrename test zz; list --all --managed-save".into(),
        // managed save: remove with and without an image (no closing blank line); the
        // managed-save XML calls libvirt's test driver lacks.
        "managedsave-remove test".into(),
        "managedsave test; managedsave-remove test; managedsave-remove test; list --all --managed-save".into(),
        "managedsave-remove nosuch".into(),
        "managedsave-dumpxml test".into(),
        "managedsave-dumpxml test --security-info".into(),
        format!("managedsave-define test {new}"),
        "managedsave-define test /nonexistent.xml".into(),
        format!("managedsave-define test {new} --running --paused"),
        "managedsave-edit test".into(),
        "managedsave-edit nosuch".into(),
        // save images: read, replace, restore the replaced definition, errors.
        format!("save test {img}; save-image-dumpxml {img}; save-image-define {img} {new}; save-image-dumpxml --file {img} --security-info; restore {img}; desc test"),
        format!("save test {img}; save-image-define {img} {other}; restore {img}; list --all"),
        format!("save-image-define /nonexistent.img {new}"),
        format!("save test {img}; save-image-define {img} /nonexistent.xml"),
        "save-image-dumpxml /nonexistent.img".into(),
        format!("save-image-dumpxml {new}"),
        "save-image-edit /nonexistent.img".into(),
        // dump: raw core of a running domain, --crash stops it, format rules, errors.
        format!("dump test {core}"),
        format!("dump test {core} --memory-only --format foo"),
        format!("dump test {core} --format elf"),
        format!("dump test {core} --crash --reset"),
        format!("dump --domain test --file {core} --crash; list --all"),
        format!("dump nosuch {core}"),
        // domblkinfo: by target and source, human sizes, the table, errors.
        "domblkinfo test vda; domblkinfo test /guest/diskimage1; domblkinfo test vda --human; domblkinfo test --device vda".into(),
        "domblkinfo test --all; domblkinfo test --all --human".into(),
        "domblkinfo test vdb".into(),
        "domblkinfo test".into(),
        "domblkinfo nosuch vda".into(),
        "destroy test; domblkinfo test vda; domblkinfo test --all".into(),
        // dommemstat: the balloon statistics of a running domain; errors.
        "dommemstat test; dommemstat test --live; dommemstat test --config".into(),
        "setmem test 1000000; dommemstat test".into(),
        "dommemstat test --current --config".into(),
        "dommemstat test --current --live".into(),
        "destroy test; dommemstat test".into(),
        "dommemstat nosuch".into(),
    ];
    let mut cases: Vec<Case<'_>> = strings.iter().map(|c| (vec![c.as_str()], vec![])).collect();
    // Read-only: the readers work, the writers are refused.
    let ro = [
        "desc test",
        "desc test --new-desc x",
        "metadata test --uri http://e.org/",
        "metadata test --uri http://e.org/ --key e --set '<a/>'",
        "domrename test x",
        "domblkinfo test vda",
        "dommemstat test",
    ];
    for c in ro {
        cases.push((vec!["-r", c], vec![]));
    }
    // The editor: unchanged, changed, and the description editor.
    let ed_desc = s.path("ed-desc.sh");
    let ed_text = s.path("ed-text.sh");
    for (c, editor) in [
        ("edit test", "true"),
        ("edit test; desc test --config; desc test", ed_desc.as_str()),
        ("destroy test; edit test; desc test", ed_desc.as_str()),
        ("edit nosuch", "true"),
        ("desc test --edit", "true"),
        ("desc test --edit; desc test", ed_text.as_str()),
        (
            "desc test --title --edit; desc test --title",
            ed_text.as_str(),
        ),
    ] {
        cases.push((vec![c], vec![("EDITOR", editor)]));
    }
    let failures = compare(&ours, &cases, &s);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn edits_save_images_and_metadata_in_the_editor() {
    // save-image-edit and metadata --edit: virsh's test driver run loses its save image
    // between connections, so these are checked on our side: the edited XML is stored.
    let ours = workspace_bin("virt");
    let s = Scratch::new();
    let img = s.path("s.img");
    let ed_desc = s.path("ed-desc.sh");
    let (out, err, code) = run(
        &ours,
        &[&format!(
            "save test {img}; save-image-edit {img}; save-image-dumpxml {img}"
        )],
        &[("EDITOR", &ed_desc)],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("State file {img} edited.")), "{out}");
    assert!(out.contains("<description>ed</description>"), "{out}");
    // Edited again, the second description is refused; without a terminal that ends it.
    let (_, err, code) = run(
        &ours,
        &[&format!(
            "save test {img}; save-image-edit {img}; save-image-edit {img}"
        )],
        &[("EDITOR", &ed_desc)],
    );
    assert_eq!(code, 1);
    assert!(err.contains("duplicate element"), "{err}");
    let (out, err, code) = run(
        &ours,
        &[&format!("save test {img}; save-image-edit {img}")],
        &[("EDITOR", "true")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("Saved image {img} XML configuration not changed.")),
        "{out}"
    );
    let ed_meta = s.path("ed-meta.sh");
    let (out, err, code) = run(
        &ours,
        &["metadata test http://e.org/ --key e --edit; metadata test http://e.org/"],
        &[("EDITOR", &ed_meta)],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Metadata modified\n\n<edited/>\n\n", "{err}");
    // Without a terminal there is nobody to ask whether to edit again: the refusal ends it.
    let (_, err, code) = run(
        &ours,
        &["metadata test http://e.org/ --key e --edit"],
        &[("EDITOR", &s.path("ed-text.sh"))],
    );
    assert_eq!(code, 1);
    assert!(err.starts_with("error: "), "{err}");
}

#[test]
fn dump_failures_as_libvirt_reports_them() {
    let ours = workspace_bin("virt");
    let s = Scratch::new();
    let core = s.path("core");
    for (c, err) in [
        (
            format!("dump test {core} --memory-only"),
            format!(
                "error: Failed to core dump domain 'test' to {core}\n\
                 error: unsupported flags (0x10) in function testDomainCoreDumpWithFormat\n"
            ),
        ),
        (
            format!("dump test {core} --crash; dump test {core}"),
            format!(
                "error: Failed to core dump domain 'test' to {core}\n\
                 error: Requested operation is not valid: domain is not running\n"
            ),
        ),
        (
            "dump test /nonexistent/dir/core".to_string(),
            "error: Failed to core dump domain 'test' to /nonexistent/dir/core\n\
             error: domain 'test' coredump: failed to open /nonexistent/dir/core: \
             No such file or directory\n"
                .to_string(),
        ),
    ] {
        let (_, e, code) = run(&ours, &[&c], &[]);
        assert_eq!(code, 1, "{c}: {e}");
        assert_eq!(e, err, "{c}");
    }
    // A raw dump writes the file.
    let (_, e, code) = run(&ours, &[&format!("dump test {core}")], &[]);
    assert_eq!(code, 0, "{e}");
    assert!(std::fs::metadata(&core).is_ok_and(|m| m.len() > 0));
}
