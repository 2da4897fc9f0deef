//! Driver-level tests of the QEMU driver: define/undefine rules and files, list filters,
//! validation, events, the registry's URIs. The daemon-level tests are in
//! tests/tests/virtqemud.rs.

use std::sync::Arc;

use virt_core::driver::prelude::*;
use virt_core::events::lifecycle as lc;
use virt_core::events::EventItem;
use virt_core::proto::domain_event::Payload;
use virt_core::registry::DriverRegistry;
use virt_core::runtime::{Mode, Paths};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

use crate::{registry, QemuDriver};

mod agent_channel;
mod features_guests;
mod firmware_tpm;
mod guests;
mod stats_bench;
mod tuning_guests;

const U1: &str = "11111111-2222-3333-4444-555555555555";
const U2: &str = "66666666-7777-8888-9999-000000000000";

/// An executable stand-in for qemu-system-x86_64, so these tests need no QEMU: [`open`] seeds
/// every driver's probe cache with a fixture for it (KVM and TCG, machines pc and q35).
pub(crate) fn fake_emulator() -> &'static std::path::Path {
    static BIN: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_dir, bin) = BIN.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("fake emulator dir");
        let bin = dir.path().join("qemu-system-x86_64");
        std::fs::write(&bin, b"#!/bin/false\n").expect("fake emulator");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        (dir, bin)
    });
    bin
}

pub(crate) fn xml(name: &str, uuid: &str) -> String {
    format!(
        "<domain type='kvm'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>\
         <devices><emulator>{}</emulator></devices></domain>",
        fake_emulator().display()
    )
}

pub(crate) fn open(root: &std::path::Path, mode: Mode) -> Arc<QemuDriver> {
    let d = QemuDriver::open(
        &Paths::resolve(Some(root), mode),
        Arc::new(virt_xml::LibvirtXml),
    );
    let bin = fake_emulator();
    d.probed
        .seed(bin, crate::define::emulator::fixture_caps(bin, true));
    d
}

fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

async fn lifecycle(sub: &mut virt_core::events::EventSubscription) -> (u64, i32, i32) {
    match sub.next().await {
        Some(EventItem::Event(e)) => match &e.payload {
            Payload::Lifecycle(l) => (e.sequence, lc::libvirt_type(l), l.detail),
            other => panic!("not a lifecycle event: {other:?}"),
        },
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn define_redefine_undefine_emit_libvirts_events_and_keep_autostart() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    let mut sub = d.subscribe_events(None).await.expect("subscribe");
    d.define_domain(&xml("a", U1), 0).await.expect("define");
    d.set_autostart(&name("a"), true).await.expect("autostart");
    d.define_domain(&xml("a", U1), 0).await.expect("redefine");
    assert!(
        d.autostart(&name("a")).await.expect("get"),
        "redefine keeps autostart"
    );
    d.undefine_domain(&name("a"), 0).await.expect("undefine");
    assert_eq!(
        lifecycle(&mut sub).await,
        (1, lc::DEFINED, lc::defined::ADDED)
    );
    assert_eq!(
        lifecycle(&mut sub).await,
        (2, lc::DEFINED, lc::defined::UPDATED)
    );
    assert_eq!(
        lifecycle(&mut sub).await,
        (3, lc::UNDEFINED, lc::undefined::REMOVED)
    );
    let dir = root.path().join("etc/virt/qemu");
    assert!(!dir.join("a.xml").exists());
    assert!(std::fs::symlink_metadata(dir.join("autostart/a.xml")).is_err());
}

#[tokio::test]
async fn identity_clashes_are_refused_and_located_with_validate() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    d.define_domain(&xml("a", U1), 0).await.expect("define");
    let e = d
        .define_domain(&xml("a", U2), 0)
        .await
        .expect_err("name clash");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert_eq!(
        e.detail,
        format!("domain 'a' already exists with uuid {U1}")
    );
    assert!(e.already_exists && e.violations.is_empty());
    let e = d
        .define_domain(&xml("b", U1), 1)
        .await
        .expect_err("uuid clash");
    assert_eq!(
        e.detail,
        format!("domain 'a' is already defined with uuid {U1}")
    );
    assert_eq!(e.violations[0].path, "/domain/uuid");
    let v = d.validate_domain(&xml("a", U1), 0).await.expect("validate");
    assert!(v.replaces_existing);
    assert!(v.xml.contains("<name>a</name>"));
    let v = d.validate_domain(&xml("c", U2), 0).await.expect("validate");
    assert!(!v.replaces_existing);
    assert!(!root.path().join("etc/virt/qemu/c.xml").exists(), "dry run");
}

