//! The LXC driver's definitions without running anything: what define accepts unchanged
//! (libvirt's own XML, naming libvirt's controller), what it fills in, and what it refuses by
//! name. Containers themselves are tested in tests/controller.rs and the workspace tests.

use std::sync::Arc;

use virt_core::driver::prelude::*;
use virt_core::paths::{Mode, Paths};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

use crate::LxcDriver;

fn driver(dir: &std::path::Path) -> Arc<LxcDriver> {
    LxcDriver::open(
        &Paths::resolve(Some(dir), Mode::Session),
        Arc::new(virt_xml::LibvirtXml),
    )
}

/// A container as virt-install writes one (`--connect lxc:/// --filesystem`), naming
/// libvirt's controller.
const BUSYBOX: &str = "<domain type='lxc'>
  <name>c1</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64'>exe</type><init>/sbin/init</init><initarg>-v</initarg>
    <initenv name='FOO'>bar</initenv><initdir>/tmp</initdir></os>
  <idmap><uid start='0' target='100000' count='65536'/><gid start='0' target='100000' count='65536'/></idmap>
  <features><privnet/><capabilities policy='default'><sys_time state='on'/></capabilities></features>
  <memtune><hard_limit unit='KiB'>131072</hard_limit></memtune>
  <cputune><shares>1024</shares><period>100000</period><quota>50000</quota></cputune>
  <devices>
    <emulator>/usr/lib/libvirt/libvirt_lxc</emulator>
    <filesystem type='mount' accessmode='passthrough'><source dir='/srv/c1'/><target dir='/'/></filesystem>
    <filesystem type='ram' accessmode='passthrough'><source usage='1024' units='KiB'/><target dir='/run'/></filesystem>
    <interface type='bridge'><mac address='52:54:00:a1:b2:c3'/><source bridge='br0'/>
      <ip address='192.168.122.12' prefix='24'/><guest dev='eth0'/></interface>
    <console type='pty'><target type='lxc' port='0'/></console>
    <hostdev mode='capabilities' type='misc'><source><char>/dev/null</char></source></hostdev>
  </devices>
</domain>";

#[tokio::test]
async fn libvirts_container_xml_defines_unchanged_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = driver(dir.path());
    let h = d.define_domain(BUSYBOX, 0).await.expect("defined");
    assert_eq!(h.name, "c1");
    let xml = d
        .domain_xml(&DomainLookup::Name("c1".into()), 0)
        .await
        .expect("xml");
    for part in [
        "<emulator>/usr/lib/libvirt/libvirt_lxc</emulator>",
        "<initarg>-v</initarg>",
        "<initenv name='FOO'>bar</initenv>",
        "<uid start='0' target='100000' count='65536'/>",
        "<source bridge='br0'/>",
        "<hostdev mode='capabilities' type='misc'>",
        "<sys_time state='on'/>",
    ] {
        assert!(xml.contains(part), "{part} missing from\n{xml}");
    }
    // Stored as libvirt stores it, and loaded by the next daemon.
    let stored = dir.path().join("etc/virt/lxc/c1.xml");
    assert!(stored.is_file(), "{}", stored.display());
    drop(d);
    let again = driver(dir.path());
    let list = again.list_all_domains(0).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].handle.name, "c1");
}

#[tokio::test]
async fn define_fills_what_libvirts_lxc_driver_fills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = driver(dir.path());
    d.define_domain(
        "<domain type='lxc'><name>bare</name><memory>65536</memory>\
         <os><type>exe</type><init>/bin/sh</init></os></domain>",
        0,
    )
    .await
    .expect("defined");
    let xml = d
        .domain_xml(&DomainLookup::Name("bare".into()), 0)
        .await
        .expect("xml");
    assert!(xml.contains("<type arch='"), "{xml}");
    assert!(xml.contains("<target type='lxc' port='0'/>"), "{xml}");
    assert!(xml.contains("<emulator>"), "{xml}");
}

#[tokio::test]
async fn what_containers_cannot_have_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = driver(dir.path());
    let base = |devices: &str| {
        format!(
            "<domain type='lxc'><name>x</name><memory>65536</memory>\
             <os><type>exe</type><init>/bin/sh</init></os><devices>{devices}</devices></domain>"
        )
    };
    for (devices, code, needle) in [
        (
            "<graphics type='vnc'/>",
            ErrorCode::ConfigUnsupported,
            "/domain/devices/graphics",
        ),
        (
            "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
            ErrorCode::ConfigUnsupported,
            "emulator '/usr/bin/qemu-system-x86_64'",
        ),
        (
            "<filesystem type='mount'><source dir='srv'/><target dir='/'/></filesystem>",
            ErrorCode::XmlError,
            "not an absolute path",
        ),
        (
            "<interface type='user'/>",
            ErrorCode::ConfigUnsupported,
            "interface",
        ),
        (
            "<console type='tcp'><source mode='bind' host='0.0.0.0' service='2445'/></console>",
            ErrorCode::ConfigUnsupported,
            "console",
        ),
    ] {
        let e = d.define_domain(&base(devices), 0).await.expect_err(devices);
        assert_eq!(e.code, code, "{devices}: {e:?}");
        assert!(e.message().contains(needle), "{devices}: {}", e.message());
    }
    let e = d
        .define_domain(
            "<domain type='kvm'><name>x</name><memory>65536</memory>\
             <os><type>hvm</type></os></domain>",
            0,
        )
        .await
        .expect_err("a VM");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(d.list_all_domains(0).await.expect("list").is_empty());
}

#[tokio::test]
async fn a_stopped_container_has_no_console_and_no_freezer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = driver(dir.path());
    d.define_domain(BUSYBOX, 0).await.expect("defined");
    let c1 = DomainLookup::Name("c1".into());
    let e = d.open_console(&c1, "", 0).await.err().expect("not running");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    let e = d.suspend_domain(&c1).await.expect_err("not running");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    let e = d.destroy_domain(&c1, 0).await.expect_err("not running");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    let stats = d.all_domain_stats(0, 0).await.expect("stats");
    assert_eq!(stats.len(), 1);
    assert!(stats[0].params.iter().any(|p| p.field == "balloon.maximum"));
}

#[test]
fn the_registry_serves_its_instance_only() {
    use virt_core::registry::DriverRegistry;
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = crate::registry(driver(dir.path()));
    for ok in [
        None,
        Some("lxc:///session"),
        Some("lxc:///session?socket=/x"),
    ] {
        let d = reg.driver_for(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        assert_eq!(d.uri(), "lxc:///session");
    }
    for bad in [
        "lxc:///system",
        "lxc:///",
        "qemu:///session",
        "lxc://host/session",
    ] {
        let e = reg.driver_for(Some(bad)).err().expect(bad);
        assert_eq!(e.code, ErrorCode::NoConnect, "{bad}");
        assert!(
            e.message().contains("this virtlxcd serves lxc:///session"),
            "{}",
            e.message()
        );
    }
    assert_eq!(reg.daemon_info().driver, "LXC");
}
