//! The lifecycle scenario through the daemon socket with the Rust client: define, start,
//! suspend, resume, shutdown, destroy, undefine — states, reasons, the events in order, a
//! stream reopened "from N", and the errors of wrong-state calls and unknown names.

use std::time::Duration;

use virt_client::{Connection, EventItem};
use virt_core::events::lifecycle as lc;
use virt_core::proto::domain_event::Payload;
use virt_core::state::{reason, DomainState};
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;
use virt_tests::{domain_xml, DaemonUnderTest};

fn name(n: &str) -> DomainLookup {
    DomainLookup::Name(n.into())
}

async fn state(c: &Connection, n: &str) -> (DomainState, i32) {
    let s = c.domain_state(&name(n)).await.expect("domain state");
    (DomainState::from_number(s.state), s.reason)
}

/// (sequence, libvirt lifecycle type, detail) of the next lifecycle event.
async fn next_lifecycle(s: &mut virt_client::EventStream) -> (u64, i32, i32) {
    let item = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("event within 5 s")
        .expect("stream ok")
        .expect("stream open");
    match item {
        EventItem::Event(e) => match e.payload {
            Some(Payload::Lifecycle(l)) => (e.sequence, lc::libvirt_type(&l), l.detail),
            other => panic!("expected a lifecycle event, got {other:?}"),
        },
        EventItem::Gap { first, last } => panic!("unexpected gap {first}..{last}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_scenario_through_daemon_socket() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let c = Connection::open(Some(&daemon.test_uri(false)), false)
        .await
        .expect("open connection");
    let mut events = c.stream_events(None, None, &[]).await.expect("subscribe");

    let d = c.define(&domain_xml("web1"), 0).await.expect("define");
    assert_eq!(d.name, "web1");
    assert_eq!(d.id, None);
    assert_eq!(
        state(&c, "web1").await,
        (DomainState::Shutoff, reason::shutoff::UNKNOWN)
    );

    // Wrong-state calls on a shut-off domain.
    for (what, err) in [
        ("suspend", c.suspend(&name("web1")).await.err()),
        ("resume", c.resume(&name("web1")).await.err()),
        ("destroy", c.destroy(&name("web1"), 0).await.err()),
        ("shutdown", c.shutdown(&name("web1"), 0).await.err()),
    ] {
        let e = err.unwrap_or_else(|| panic!("{what} on a shut-off domain must fail"));
        assert_eq!(e.code(), ErrorCode::OperationInvalid, "{what}");
        assert_eq!(
            e.to_string(),
            "Requested operation is not valid: domain is not running",
            "{what}"
        );
    }

    let started = c.create(&name("web1"), 0).await.expect("start");
    assert!(started.id.is_some(), "a started domain has an ID");
    assert_eq!(
        state(&c, "web1").await,
        (DomainState::Running, reason::running::BOOTED)
    );
    let e = c.create(&name("web1"), 0).await.expect_err("start twice");
    assert_eq!(e.code(), ErrorCode::OperationInvalid);
    assert!(e.to_string().ends_with("domain is already running"), "{e}");
    let e = c
        .resume(&name("web1"))
        .await
        .expect_err("resume a running domain");
    assert_eq!(e.code(), ErrorCode::OperationInvalid);

    c.suspend(&name("web1")).await.expect("suspend");
    assert_eq!(
        state(&c, "web1").await,
        (DomainState::Paused, reason::paused::USER)
    );
    c.resume(&name("web1")).await.expect("resume");
    assert_eq!(
        state(&c, "web1").await,
        (DomainState::Running, reason::running::UNPAUSED)
    );
    c.shutdown(&name("web1"), 0).await.expect("shutdown");
    assert_eq!(
        state(&c, "web1").await,
        (DomainState::Shutoff, reason::shutoff::SHUTDOWN)
    );
    c.create(&name("web1"), 0).await.expect("start again");
    c.destroy(&name("web1"), 0).await.expect("destroy");
    assert_eq!(
        state(&c, "web1").await,
        (DomainState::Shutoff, reason::shutoff::DESTROYED)
    );
    c.undefine(&name("web1"), 0).await.expect("undefine");
    let e = c
        .lookup(&name("web1"))
        .await
        .expect_err("gone after undefine");
    assert_eq!(e.code(), ErrorCode::NoDomain);
    assert_eq!(
        e.to_string(),
        "Domain not found: no domain with matching name 'web1'"
    );

    let expected = [
        (lc::DEFINED, lc::defined::ADDED),
        (lc::STARTED, lc::started::BOOTED),
        (lc::SUSPENDED, lc::suspended::PAUSED),
        (lc::RESUMED, lc::resumed::UNPAUSED),
        (lc::SHUTDOWN, lc::shutdown::FINISHED),
        (lc::STOPPED, lc::stopped::SHUTDOWN),
        (lc::STARTED, lc::started::BOOTED),
        (lc::STOPPED, lc::stopped::DESTROYED),
        (lc::UNDEFINED, lc::undefined::REMOVED),
    ];
    let mut seqs = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let (seq, ty, detail) = next_lifecycle(&mut events).await;
        assert_eq!((ty, detail), *want, "event #{i}");
        if let Some(prev) = seqs.last() {
            assert_eq!(seq, prev + 1, "sequence numbers increase by one");
        }
        seqs.push(seq);
    }

    // Reopen "from N": exactly the events from N on, nothing before, nothing extra.
    let n = seqs[4];
    let mut replay = c
        .stream_events(Some(n), None, &[])
        .await
        .expect("resubscribe");
    for (i, want) in expected[4..].iter().enumerate() {
        let (seq, ty, detail) = next_lifecycle(&mut replay).await;
        assert_eq!(seq, seqs[4 + i]);
        assert_eq!((ty, detail), *want);
    }
    let extra = tokio::time::timeout(Duration::from_millis(300), replay.next()).await;
    assert!(
        extra.is_err(),
        "no event beyond the replayed ones: {extra:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_domain_is_no_domain_for_every_lookup_form() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let c = Connection::open(Some(&daemon.test_uri(false)), false)
        .await
        .expect("open");
    for (l, msg) in [
        (
            DomainLookup::Name("nope".into()),
            "no domain with matching name 'nope'",
        ),
        (DomainLookup::Id(4242), "no domain with matching id 4242"),
        (
            DomainLookup::Uuid(
                virt_core::uuid::Uuid::parse("11111111-2222-3333-4444-555555555555").expect("uuid"),
            ),
            "no domain with matching uuid '11111111-2222-3333-4444-555555555555'",
        ),
    ] {
        let e = c.domain_info(&l).await.expect_err("unknown domain");
        assert_eq!(e.code(), ErrorCode::NoDomain);
        assert_eq!(e.to_string(), format!("Domain not found: {msg}"));
    }
}
