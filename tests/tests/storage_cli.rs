//! The pool-* and vol-* commands of `virt` against the real `virsh -c test:///default`
//! (libvirt 9.0), byte for byte: standard output, standard error and exit status, for every
//! command libvirt's test driver serves. Each case is one command string, so both programs
//! run the whole sequence on one private test:///default state.
//!
//! Needs virsh and `target/debug/virt` (`cargo build -p virt-client --bin virt`); without them
//! the test prints a notice and passes, unless VIRT_REQUIRE_VIRSH is set.
#![cfg(feature = "system-tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VIRSH: &str = "/usr/bin/virsh";

fn virt_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/virt")
}

fn run(program: &Path, script: &str) -> Output {
    Command::new(program)
        .args(["-c", "test:///default", script])
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

fn assert_same(script: &str) {
    let virt = virt_bin();
    if !Path::new(VIRSH).exists() || !virt.exists() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "{VIRSH} and {} are required (VIRT_REQUIRE_VIRSH is set)",
            virt.display()
        );
        eprintln!("notice: virsh or virt missing; skipping the comparison of {script:?}");
        return;
    }
    let ours = run(&virt, script);
    let theirs = run(Path::new(VIRSH), script);
    let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(t(&ours.stdout), t(&theirs.stdout), "stdout of {script:?}");
    assert_eq!(t(&ours.stderr), t(&theirs.stderr), "stderr of {script:?}");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "status of {script:?}"
    );
}

#[test]
fn pool_listing_info_and_xml_match_virsh() {
    assert_same("pool-list");
    assert_same("pool-list --all --details");
    assert_same("pool-list --name --uuid");
    assert_same("pool-list --uuid; pool-list --name; pool-list --inactive; pool-list --type fs");
    assert_same("pool-list --persistent --details; pool-list --transient; pool-list --autostart; pool-list --no-autostart --type dir");
    assert_same("pool-info default-pool; pool-info default-pool --bytes");
    assert_same("pool-info dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566; pool-uuid default-pool; pool-name dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566");
    assert_same("pool-dumpxml default-pool");
    assert_same("pool-dumpxml --inactive default-pool");
}

#[test]
fn pool_lifecycle_matches_virsh() {
    assert_same("pool-refresh default-pool; pool-autostart default-pool; pool-list --autostart; pool-autostart --disable default-pool");
    assert_same("pool-destroy default-pool; pool-info default-pool; pool-list --all; pool-list --inactive --details; pool-start default-pool; pool-info default-pool");
    assert_same("pool-define-as p1 dir --target /tmp/virt-storage-cli-p1 --print-xml; pool-create-as p2 dir --target /x --print-xml");
    assert_same("pool-define-as p1 logical --source-dev /dev/loop9 --source-name vg9 --target /dev/vg9 --print-xml");
    assert_same("pool-define-as p1 fs --source-dev /dev/loop9 --source-format ext4 --target /mnt/x --print-xml");
    assert_same("pool-define-as g dir - - - - /guest --print-xml; pool-define-as g fs host /p /dev/x --print-xml");
    assert_same("pool-define-as p1 dir --target /tmp/virt-storage-cli-p1; pool-list --all; pool-build p1; pool-start p1; pool-list --all; pool-destroy p1; pool-delete p1; pool-undefine p1; pool-list --all");
    assert_same("pool-create-as p2 dir --target /tmp/virt-storage-cli-p2; pool-list --all --details; pool-autostart p2; pool-destroy p2; pool-list --all");
}

#[test]
fn pool_errors_match_virsh() {
    assert_same("pool-info nope");
    assert_same("pool-start default-pool");
    assert_same("pool-undefine default-pool");
    assert_same("pool-build default-pool");
    assert_same("pool-delete default-pool");
    assert_same("pool-define-as p6 dir");
    assert_same("pool-destroy default-pool; pool-refresh default-pool; pool-destroy default-pool; vol-list default-pool");
    assert_same("pool-list --details --name");
}

#[test]
fn volume_commands_match_virsh() {
    assert_same("vol-create-as default-pool v1 1G --format qcow2; vol-list default-pool; vol-list default-pool --details; vol-info --pool default-pool v1; vol-info v1 --pool default-pool --bytes; vol-dumpxml --pool default-pool v1");
    assert_same("vol-create-as default-pool v2 10M --allocation 1M; vol-info /default-pool/v2; pool-info default-pool --bytes; pool-dumpxml default-pool");
    assert_same("vol-create-as default-pool v1 1M; vol-key --pool default-pool v1; vol-path --pool default-pool v1; vol-name /default-pool/v1; vol-pool /default-pool/v1; vol-pool --uuid /default-pool/v1; vol-key /default-pool/v1");
    assert_same("vol-create-as default-pool v1 1M --print-xml --format qcow2 --allocation 0");
    assert_same("vol-create-as default-pool v0 1M; vol-create-as default-pool v1 1M --print-xml --backing-vol v0 --format qcow2; vol-create-as default-pool v1 1M --print-xml --backing-vol /default-pool/v0 --backing-vol-format raw");
    assert_same("vol-create-as default-pool v2 10M; vol-clone --pool default-pool v2 v3; vol-dumpxml --pool default-pool v3; vol-list default-pool --details; vol-delete --pool default-pool v3; vol-delete /default-pool/v2; vol-list default-pool");
    assert_same("vol-create-as default-pool v2 10M; pool-destroy default-pool; pool-start default-pool; vol-list default-pool");
}

#[test]
fn volume_errors_match_virsh() {
    assert_same("vol-info --pool default-pool nope");
    assert_same("vol-info /nope");
    assert_same("vol-name /nope");
    assert_same("vol-create-as default-pool big 200G");
    assert_same("vol-create-as default-pool v1 1x");
    assert_same("vol-create-as default-pool v1 1M --backing-vol /b");
    assert_same("vol-create-as default-pool v2 10M; vol-create-as default-pool v2 10M");
    assert_same("vol-create-as default-pool v1 1M; vol-resize --pool default-pool v1 2M; vol-wipe --pool default-pool v1");
    assert_same("vol-create-as default-pool v1 1M; vol-info v1 --pool nope");
    assert_same("vol-create-as nope v1 1M");
    assert_same(
        "vol-create-as default-pool v1 1M; vol-upload --pool default-pool v1 /etc/hostname",
    );
    assert_same("vol-create-as default-pool v1 1M; vol-download --pool default-pool v1 /tmp/virt-storage-cli-download");
    assert_same("vol-create-as default-pool v1 1M; vol-resize --pool default-pool v1 -1M; vol-resize --pool default-pool v1 1x");
}
