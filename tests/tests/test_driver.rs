//! The in-memory test driver's state machine and error cases, driver-level (no RPC).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_core::driver::prelude::*;
use virt_core::state::{reason, DomainState};
use virt_core::test_driver::{TestDriver, TestRegistry};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;
use virt_tests::domain_xml;

fn driver() -> TestDriver {
    TestDriver::new_default(Arc::new(virt_xml::LibvirtXml)).expect("default driver")
}

fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

fn xml_with_uuid(n: &str, uuid: &str) -> String {
    domain_xml(n).replacen("<name>", &format!("<uuid>{uuid}</uuid>\n  <name>"), 1)
}

#[tokio::test]
async fn default_connection_has_libvirts_running_test_domain() {
    let d = driver();
    let list = d.list_all_domains(0).await.expect("list");
    assert_eq!(list.len(), 1);
    let t = &list[0];
    assert_eq!(t.handle.name, "test");
    assert_eq!(t.handle.id, Some(1));
    assert_eq!(
        t.handle.uuid.to_string(),
        "6695eb01-f6a4-8304-79aa-97f2502e193f"
    );
    assert_eq!((t.state.state, t.state.reason), (DomainState::Running, 0));
    assert!(t.persistent);
    let node = d.node_info().await.expect("node");
    assert_eq!(
        (node.cpus, node.mhz, node.memory_kib),
        (16, 1400, 3_145_728)
    );
}

#[tokio::test]
async fn duplicate_names_and_uuids_are_refused() {
    let d = driver();
    let e = d
        .define_domain(
            &xml_with_uuid("test", "11111111-2222-3333-4444-555555555555"),
            0,
        )
        .await
        .expect_err("name taken by another uuid");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert_eq!(
        e.detail,
        "domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f"
    );
    let e = d
        .define_domain(
            &xml_with_uuid("other", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
            0,
        )
        .await
        .expect_err("uuid taken by another name");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(
        e.detail.contains("'test' is already defined with uuid"),
        "{}",
        e.detail
    );
}

#[tokio::test]
async fn undefining_a_running_domain_makes_it_transient_and_it_vanishes_on_stop() {
    let d = driver();
    d.undefine_domain(&name("test"), 0)
        .await
        .expect("undefine running");
    let (_, info) = d.domain_info(&name("test")).await.expect("still there");
    assert!(!info.persistent);
    assert_eq!(info.state.state, DomainState::Running);
    let e = d
        .undefine_domain(&name("test"), 0)
        .await
        .expect_err("transient");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    d.destroy_domain(&name("test"), 0).await.expect("destroy");
    let e = d.lookup_domain(&name("test")).await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::NoDomain);
}

