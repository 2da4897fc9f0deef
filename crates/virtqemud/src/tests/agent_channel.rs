//! Driver-level tests of the guest agent channel with a real `qemu-system-x86_64` (TCG; the
//! guests sit in SeaBIOS, so nothing in them ever opens the channel): the generated socket
//! and its directory, the live state, libvirt's errors for an agent that is not there or not
//! configured, the shutdown methods' order, and the agent timeout kept across a reattach.
//! The guest-side behaviour (a real qemu-ga answering) is tests/tests/qemu_guest_agent.rs.

use std::time::{Duration, Instant};

use virt_core::driver::prelude::*;
use virt_core::guest::{AddressSource, AgentTimeout};
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

use super::guests::{open, pid_of, Guard};

const AGENT: u32 = 2;
const ACPI: u32 = 1;

fn xml(name: &str, n: u8, channel: bool) -> String {
    let ch = if channel {
        "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    } else {
        ""
    };
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <uuid>00000000-0000-4000-8000-0000000000{n:02x}</uuid>\
         <memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>\
         <devices>{ch}</devices></domain>"
    )
}

fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
async fn an_agent_channel_nobody_opens_is_not_connected_and_shutdown_falls_back() {
    let root = tempfile::tempdir().expect("root");
    let guard = Guard::new(root.path());
    let d = open(root.path());
    d.define_domain(&xml("a1", 1, true), 0)
        .await
        .expect("define");
    d.define_domain(&xml("a2", 2, false), 0)
        .await
        .expect("define");
    d.create_domain(&name("a1"), 0).await.expect("start a1");
    guard.note(pid_of(&d, "a1"));
    d.create_domain(&name("a2"), 0).await.expect("start a2");
    guard.note(pid_of(&d, "a2"));

    // The socket QEMU listens on: libvirt's layout under the run dir, in the live XML only.
    let dir = root.path().join("run/virt/qemu/channel/target/domain-1-a1");
    let sock = dir.join("org.qemu.guest_agent.0");
    assert!(sock.exists(), "QEMU listens at {}", sock.display());
    let live = d.domain_xml(&name("a1"), 0).await.expect("xml");
    assert!(
        live.contains(&format!("<source mode='bind' path='{}'/>", sock.display())),
        "{live}"
    );
    assert!(live.contains("state='disconnected'"), "{live}");
    let inactive = d.domain_xml(&name("a1"), 2).await.expect("xml");
    assert!(!inactive.contains("<source"), "{inactive}");

    // Not connected, not configured: at once, with libvirt's codes and words.
    let t = Instant::now();
    let e = d
        .interface_addresses(&name("a1"), AddressSource::Agent, 0)
        .await
        .expect_err("nobody there");
    assert_eq!(e.code, ErrorCode::AgentUnresponsive);
    assert_eq!(e.detail, "QEMU guest agent is not connected");
    let e = d.domain_time(&name("a2"), 0).await.expect_err("no channel");
    assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
    assert_eq!(e.detail, "QEMU guest agent is not configured");
    let e = d
        .shutdown_domain(&name("a1"), AGENT)
        .await
        .expect_err("agent only");
    assert_eq!(e.code, ErrorCode::AgentUnresponsive);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(
        d.domain_state(&name("a1"), 0).await.expect("state").1.state,
        DomainState::Running
    );

    // The agent timeout: checked, kept in the status file, back after a reattach.
    let e = d
        .set_agent_response_timeout(&name("a1"), -3, 0)
        .await
        .expect_err("below block");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    d.set_agent_response_timeout(&name("a1"), 7, 0)
        .await
        .expect("set");
    let status = std::fs::read_to_string(root.path().join("run/virt/qemu/a1.xml")).expect("status");
    assert!(status.contains("<agentTimeout seconds='7'/>"), "{status}");
    drop(d);
    let d = open(root.path());
    d.start_guests().await;
    assert_eq!(
        d.lock().get(&name("a1")).expect("a1").agent_timeout,
        AgentTimeout::Seconds(7)
    );
    assert!(d
        .domain_xml(&name("a1"), 0)
        .await
        .expect("xml")
        .contains("state='disconnected'"));

    // ACPI|AGENT: the agent is not there, so the power button; SeaBIOS ignores it, which is
    // fine: the call succeeded through ACPI rather than failing on the agent.
    d.shutdown_domain(&name("a1"), ACPI | AGENT)
        .await
        .expect("falls back to ACPI");
    d.destroy_domain(&name("a1"), 0).await.expect("destroy");
    assert_eq!(
        d.domain_state(&name("a1"), 0).await.expect("state").1,
        StateReason::new(DomainState::Shutoff, reason::shutoff::DESTROYED)
    );
    assert!(!dir.exists(), "the channel dir outlived the guest");
    d.destroy_domain(&name("a2"), 0).await.expect("destroy");
}
