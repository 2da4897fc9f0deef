//! The local call on the default path: what a Rust program gets from
//! `Connection::open(Some("qemu:///system"))` on a host where `virtqemud` runs. The release
//! `virtqemud` binary runs under a temporary root (`VIRT_ROOT` points the client there, as
//! `--root` points the daemon), with one persistent domain `test`; the client resolves the URI
//! itself and, the daemon's socket being there, connects straight to it (no proxy). Timed:
//! sequential `LookupDomain` of `test` (virDomainLookupByName) on one connection from a
//! current-thread runtime, as the unary figures above.

use std::path::PathBuf;

use virt_client::{Connection, DomainLookup, Endpointed};
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::LookupDomainRequest;
use virt_tests::backend::ProcessDaemon;

use crate::{Latency, Plan};

/// The URI both sides open.
pub const URI: &str = "qemu:///system";

/// A persistent QEMU domain `name` (never started).
pub fn qemu_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os></domain>"
    )
}

/// Our figures: LookupDomain latency on the default path to a fresh release `virtqemud`
/// (`virt_client::Connection`), and for scale the same call on the same socket through tonic's
/// own `Channel` (what `Connection` used before it drove HTTP/2 itself).
pub fn run(plan: &Plan) -> (Latency, Latency) {
    let root = tempfile::tempdir().expect("temp root");
    let daemon = ProcessDaemon::start("virtqemud", root.path());
    // Set before this figure's runtime starts: no other thread of the bench reads it meanwhile.
    std::env::set_var("VIRT_ROOT", root.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let latency = rt.block_on(async {
        let conn = Connection::open(Some(URI), false)
            .await
            .expect("open qemu:///system on the default path");
        let want: PathBuf = daemon.socket.clone();
        assert_eq!(
            conn.endpoint(),
            &Endpointed::Socket(want),
            "the default path for {URI} must reach virtqemud's socket directly"
        );
        conn.define(&qemu_xml("test"), 0)
            .await
            .expect("DefineDomain test on virtqemud");
        let test = DomainLookup::Name("test".into());
        let ours = crate::ours::latency(plan, || async {
            conn.lookup(&test).await.expect("LookupDomain test");
        })
        .await;
        let channel = virt_tests::raw_channel(&daemon.socket).await;
        let tonic = crate::ours::latency(plan, || async {
            let mut client = DomainServiceClient::new(channel.clone());
            let req = virt_tests::with_uri(
                LookupDomainRequest {
                    domain: Some(virt_client::domain_ref(&test)),
                },
                URI,
            );
            client.lookup_domain(req).await.expect("LookupDomain test");
        })
        .await;
        (ours, tonic)
    });
    std::env::remove_var("VIRT_ROOT");
    drop(daemon);
    latency
}