#[tokio::test]
async fn type_and_name_problems_name_their_xpath() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    let e = d
        .define_domain(&xml("a", U1).replace("'kvm'", "'test'"), 0)
        .await
        .expect_err("test type");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert_eq!(e.violations[0].path, "/domain/@type");
    let e = d
        .define_domain(&xml("a/b", U1), 0)
        .await
        .expect_err("slash in name");
    assert_eq!(e.violations[0].path, "/domain/name");
    assert!(d.list_all_domains(0).await.expect("list").is_empty());
}

#[tokio::test]
async fn list_filters_by_autostart_and_refuses_what_cannot_match() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    d.define_domain(&xml("b", U2), 0).await.expect("define");
    d.define_domain(&xml("a", U1), 0).await.expect("define");
    d.set_autostart(&name("b"), true).await.expect("autostart");
    let names = |v: Vec<virt_core::types::DomainSummary>| -> Vec<String> {
        v.into_iter().map(|s| s.handle.name).collect()
    };
    assert_eq!(names(d.list_all_domains(0).await.expect("all")), ["a", "b"]);
    assert_eq!(
        names(d.list_all_domains(1024).await.expect("autostart")),
        ["b"]
    );
    assert_eq!(
        names(d.list_all_domains(2048).await.expect("no autostart")),
        ["a"]
    );
    assert!(d.list_all_domains(1).await.expect("active").is_empty());
    assert!(d.list_all_domains(8).await.expect("transient").is_empty());
    assert_eq!(
        names(d.list_all_domains(2 | 4 | 64).await.expect("inactive")),
        ["a", "b"]
    );
    let e = d.list_all_domains(1 << 20).await.expect_err("unknown bit");
    assert_eq!(e.code, ErrorCode::InvalidArg);
}

#[tokio::test]
async fn undefine_with_an_nvram_file_needs_a_decision() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    let nvram = root.path().join("a_VARS.fd");
    std::fs::write(&nvram, b"vars").expect("nvram");
    let with_nvram = xml("a", U1).replace(
        "<type arch='x86_64'>hvm</type></os>",
        &format!(
            "<type arch='x86_64'>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>{}</nvram></os><features><acpi/></features>",
            nvram.display()
        ),
    );
    d.define_domain(&with_nvram, 0).await.expect("define");
    let e = d.undefine_domain(&name("a"), 0).await.expect_err("nvram");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(e.detail, "cannot undefine domain with nvram");
    // libvirt 9.0's own words for both flags (observed), for NVRAM and TPM alike.
    for (both, what) in [(4 | 8, "nvram"), (32 | 64, "TPM")] {
        let e = d.undefine_domain(&name("a"), both).await.expect_err("both");
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        assert_eq!(e.detail, format!("cannot both keep and delete {what}"));
    }
    d.undefine_domain(&name("a"), 4)
        .await
        .expect("undefine --nvram");
    assert!(!nvram.exists());
    // Auto-selected firmware keeps its store in STATE/qemu/nvram/NAME_VARS.fd, which the
    // stored definition does not name: undefine still finds it.
    let efi = xml("b", U2).replace(
        "<os><type arch='x86_64'>hvm</type></os>",
        "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>",
    );
    d.define_domain(&efi, 0).await.expect("define efi");
    let store = root.path().join("var/lib/virt/qemu/nvram/b_VARS.fd");
    // No store yet (never started): nothing to decide.
    d.undefine_domain(&name("b"), 0).await.expect("no store");
    d.define_domain(&efi, 0).await.expect("define efi");
    std::fs::create_dir_all(store.parent().expect("dir")).expect("dir");
    std::fs::write(&store, b"vars").expect("store");
    let e = d.undefine_domain(&name("b"), 0).await.expect_err("store");
    assert_eq!(e.detail, "cannot undefine domain with nvram");
    d.undefine_domain(&name("b"), 8)
        .await
        .expect("undefine --keep-nvram");
    assert!(store.exists(), "kept");
}