#[tokio::test]
async fn create_xml_is_transient_and_start_paused_pauses() {
    let d = driver();
    let xml = xml_with_uuid("t1", "aaaaaaaa-2222-3333-4444-555555555555");
    let h = d.create_domain_xml(&xml, 1).await.expect("create paused");
    assert_eq!(h.id, Some(2), "IDs are handed out increasingly");
    let (_, s) = d.domain_state(&name("t1"), 0).await.expect("state");
    assert_eq!(
        (s.state, s.reason),
        (DomainState::Paused, reason::paused::USER)
    );
    let list = d.list_all_domains(8).await.expect("transient only");
    assert_eq!(
        list.iter()
            .map(|s| s.handle.name.as_str())
            .collect::<Vec<_>>(),
        ["t1"]
    );
    let e = d
        .create_domain_xml(&xml, 0)
        .await
        .expect_err("already active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(e.detail, "domain 't1' is already active");
    let e = d
        .create_domain_xml(&domain_xml("t1"), 0)
        .await
        .expect_err("name clash");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    d.shutdown_domain(&name("t1"), 0)
        .await
        .expect("shutdown paused");
    assert_eq!(
        d.lookup_domain(&name("t1")).await.expect_err("gone").code,
        ErrorCode::NoDomain
    );
}

#[tokio::test]
async fn memory_and_vcpu_changes_follow_modification_impact() {
    let d = driver();
    d.define_domain(&domain_xml("m1"), 0).await.expect("define");
    // Inactive: LIVE is refused, CURRENT means CONFIG.
    let e = d
        .set_domain_memory(&name("m1"), 65536, 1)
        .await
        .expect_err("live on inactive");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    d.set_domain_memory(&name("m1"), 65536, 0)
        .await
        .expect("config");
    let e = d
        .set_domain_memory(&name("m1"), 1 << 30, 0)
        .await
        .expect_err("above max");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!(
        e.message(),
        "invalid argument: cannot set memory higher than max memory"
    );
    let (_, info) = d.domain_info(&name("m1")).await.expect("info");
    assert_eq!((info.memory_kib, info.max_memory_kib), (65536, 131072));
    // Running: MAXIMUM|LIVE is refused; CONFIG goes to the next-boot definition.
    let e = d
        .set_domain_memory(&name("test"), 1024, 4 | 1)
        .await
        .expect_err("max live");
    assert_eq!(
        e.detail,
        "cannot resize the maximum memory on an active domain"
    );
    d.set_domain_memory(&name("test"), 1_048_576, 2)
        .await
        .expect("config while running");
    assert_eq!(
        d.domain_info(&name("test"))
            .await
            .expect("info")
            .1
            .memory_kib,
        2_097_152
    );
    let inactive_xml = d.domain_xml(&name("test"), 2).await.expect("inactive xml");
    assert!(
        inactive_xml.contains("<currentMemory unit='KiB'>1048576</currentMemory>"),
        "{inactive_xml}"
    );

    let e = d
        .set_domain_vcpus(&name("test"), 0, 0)
        .await
        .expect_err("zero");
    assert_eq!(
        e.detail,
        "nvcpus in virDomainSetVcpusFlags must not be zero"
    );
    let e = d
        .set_domain_vcpus(&name("test"), 4, 4)
        .await
        .expect_err("maximum needs config");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let e = d
        .set_domain_vcpus(&name("test"), 3, 1)
        .await
        .expect_err("above max live");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    d.set_domain_vcpus(&name("test"), 1, 1)
        .await
        .expect("live down to 1");
    assert_eq!(
        d.domain_vcpus(&name("test"), 1).await.expect("live count"),
        1
    );
    d.set_domain_vcpus(&name("m1"), 4, 2 | 4)
        .await
        .expect("raise config maximum");
    d.set_domain_vcpus(&name("m1"), 3, 2)
        .await
        .expect("config count");
    assert_eq!(d.domain_vcpus(&name("m1"), 2 | 4).await.expect("max"), 4);
    assert_eq!(d.domain_vcpus(&name("m1"), 2).await.expect("current"), 3);
}

#[tokio::test]
async fn managed_save_stops_and_next_start_restores() {
    let d = driver();
    d.managed_save(&name("test"), 0)
        .await
        .expect("managed save");
    let (_, s) = d.domain_state(&name("test"), 0).await.expect("state");
    assert_eq!(
        (s.state, s.reason),
        (DomainState::Shutoff, reason::shutoff::SAVED)
    );
    assert!(d
        .has_managed_save_image(&name("test"))
        .await
        .expect("has image"));
    let e = d
        .undefine_domain(&name("test"), 0)
        .await
        .expect_err("image exists");
    assert_eq!(
        e.detail,
        "Refusing to undefine while domain managed save image exists"
    );
    d.create_domain(&name("test"), 0).await.expect("restore");
    let (_, s) = d.domain_state(&name("test"), 0).await.expect("state");
    assert_eq!(
        (s.state, s.reason),
        (DomainState::Running, reason::running::RESTORED)
    );
    assert!(!d
        .has_managed_save_image(&name("test"))
        .await
        .expect("image consumed"));
}

#[tokio::test]
async fn save_to_file_and_restore() {
    let d = driver();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.save");
    let p = path.to_str().expect("utf-8 path");
    d.save_domain(&name("test"), p, "", 0).await.expect("save");
    assert!(std::fs::read_to_string(&path)
        .expect("image")
        .contains("<name>test</name>"));
    assert_eq!(
        d.domain_state(&name("test"), 0)
            .await
            .expect("state")
            .1
            .reason,
        reason::shutoff::SAVED
    );
    d.restore_domain(p, "", 0).await.expect("restore");
    let e = d
        .restore_domain(p, "", 0)
        .await
        .expect_err("already active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
}

#[tokio::test]
async fn snapshots_create_list_revert_delete() {
    let d = driver();
    let s1 = d
        .create_snapshot(
            &name("test"),
            "<domainsnapshot><name>s1</name></domainsnapshot>",
            0,
        )
        .await
        .expect("s1");
    assert!(s1.current);
    d.set_domain_memory(&name("test"), 1024, 1)
        .await
        .expect("change memory");
    let s2 = d
        .create_snapshot(
            &name("test"),
            "<domainsnapshot><name>s2</name></domainsnapshot>",
            0,
        )
        .await
        .expect("s2");
    assert_eq!(s2.parent, "s1");
    let e = d
        .create_snapshot(
            &name("test"),
            "<domainsnapshot><name>s1</name></domainsnapshot>",
            0,
        )
        .await
        .expect_err("duplicate");
    assert_eq!(e.detail, "domain moment s1 already exists");
    d.revert_to_snapshot(&name("test"), "s1", 0)
        .await
        .expect("revert");
    let (_, info) = d.domain_info(&name("test")).await.expect("info");
    assert_eq!(info.memory_kib, 2_097_152, "memory back to the snapshot's");
    assert_eq!(
        (info.state.state, info.state.reason),
        (DomainState::Running, reason::running::FROM_SNAPSHOT)
    );
    d.delete_snapshot(&name("test"), "s1", 0)
        .await
        .expect("delete s1");
    let list = d.list_snapshots(&name("test"), 0).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].parent, "", "s2 reparented to the root");
    let e = d
        .delete_snapshot(&name("test"), "nope", 0)
        .await
        .expect_err("unknown snapshot");
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
}

