//! The guest agent commands libvirt 9.0's test driver serves (`domfsinfo`, `domfstrim`,
//! `set-user-password`), against `virsh -c test:///default`: standard output, standard error
//! and exit status of the same command strings must be equal, each string on a fresh
//! connection. Needs `virsh`; without it the test prints a notice and passes, unless
//! VIRT_REQUIRE_VIRSH is set.

use std::path::Path;
use std::time::Duration;

use virt_tests::workspace_bin;

#[test]
fn agent_commands_match_virsh() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; comparison skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // A guest whose first disk (`device='disk'`) is the second one: the test driver's file
    // systems live on it. A guest without disks has no file systems.
    let two = dir.path().join("two.xml");
    std::fs::write(
        &two,
        "<domain type='test'><name>two</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices><disk type='file' device='cdrom'><source file='/x.iso'/>\
         <target dev='hdc' bus='ide'/></disk><disk type='file' device='disk'>\
         <source file='/a'/><target dev='sdb' bus='scsi'/></disk>\
         <disk type='file' device='disk'><source file='/b'/><target dev='vdc' bus='virtio'/>\
         </disk></devices></domain>",
    )
    .expect("write");
    let bare = dir.path().join("bare.xml");
    std::fs::write(
        &bare,
        "<domain type='test'><name>bare</name><memory>1024</memory><os><type>hvm</type></os>\
         </domain>",
    )
    .expect("write");
    let (two, bare) = (two.display(), bare.display());
    let commands = [
        "domfsinfo test".to_string(),
        "domfsinfo --domain test".into(),
        "domfsinfo nosuch".into(),
        "destroy test; domfsinfo test".into(),
        format!("create {two}; domfsinfo two"),
        format!("create {bare}; domfsinfo bare"),
        "domfstrim test".into(),
        "domfstrim test --minimum 4096".into(),
        "domfstrim test --minimum 0 --mountpoint /".into(),
        "domfstrim test --minimum -1".into(),
        "domfstrim test --minimum abc".into(),
        "domfstrim nosuch --minimum abc".into(),
        "destroy test; domfstrim test".into(),
        "set-user-password test root s3cret".into(),
        "set-user-password test --user admin --password x --encrypted".into(),
        "set-user-password test root".into(),
        "set-user-password test".into(),
        "set-user-password nosuch root x".into(),
        "destroy test; set-user-password test root x".into(),
        "set-user-password test root x; domfsinfo test; domfstrim test".into(),
    ];
    let ours = workspace_bin("virt");
    let mut failures = Vec::new();
    for c in &commands {
        let theirs = virt_tests::virsh::run("test:///default", &[c]);
        let mine = virt_tests::virsh::run_bounded(
            Path::new(&ours),
            "test:///default",
            &[c],
            Duration::from_secs(60),
        )
        .unwrap_or_else(|| panic!("virt {c} hung"));
        if theirs != mine {
            failures.push(format!(
                "command {c:?}\n--- virsh ---\n{}{}exit {}\n--- virt ---\n{}{}exit {}",
                theirs.0, theirs.1, theirs.2, mine.0, mine.1, mine.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The comparisons above are not all failures: the file systems are really listed.
    let (out, _, rc) = virt_tests::virsh::run_bounded(
        Path::new(&ours),
        "test:///default",
        &["domfsinfo test"],
        Duration::from_secs(60),
    )
    .expect("domfsinfo ran");
    assert_eq!(rc, 0);
    assert!(out.contains(" /boot        vda2   ext4   vda"), "{out}");
}
