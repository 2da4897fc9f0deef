//! The test driver's pools at driver level (no RPC): a node file's `<pool>`s, the shared pool
//! state machine's wrong-state errors, pool events with sequence numbers.

use std::sync::Arc;

use virt_core::registry::DriverRegistry;
use virt_core::storage::{PoolEventType, PoolRef, VolRef};
use virt_core::test_driver::TestRegistry;
use virt_core::ErrorCode;

fn registry() -> TestRegistry {
    TestRegistry::new(Arc::new(virt_xml::LibvirtXml))
}

#[tokio::test]
async fn node_file_pools_are_active_and_persistent() {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/node-xml/testdefault.xml"
    );
    let reg = registry();
    let s = reg
        .storage_driver_for(Some(&format!("test://{corpus}")))
        .expect("storage of a node file");
    let pools = s.list_all_storage_pools(0).await.expect("list");
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert!(pools[0].active && pools[0].persistent);
}

#[tokio::test]
async fn lifecycle_errors_and_events_follow_libvirt() {
    let reg = registry();
    let s = reg
        .storage_driver_for(None)
        .expect("test:///default storage");
    let mut events = s
        .subscribe_storage_pool_events(Some(1))
        .await
        .expect("events");
    let p = PoolRef::Name("default-pool".into());
    let e = s.undefine_storage_pool(&p).await.expect_err("active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    s.destroy_storage_pool(&p).await.expect("destroy");
    let e = s.list_storage_volumes(&p, 0).await.expect_err("inactive");
    assert_eq!(
        e.message(),
        "Requested operation is not valid: storage pool is not active"
    );
    s.start_storage_pool(&p, 0).await.expect("start");
    let v = s
        .create_storage_volume(
            &p,
            "<volume><name>v</name><capacity unit='G'>1</capacity></volume>",
            0,
        )
        .await
        .expect("volume");
    assert_eq!(v.key, "/default-pool/v");
    let info = s.get_storage_pool_info(&p).await.expect("info");
    assert_eq!(info.allocation, 1 << 30);
    let e = s
        .create_storage_volume(
            &p,
            "<volume><name>big</name><capacity unit='G'>200</capacity></volume>",
            0,
        )
        .await
        .expect_err("too big");
    assert_eq!(e.code, ErrorCode::InternalError);
    assert!(s
        .lookup_storage_volume(&VolRef::Path("/default-pool/big".into()))
        .await
        .is_err());
    let a = events.next().await.expect("stopped");
    let b = events.next().await.expect("started");
    assert_eq!((a.sequence, a.kind), (1, PoolEventType::Stopped));
    assert_eq!((b.sequence, b.kind), (2, PoolEventType::Started));
}