#[tokio::test]
async fn stats_report_state_only_and_enforce_refuses_other_groups() {
    let d = driver();
    let recs = d.all_domain_stats(0, 0).await.expect("stats");
    let fields: Vec<_> = recs[0].params.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["state.state", "state.reason"]);
    let e = d
        .all_domain_stats(2, 1 << 31)
        .await
        .expect_err("enforce cpu-total");
    assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
    assert!(d
        .all_domain_stats(0, 64)
        .await
        .expect("shutoff only")
        .is_empty());
}

#[tokio::test]
async fn console_echoes_and_refuses_a_second_session_without_force() {
    let d = driver();
    let mut c = d.open_console(&name("test"), "", 0).await.expect("console");
    c.write_all(b"hello\n").await.expect("write");
    let mut buf = [0u8; 6];
    c.read_exact(&mut buf).await.expect("echo");
    assert_eq!(&buf, b"hello\n");
    let e = d
        .open_console(&name("test"), "", 0)
        .await
        .err()
        .expect("busy");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    let _c2 = d
        .open_console(&name("test"), "", 1)
        .await
        .expect("forced takeover");
    d.destroy_domain(&name("test"), 0).await.expect("destroy");
    let e = d
        .open_console(&name("test"), "", 0)
        .await
        .err()
        .expect("not running");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
}

#[tokio::test]
async fn node_file_uri_loads_its_domains() {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/node-xml/testdefault.xml"
    );
    let reg = TestRegistry::new(Arc::new(virt_xml::LibvirtXml));
    let d = reg
        .open(&format!("test://{corpus}"))
        .expect("open node file");
    let (_, info) = d.domain_info(&name("test")).await.expect("test domain");
    assert_eq!(info.state.state, DomainState::Running);
    assert_eq!(d.node_info().await.expect("node").mhz, 4000);
    let e = reg
        .open("test:///nonexistent/file.xml")
        .err()
        .expect("missing file");
    assert_eq!(e.code, ErrorCode::XmlError);
    let same = reg.open("test:///default").expect("default");
    let again = reg.open("test:///default").expect("default again");
    assert!(Arc::ptr_eq(&same, &again), "test:///default is shared");
}
