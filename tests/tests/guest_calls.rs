//! GuestService through a daemon socket with the Rust client, on the test driver behind
//! `virt-proxy`: the answers survive the wire, guest state persists between calls of a
//! connection, wrong-state and unsupported calls carry their libvirt codes, and read-only
//! sockets allow addresses from leases but not from the agent (nor any agent call).

use virt_client::Connection;
use virt_core::guest::{AddressSource, IpAddrType};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;
use virt_tests::DaemonUnderTest;

fn test() -> DomainLookup {
    DomainLookup::Name("test".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_calls_keep_their_answers_and_codes_over_the_wire() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let c = Connection::open(Some(&daemon.test_uri(false)), false)
        .await
        .expect("open");

    let ifaces = c
        .interface_addresses(&test(), AddressSource::Agent, 0)
        .await
        .expect("addresses");
    assert_eq!(ifaces.len(), 1);
    assert_eq!(ifaces[0].name, "testnet0");
    assert_eq!(ifaces[0].hwaddr.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
    assert_eq!(ifaces[0].addrs[0].addr_type, IpAddrType::Ipv4);
    assert_eq!(ifaces[0].addrs[0].addr, "192.168.122.3");
    assert_eq!(ifaces[0].addrs[0].prefix, 24);

    assert_eq!(c.fs_freeze(&test(), &[], 0).await.expect("freeze"), 2);
    assert_eq!(
        c.fs_thaw(&test(), &["/boot".into()], 0)
            .await
            .expect("thaw"),
        1
    );
    c.set_domain_time(&test(), 1_234, 5, 0).await.expect("set");
    assert_eq!(c.domain_time(&test(), 0).await.expect("time"), (1_234, 5));
    assert_eq!(
        c.domain_hostname(&test(), 0).await.expect("hostname"),
        "testhost"
    );

    // Not in libvirt's test driver: NO_SUPPORT naming the API.
    let e = c
        .guest_info(&test(), 0, 0)
        .await
        .expect_err("not in the test driver");
    assert_eq!(e.code(), ErrorCode::NoSupport);
    assert!(e.to_string().ends_with("virDomainGetGuestInfo"), "{e}");
    let e = c
        .qemu_agent_command(&test(), "{\"execute\":\"guest-ping\"}", -1, 0)
        .await
        .expect_err("not in the test driver");
    assert_eq!(e.code(), ErrorCode::NoSupport);

    c.destroy(&test(), 0).await.expect("destroy");
    let e = c.domain_time(&test(), 0).await.expect_err("stopped");
    assert_eq!(e.code(), ErrorCode::OperationInvalid);
    assert_eq!(
        e.to_string(),
        "Requested operation is not valid: domain is not running"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_sockets_read_leases_but_never_reach_the_agent() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let ro = Connection::open(Some(&daemon.test_uri(true)), true)
        .await
        .expect("open read-only");
    let leases = ro
        .interface_addresses(&test(), AddressSource::Lease, 0)
        .await
        .expect("leases are a read");
    assert_eq!(leases.len(), 1);
    let e = ro
        .interface_addresses(&test(), AddressSource::Agent, 0)
        .await
        .expect_err("agent refused");
    assert_eq!(e.code(), ErrorCode::OperationDenied);
    assert_eq!(
        e.to_string(),
        "operation forbidden: read only access prevents virDomainInterfaceAddresses"
    );
    for e in [
        ro.domain_time(&test(), 0).await.expect_err("time"),
        ro.fs_freeze(&test(), &[], 0)
            .await
            .map(|_| ())
            .expect_err("freeze"),
        ro.domain_hostname(&test(), 0)
            .await
            .map(|_| ())
            .expect_err("hostname"),
        ro.set_agent_response_timeout(&test(), 5, 0)
            .await
            .expect_err("timeout"),
    ]
    .iter()
    .map(|e| e.code())
    .collect::<Vec<_>>()
    {
        assert_eq!(e, ErrorCode::OperationDenied);
    }
}
