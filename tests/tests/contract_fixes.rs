//! The gRPC contract as a client in any language sees it (issue 11, points 5 to 8), through the
//! daemon socket: the ENFORCE_STATS bit without a negative constant, typed lifecycle details,
//! one ErrorInfo domain with typed metadata (NO_DOMAIN names what was asked for; XML that is not
//! well-formed carries line and column), and the event sequence number a client can resume from.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;
use virt_core::proto::domain_event::Payload;
use virt_core::proto::domain_service_client::DomainServiceClient;
use virt_core::proto::event_service_client::EventServiceClient;
use virt_core::proto::lifecycle_event::TypedDetail;
use virt_core::proto::stats_service_client::StatsServiceClient;
use virt_core::proto::stream_events_response::Item;
use virt_core::proto::{
    domain_ref, CreateDomainRequest, DefineDomainRequest, DestroyDomainRequest, DomainEvent,
    DomainRef, DomainStatsFlag, DomainStatsGroup, GetAllDomainStatsRequest, GetDomainInfoRequest,
    GetEventSequenceRequest, LifecycleDefinedDetail, LifecycleEventType, LifecycleStartedDetail,
    LifecycleStoppedDetail, StreamEventsRequest, StreamEventsResponse,
};
use virt_tests::{domain_xml, raw_channel, with_uri, DaemonUnderTest};

const URI: &str = "test:///default";

