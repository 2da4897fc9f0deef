//! The test driver's guest calls (interface addresses, file system freeze/thaw, guest time,
//! guest host name) against libvirt 9.0's test driver's canned answers, driver-level.

use std::sync::Arc;

use virt_core::driver::prelude::*;
use virt_core::guest::{AddressSource, DomainInterface, IpAddrType, IpAddress};
use virt_core::test_driver::TestDriver;
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

/// libvirt's test driver's initial guest clock.
const TEST_TIME: i64 = 627_319_920;

fn driver() -> TestDriver {
    TestDriver::new_default(Arc::new(virt_xml::LibvirtXml)).expect("default driver")
}

fn test() -> DomainLookup {
    DomainLookup::Name("test".into())
}

#[tokio::test]
async fn freeze_and_thaw_count_only_what_changed() {
    let d = driver();
    let none: Vec<String> = Vec::new();
    let root = vec!["/".to_string()];
    assert_eq!(d.fs_freeze(&test(), &root, 0).await.expect("freeze /"), 1);
    assert_eq!(d.fs_freeze(&test(), &none, 0).await.expect("freeze all"), 1);
    assert_eq!(d.fs_thaw(&test(), &root, 0).await.expect("thaw /"), 1);
    assert_eq!(d.fs_thaw(&test(), &root, 0).await.expect("thaw / again"), 0);
    assert_eq!(d.fs_thaw(&test(), &none, 0).await.expect("thaw all"), 1);
    let e = d
        .fs_freeze(&test(), &["/a".to_string(), "/".to_string()], 0)
        .await
        .expect_err("unknown mount point");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(e.detail, "mount point not found: /a");
    // The failed call froze nothing.
    assert_eq!(d.fs_thaw(&test(), &none, 0).await.expect("thaw all"), 0);
}

#[tokio::test]
async fn time_starts_canned_and_follows_set_time() {
    let d = driver();
    assert_eq!(
        d.domain_time(&test(), 0).await.expect("time"),
        (TEST_TIME, 0)
    );
    d.set_domain_time(&test(), 5, 7, 0).await.expect("set");
    assert_eq!(d.domain_time(&test(), 0).await.expect("time"), (5, 7));
    let e = d
        .set_domain_time(&test(), 5, 0, 2)
        .await
        .expect_err("unknown flag");
    assert_eq!(e.code, ErrorCode::InvalidArg);
}

#[tokio::test]
async fn hostname_is_name_host_and_refuses_source_flags() {
    let d = driver();
    assert_eq!(
        d.domain_hostname(&test(), 0).await.expect("name"),
        "testhost"
    );
    let e = d.domain_hostname(&test(), 2).await.expect_err("agent flag");
    assert_eq!(
        e.detail,
        "unsupported flags (0x2) in function testDomainGetHostname"
    );
}

#[tokio::test]
async fn interface_addresses_follow_libvirts_numbering() {
    let d = driver();
    let ifaces = d
        .interface_addresses(&test(), AddressSource::Agent, 0)
        .await
        .expect("addresses");
    assert_eq!(
        ifaces,
        vec![DomainInterface {
            name: "testnet0".into(),
            hwaddr: Some("aa:bb:cc:dd:ee:ff".into()),
            addrs: vec![IpAddress {
                addr_type: IpAddrType::Ipv4,
                addr: "192.168.122.3".into(),
                prefix: 24,
            }],
        }]
    );
}

#[tokio::test]
async fn guest_calls_on_a_stopped_domain_are_operation_invalid() {
    let d = driver();
    d.destroy_domain(&test(), 0).await.expect("destroy");
    let e = d.domain_time(&test(), 0).await.expect_err("stopped");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(e.detail, "domain is not running");
    let e = d
        .interface_addresses(&test(), AddressSource::Lease, 0)
        .await
        .expect_err("stopped");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    let e = d.fs_freeze(&test(), &[], 0).await.expect_err("stopped");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
}