#[tokio::test]
async fn undefine_removes_tpm_state_unless_kept_as_libvirt() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    let state = root.path().join("var/lib/virt/swtpm").join(U1);
    let tpm = |persistent: &str| {
        xml("t", U1).replace(
            "</devices>",
            &format!(
                "<tpm model='tpm-crb'><backend type='emulator' version='2.0'{persistent}/></tpm></devices>"
            ),
        )
    };
    // (persistent_state, flags, state left)
    for (persistent, flags, kept) in [
        ("", 0, false),
        ("", 64, true),
        ("", 32, false),
        (" persistent_state='yes'", 0, true),
        (" persistent_state='yes'", 64, true),
        (" persistent_state='yes'", 32, false),
    ] {
        d.define_domain(&tpm(persistent), 0).await.expect("define");
        std::fs::create_dir_all(state.join("tpm2")).expect("state");
        std::fs::write(state.join("tpm2/tpm2-00.permall"), b"x").expect("state");
        d.undefine_domain(&name("t"), flags)
            .await
            .expect("undefine");
        assert_eq!(state.exists(), kept, "{persistent} {flags}");
        let _ = std::fs::remove_dir_all(&state);
    }
    // The stored definition carries libvirt's defaults.
    d.define_domain(
        &xml("t", U1).replace(
            "</devices>",
            "<tpm><backend type='emulator'/></tpm></devices>",
        ),
        0,
    )
    .await
    .expect("define");
    let stored = d.domain_xml(&name("t"), 2).await.expect("xml");
    assert!(
        stored.contains("<tpm model='tpm-tis'>\n      <backend type='emulator' version='1.2'/>"),
        "{stored}"
    );
    // What the driver cannot do is refused naming it.
    let e = d
        .define_domain(
            &xml("p", U2).replace(
                "</devices>",
                "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm></devices>",
            ),
            0,
        )
        .await
        .expect_err("passthrough");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(e.message().contains("passthrough"), "{}", e.message());
    let e = d
        .define_domain(
            &xml("p", U2).replace(
                "</devices>",
                "<tpm model='tpm-tis'><backend type='emulator' version='2.0'><encryption secret='6dd3e4a5-1d76-44ce-961f-f119f5aad935'/></backend></tpm></devices>",
            ),
            0,
        )
        .await
        .expect_err("encryption");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(e.message().contains("encryption"), "{}", e.message());
}

#[tokio::test]
async fn shut_off_domains_answer_as_libvirt_does() {
    let root = tempfile::tempdir().expect("root");
    let d = open(root.path(), Mode::System);
    d.define_domain(&xml("a", U1), 0).await.expect("define");
    let e = d.suspend_domain(&name("a")).await.expect_err("not running");
    assert_eq!(
        (e.code, e.detail.as_str()),
        (ErrorCode::OperationInvalid, "domain is not running")
    );
    let e = d.suspend_domain(&name("zz")).await.expect_err("unknown");
    assert_eq!(e.code, ErrorCode::NoDomain);
    let e = d
        .lookup_domain(&DomainLookup::Id(1))
        .await
        .expect_err("no ids");
    assert_eq!(e.detail, "no domain with matching id 1");
    assert!(!d
        .has_managed_save_image(&name("a"))
        .await
        .expect("managed save"));
    // GetMaxVcpus answers the probed default machine's limit (libvirt's fixed 16 only when
    // no emulator is installed).
    let expected = match crate::host::find_emulator(&crate::host::host_arch()) {
        Some(bin) => {
            let dir = tempfile::tempdir().expect("probe cache");
            let caps = crate::probe::probe(&bin, dir.path()).await.expect("probe");
            let m = caps.default_machine().expect("default machine");
            caps.machine(m).expect("machine").cpu_max
        }
        None => crate::host::TCG_MAX_VCPUS,
    };
    assert_eq!(d.max_vcpus("qemu").await.expect("tcg"), expected);
    assert_eq!(d.max_vcpus("").await.expect("default type"), expected);
    assert_eq!(
        d.max_vcpus("lxc").await.expect_err("unknown type").code,
        ErrorCode::InvalidArg
    );
}

#[test]
fn registry_serves_only_its_instance_uri() {
    let root = tempfile::tempdir().expect("root");
    let reg = registry(open(root.path(), Mode::Session));
    for ok in [
        None,
        Some("qemu:///session"),
        Some("qemu:///session?socket=/x"),
    ] {
        let d = reg.driver_for(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        assert_eq!(d.uri(), "qemu:///session");
    }
    for bad in [
        "qemu:///system",
        "qemu://host/session",
        "lxc:///session",
        "test:///default",
    ] {
        let e = reg.driver_for(Some(bad)).err().expect("refused");
        assert_eq!(e.code, ErrorCode::NoConnect, "{bad}");
        assert!(e.message().contains(bad), "{}", e.message());
    }
    assert_eq!(reg.daemon_info().driver, "QEMU");
}

#[tokio::test]
async fn loading_skips_a_second_file_with_the_same_uuid_and_keeps_autostart() {
    let root = tempfile::tempdir().expect("root");
    {
        let d = open(root.path(), Mode::System);
        d.define_domain(&xml("a", U1), 0).await.expect("define");
        d.set_autostart(&name("a"), true).await.expect("autostart");
    }
    let dir = root.path().join("etc/virt/qemu");
    std::fs::write(dir.join("b.xml"), xml("b", U1)).expect("same uuid as a");
    let d = open(root.path(), Mode::System);
    let list = d.list_all_domains(0).await.expect("list");
    let names: Vec<&str> = list.iter().map(|s| s.handle.name.as_str()).collect();
    assert_eq!(names, ["a"]);
    assert!(list[0].autostart);
}