fn by(r: domain_ref::Ref) -> Option<DomainRef> {
    Some(DomainRef { r#ref: Some(r) })
}

fn by_name(n: &str) -> Option<DomainRef> {
    by(domain_ref::Ref::Name(n.into()))
}

async fn define(ch: &tonic::transport::Channel, xml: String) -> Result<(), tonic::Status> {
    DomainServiceClient::new(ch.clone())
        .define_domain(with_uri(DefineDomainRequest { xml, flags: 0 }, URI))
        .await
        .map(|_| ())
}

async fn next_event(s: &mut tonic::Streaming<StreamEventsResponse>) -> DomainEvent {
    let msg = tokio::time::timeout(Duration::from_secs(10), s.message())
        .await
        .expect("an event in time")
        .expect("stream ok")
        .expect("stream open");
    match msg.item {
        Some(Item::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// (type, libvirt detail, typed detail) of a lifecycle event.
fn lifecycle(e: &DomainEvent) -> (i32, i32, Option<TypedDetail>) {
    match &e.payload {
        Some(Payload::Lifecycle(l)) => (l.r#type, l.detail, l.typed_detail),
        other => panic!("expected a lifecycle event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enforce_stats_field_sets_bit_31_like_the_flag() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut stats = StatsServiceClient::new(raw_channel(&daemon.socket).await);
    let cpu = DomainStatsGroup::CpuTotal as u32;
    // The test driver serves the state group only: without ENFORCE_STATS the others are skipped.
    stats
        .get_all_domain_stats(with_uri(
            GetAllDomainStatsRequest {
                stats: cpu,
                flags: 0,
                enforce_stats: false,
            },
            URI,
        ))
        .await
        .expect("unsupported groups are skipped without ENFORCE_STATS");
    let by_field = stats
        .get_all_domain_stats(with_uri(
            GetAllDomainStatsRequest {
                stats: cpu,
                flags: 0,
                enforce_stats: true,
            },
            URI,
        ))
        .await
        .expect_err("enforce_stats refuses an unsupported group");
    let by_bit = stats
        .get_all_domain_stats(with_uri(
            GetAllDomainStatsRequest {
                stats: cpu,
                flags: DomainStatsFlag::EnforceStats as i32 as u32,
                enforce_stats: false,
            },
            URI,
        ))
        .await
        .expect_err("bit 31 refuses an unsupported group");
    assert_eq!(by_field.code(), Code::InvalidArgument);
    assert_eq!(by_field.code(), by_bit.code());
    assert_eq!(by_field.message(), by_bit.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_events_carry_typed_details_beside_libvirts_numbers() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let ch = raw_channel(&daemon.socket).await;
    let mut events = EventServiceClient::new(ch.clone());
    let mut s = events
        .stream_events(with_uri(
            StreamEventsRequest {
                domain: by_name("typed1"),
                ..Default::default()
            },
            URI,
        ))
        .await
        .expect("stream")
        .into_inner();
    define(&ch, domain_xml("typed1")).await.expect("define");
    let mut dom = DomainServiceClient::new(ch.clone());
    dom.create_domain(with_uri(
        CreateDomainRequest {
            domain: by_name("typed1"),
            flags: 0,
        },
        URI,
    ))
    .await
    .expect("start");
    dom.destroy_domain(with_uri(
        DestroyDomainRequest {
            domain: by_name("typed1"),
            flags: 0,
        },
        URI,
    ))
    .await
    .expect("destroy");

    assert_eq!(
        lifecycle(&next_event(&mut s).await),
        (
            LifecycleEventType::Defined as i32,
            0,
            Some(TypedDetail::Defined(LifecycleDefinedDetail::Added as i32))
        )
    );
    assert_eq!(
        lifecycle(&next_event(&mut s).await),
        (
            LifecycleEventType::Started as i32,
            0,
            Some(TypedDetail::Started(LifecycleStartedDetail::Booted as i32))
        )
    );
    // libvirt's STOPPED detail DESTROYED is 1 (the shut-off state reason DESTROYED is 2); the
    // typed detail names it.
    assert_eq!(
        lifecycle(&next_event(&mut s).await),
        (
            LifecycleEventType::Stopped as i32,
            1,
            Some(TypedDetail::Stopped(
                LifecycleStoppedDetail::Destroyed as i32
            ))
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_has_one_info_domain_and_no_domain_names_what_was_asked() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let mut dom = DomainServiceClient::new(raw_channel(&daemon.socket).await);
    for (r, key, value) in [
        (domain_ref::Ref::Name("nope".into()), "name", "nope"),
        (
            domain_ref::Ref::Uuid("6695eb01-f6a4-8304-79aa-97f2502e1930".into()),
            "uuid",
            "6695eb01-f6a4-8304-79aa-97f2502e1930",
        ),
        (domain_ref::Ref::Id(4242), "id", "4242"),
    ] {
        let st = dom
            .get_domain_info(with_uri(GetDomainInfoRequest { domain: by(r) }, URI))
            .await
            .expect_err("no such domain");
        assert_eq!(st.code(), Code::NotFound);
        let info = st.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("NO_DOMAIN", "virt")
        );
        assert_eq!(
            info.metadata.get("error_domain").map(String::as_str),
            Some("TEST")
        );
        assert_eq!(
            info.metadata.get("code").map(String::as_str),
            Some("42"),
            "code is libvirt's number"
        );
        assert_eq!(info.metadata.get(key).map(String::as_str), Some(value));
    }
    // A refusal from another module (the domain-config layer) keeps the same ErrorInfo domain.
    let st = dom
        .create_domain(with_uri(
            CreateDomainRequest {
                domain: by_name("test"),
                flags: 0,
            },
            URI,
        ))
        .await
        .expect_err("already running");
    let info = st.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.domain, "virt");
    assert!(info.metadata.contains_key("error_domain"), "{info:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn define_of_xml_that_is_not_well_formed_has_a_bad_request_with_line_and_column() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let ch = raw_channel(&daemon.socket).await;
    let xml = "<domain type='test'>\n  <name>bad</name>\n  <memory>1</memory\n</domain>\n";
    let st = define(&ch, xml.into()).await.expect_err("malformed");
    assert_eq!(st.code(), Code::InvalidArgument);
    let info = st.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "XML_ERROR");
    assert_eq!(info.metadata.get("line").map(String::as_str), Some("3"));
    let column: u32 = info.metadata["column"]
        .parse()
        .expect("column is an integer");
    assert!(column > 0);
    let bad = st.get_details_bad_request().expect("BadRequest");
    assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
    assert_eq!(bad.field_violations[0].field, "xml");
    assert!(
        bad.field_violations[0]
            .description
            .starts_with(&format!("line 3, column {column}: ")),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn event_sequence_read_before_subscribing_resumes_without_loss() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let ch = raw_channel(&daemon.socket).await;
    let mut events = EventServiceClient::new(ch.clone());
    let next = events
        .get_event_sequence(with_uri(GetEventSequenceRequest {}, URI))
        .await
        .expect("sequence")
        .into_inner()
        .next_sequence;
    assert!(next >= 1);
    // Events happen before the client subscribes: from_sequence = what it read gets them all.
    define(&ch, domain_xml("seq1")).await.expect("define");
    define(&ch, domain_xml("seq2")).await.expect("define");
    let after = events
        .get_event_sequence(with_uri(GetEventSequenceRequest {}, URI))
        .await
        .expect("sequence")
        .into_inner()
        .next_sequence;
    assert_eq!(after, next + 2, "one event per define");
    // The Rust client reads the same, and a read-only connection may ask.
    let ro = virt_client::Connection::open(Some(&daemon.test_uri(true)), true)
        .await
        .expect("read-only connection");
    assert_eq!(
        ro.get_event_sequence().await.expect("allowed read-only"),
        after
    );
    let mut s = events
        .stream_events(with_uri(
            StreamEventsRequest {
                from_sequence: Some(next),
                ..Default::default()
            },
            URI,
        ))
        .await
        .expect("stream")
        .into_inner();
    let first = next_event(&mut s).await;
    let second = next_event(&mut s).await;
    assert_eq!(
        (first.sequence, first.domain.expect("domain").name.as_str()),
        (next, "seq1")
    );
    assert_eq!(
        (
            second.sequence,
            second.domain.expect("domain").name.as_str()
        ),
        (next + 1, "seq2")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_filtered_by_a_domain_not_yet_defined_arrive_once_it_is() {
    let daemon = DaemonUnderTest::proxy(&[]);
    let ch = raw_channel(&daemon.socket).await;
    let mut events = EventServiceClient::new(ch.clone());
    let uuid = "6695eb01-f6a4-8304-79aa-97f2502e19aa";
    let mut by_name_stream = events
        .stream_events(with_uri(
            StreamEventsRequest {
                domain: by_name("later1"),
                ..Default::default()
            },
            URI,
        ))
        .await
        .expect("a name not defined yet is not NOT_FOUND")
        .into_inner();
    let mut by_uuid_stream = events
        .stream_events(with_uri(
            StreamEventsRequest {
                domain: by(domain_ref::Ref::Uuid(uuid.into())),
                ..Default::default()
            },
            URI,
        ))
        .await
        .expect("a UUID not defined yet is not NOT_FOUND")
        .into_inner();
    // An ID names a running domain or nothing: that stays NOT_FOUND.
    let st = events
        .stream_events(with_uri(
            StreamEventsRequest {
                domain: by(domain_ref::Ref::Id(4242)),
                ..Default::default()
            },
            URI,
        ))
        .await
        .expect_err("no running domain has ID 4242");
    assert_eq!(st.code(), Code::NotFound);

    define(&ch, domain_xml("other1")).await.expect("define");
    define(&ch, domain_xml("later1")).await.expect("define");
    let with_uuid =
        domain_xml("later2").replacen("<name>", &format!("<uuid>{uuid}</uuid>\n  <name>"), 1);
    define(&ch, with_uuid).await.expect("define");

    let e = next_event(&mut by_name_stream).await;
    assert_eq!(e.domain.expect("domain").name, "later1");
    let e = next_event(&mut by_uuid_stream).await;
    let d = e.domain.expect("domain");
    assert_eq!((d.name.as_str(), d.uuid.as_str()), ("later2", uuid));
}
