use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tonic::codegen::Bytes;
use tower::{Layer, Service, ServiceExt};

use super::calls::{CallLayer, CallStats};
use super::domain::{add_record, Families};
use super::text::{escape_label_value, Format, Kind, Num, Writer};
use super::*;
use crate::types::{DomainHandle, StatsRecord, TypedParam, TypedValue};
use crate::uuid::Uuid;

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    let mut out = String::new();
    escape_label_value("a\\b\"c\nd", &mut out);
    assert_eq!(out, "a\\\\b\\\"c\\nd");
    let mut w = Writer::new(Format::Prometheus);
    w.family("x", Kind::Gauge, "help with \\ and\nnewline \"q\"");
    w.sample("x", &[("domain", "we\"ird\nname")], Num::U(1));
    let text = w.finish();
    assert_eq!(
        text,
        "# HELP x help with \\\\ and\\nnewline \"q\"\n# TYPE x gauge\nx{domain=\"we\\\"ird\\nname\"} 1\n"
    );
}

#[test]
fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
    let mut w = Writer::new(Format::OpenMetrics);
    w.family("calls_total", Kind::Counter, "Calls \"made\".");
    w.sample("calls_total", &[("m", "a")], Num::U(3));
    let text = w.finish();
    assert_eq!(
        text,
        "# HELP calls Calls \\\"made\\\".\n# TYPE calls counter\ncalls_total{m=\"a\"} 3\n# EOF\n"
    );
    let mut p = Writer::new(Format::Prometheus);
    p.family("calls_total", Kind::Counter, "Calls.");
    assert!(p
        .finish()
        .starts_with("# HELP calls_total Calls.\n# TYPE calls_total counter\n"));
}

#[test]
fn numbers_print_exactly_and_special_floats_as_the_format_spells_them() {
    assert_eq!(Num::U(u64::MAX).to_string(), "18446744073709551615");
    assert_eq!(Num::I(-5).to_string(), "-5");
    assert_eq!(Num::F(2.5).to_string(), "2.5");
    assert_eq!(Num::F(1.0).to_string(), "1");
    assert_eq!(Num::F(f64::INFINITY).to_string(), "+Inf");
    assert_eq!(Num::F(f64::NEG_INFINITY).to_string(), "-Inf");
    assert_eq!(Num::F(f64::NAN).to_string(), "NaN");
}

#[test]
fn accept_header_picks_the_format() {
    assert_eq!(Format::from_accept(None), Format::Prometheus);
    assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
    let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
    assert!(Format::OpenMetrics
        .content_type()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(Format::Prometheus
        .content_type()
        .starts_with("text/plain; version=0.0.4"));
}

#[test]
fn metrics_listen_parses_loopback_and_unix_and_refuses_the_rest() {
    let p = |s: &str| s.parse::<MetricsListen>();
    assert_eq!(
        p("127.0.0.1:9177"),
        Ok(MetricsListen::Tcp("127.0.0.1:9177".parse().expect("addr")))
    );
    assert_eq!(
        p("[::1]:9177"),
        Ok(MetricsListen::Tcp("[::1]:9177".parse().expect("addr")))
    );
    assert_eq!(
        p("localhost:9"),
        Ok(MetricsListen::Tcp("127.0.0.1:9".parse().expect("addr")))
    );
    assert_eq!(
        p("unix:/run/virt/m.sock"),
        Ok(MetricsListen::Unix {
            path: "/run/virt/m.sock".into(),
            mode: 0o600
        })
    );
    let wide = p("unix:/run/m.sock,mode=0660").expect("valid");
    assert_eq!(
        wide,
        MetricsListen::Unix {
            path: "/run/m.sock".into(),
            mode: 0o660
        }
    );
    assert_eq!(wide.to_string(), "unix:/run/m.sock,mode=0660");
    assert_eq!(wide.to_string().parse::<MetricsListen>(), Ok(wide));
    for bad in ["0.0.0.0:9177", "192.168.1.2:80", "[::]:9177"] {
        let e = p(bad).expect_err(bad);
        assert!(
            matches!(e, MetricsListenError::NotLoopback(_)),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains("not a loopback address"), "{e}");
    }
    assert_eq!(p(""), Err(MetricsListenError::Empty));
    assert!(matches!(
        p("example.org:80"),
        Err(MetricsListenError::Invalid(_))
    ));
    assert!(matches!(
        p("unix:relative.sock"),
        Err(MetricsListenError::RelativePath(_))
    ));
    assert!(matches!(
        p("unix:/x.sock,mode=999"),
        Err(MetricsListenError::Mode(_))
    ));
}

fn record() -> StatsRecord {
    let s = |k: &str, v: &str| TypedParam::new(k, TypedValue::String(v.to_string()));
    let u = |k: &str, v: u64| TypedParam::new(k, TypedValue::ULLong(v));
    StatsRecord {
        handle: DomainHandle {
            name: "guest \"one\"".to_string(),
            uuid: Uuid([0x11; 16]),
            id: Some(3),
        },
        params: vec![
            TypedParam::new("state.state", TypedValue::Int(1)),
            TypedParam::new("state.reason", TypedValue::Int(1)),
            u("cpu.time", 2_500_000_000),
            u("balloon.current", 131_072),
            u("balloon.maximum", 262_144),
            TypedParam::new("vcpu.current", TypedValue::UInt(2)),
            TypedParam::new("vcpu.0.state", TypedValue::Int(1)),
            u("vcpu.0.time", 1_000_000_000),
            TypedParam::new("net.count", TypedValue::UInt(1)),
            s("net.0.name", "vnet7"),
            u("net.0.rx.bytes", 4242),
            u("net.0.tx.pkts", 7),
            TypedParam::new("block.count", TypedValue::UInt(1)),
            s("block.0.name", "vda"),
            s("block.0.path", "/var/lib/virt/images/one.qcow2"),
            u("block.0.rd.bytes", 512),
            u("block.0.wr.times", 3_000_000),
            u("block.0.capacity", 1 << 30),
            TypedParam::new("block.0.backingIndex", TypedValue::UInt(1)),
            TypedParam::new("dirtyrate.calc_status", TypedValue::Int(0)),
            s("cpu.cache.monitor.0.name", "mon0"),
            TypedParam::new("perf.cmt", TypedValue::Bool(true)),
        ],
    }
}

fn value(f: &Families, family: &str, want: &[(&str, &str)]) -> Num {
    let samples = f
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    samples
        .iter()
        .find(|(labels, _)| {
            want.iter()
                .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {family} sample with {want:?}: {samples:?}"))
}

#[test]
fn stats_keys_become_exporter_metrics_with_device_labels() {
    let mut f = Families::default();
    add_record(&record(), &mut f);
    let dom = ("domain", "guest \"one\"");
    let uuid = ("uuid", "11111111-1111-1111-1111-111111111111");
    assert_eq!(
        value(&f, "libvirt_domain_info_vstate", &[dom, uuid]),
        Num::I(1)
    );
    assert_eq!(
        value(&f, "libvirt_domain_info_cpu_time_seconds_total", &[dom]),
        Num::F(2.5)
    );
    assert_eq!(
        value(&f, "libvirt_domain_info_memory_usage_bytes", &[dom]),
        Num::U(128 << 20)
    );
    assert_eq!(
        value(&f, "libvirt_domain_info_maximum_memory_bytes", &[dom]),
        Num::U(256 << 20)
    );
    assert_eq!(
        value(&f, "libvirt_domain_info_virtual_cpus", &[dom]),
        Num::U(2)
    );
    assert_eq!(
        value(
            &f,
            "libvirt_domain_vcpu_time_seconds_total",
            &[dom, ("vcpu", "0")]
        ),
        Num::F(1.0)
    );
    assert_eq!(
        value(
            &f,
            "libvirt_domain_interface_stats_receive_bytes_total",
            &[dom, ("target_device", "vnet7")]
        ),
        Num::U(4242)
    );
    assert_eq!(
        value(
            &f,
            "libvirt_domain_interface_stats_transmit_packets_total",
            &[("target_device", "vnet7")]
        ),
        Num::U(7)
    );
    assert_eq!(
        value(
            &f,
            "libvirt_domain_block_stats_read_bytes_total",
            &[dom, ("target_device", "vda")]
        ),
        Num::U(512)
    );
    assert_eq!(
        value(
            &f,
            "libvirt_domain_block_stats_write_time_seconds_total",
            &[("target_device", "vda")]
        ),
        Num::F(0.003)
    );
    assert_eq!(
        value(
            &f,
            "libvirt_domain_block_stats_capacity_bytes",
            &[("target_device", "vda")]
        ),
        Num::U(1 << 30)
    );
    assert_eq!(
        value(
            &f,
            domain::BLOCK_META,
            &[
                ("target_device", "vda"),
                ("source_file", "/var/lib/virt/images/one.qcow2")
            ]
        ),
        Num::U(1)
    );
    // Nothing is dropped: unmapped numbers and strings have their fallback.
    for key in [
        "state.reason",
        "net.count",
        "block.count",
        "block.0.backingIndex",
        "dirtyrate.calc_status",
    ] {
        value(&f, domain::FALLBACK, &[("key", key)]);
    }
    assert_eq!(
        value(&f, domain::FALLBACK, &[("key", "perf.cmt")]),
        Num::U(1)
    );
    value(
        &f,
        domain::FALLBACK_INFO,
        &[("key", "cpu.cache.monitor.0.name"), ("value", "mon0")],
    );
    // Names and paths used as labels are not repeated as fallbacks.
    let info = f.get(domain::FALLBACK_INFO).expect("info");
    assert_eq!(info.len(), 1, "{info:?}");
    // Every mapped key's family is in the table the docs list.
    assert!(domain::table()
        .iter()
        .any(|(k, m, _, c)| k == "block.N.rd.times"
            && *m == "libvirt_domain_block_stats_read_time_seconds_total"
            && *c == "ns / 1e9"));
}

#[test]
fn a_device_without_a_name_is_labelled_by_its_index() {
    let mut f = Families::default();
    let rec = StatsRecord {
        handle: DomainHandle {
            name: "d".into(),
            uuid: Uuid([0; 16]),
            id: None,
        },
        params: vec![TypedParam::new("net.3.rx.bytes", TypedValue::ULLong(1))],
    };
    add_record(&rec, &mut f);
    value(
        &f,
        "libvirt_domain_interface_stats_receive_bytes_total",
        &[("target_device", "3")],
    );
}

#[tokio::test]
async fn a_scrape_makes_one_bulk_stats_call_and_renders_both_formats() {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = {
        let calls = calls.clone();
        DomainStatsSource::from_fn(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok((0..100).map(|_| record()).collect()) })
        })
    };
    let m = Metrics::new(
        "virtqemud",
        crate::runtime::conn::ConnTracker::new(),
        Some(source),
    );
    let prom = m.render(Format::Prometheus).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        prom.contains("virt_daemon_info{daemon=\"virtqemud\",version=\""),
        "{prom}"
    );
    assert!(prom.contains("\nlibvirt_up 1\n"));
    assert!(prom.contains("\nlibvirt_domains 100\n"));
    assert!(prom.contains("# TYPE libvirt_domain_info_cpu_time_seconds_total counter\n"));
    assert!(!prom.contains("# EOF"));
    let om = m.render(Format::OpenMetrics).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE libvirt_domain_info_cpu_time_seconds counter\n"));
    // Each family's header appears once.
    assert_eq!(
        om.matches("# TYPE libvirt_domain_block_stats_read_bytes counter")
            .count(),
        1
    );

    let failing = DomainStatsSource::from_fn(|| {
        Box::pin(async {
            Err(crate::error::VirtError::new(
                crate::error::ErrorCode::InternalError,
                crate::error::ErrorDomain::Qemu,
                "boom",
            ))
        })
    });
    let m = Metrics::new(
        "virtqemud",
        crate::runtime::conn::ConnTracker::new(),
        Some(failing),
    );
    let text = m.render(Format::Prometheus).await;
    assert!(text.contains("\nlibvirt_up 0\n"), "{text}");
}

type TestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

fn body_with_status(code: Option<&str>) -> TestBody {
    let mut frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
        vec![Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\0")))];
    if let Some(code) = code {
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", code.parse().expect("value"));
        frames.push(Ok(Frame::trailers(t)));
    }
    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
}

#[tokio::test]
async fn the_call_layer_counts_codes_from_headers_trailers_and_drops() {
    let stats = Arc::new(CallStats::default());
    let inner = tower::service_fn(|req: http::Request<()>| async move {
        let resp = match req.uri().path() {
            "/virt.v1.DomainService/LookupDomain" => {
                // Trailers-only: the status in the headers.
                let mut r = http::Response::new(body_with_status(None));
                r.headers_mut()
                    .insert("grpc-status", "5".parse().expect("v"));
                r
            }
            "/virt.v1.DomainService/Stream" => http::Response::new(body_with_status(None)),
            _ => http::Response::new(body_with_status(Some("0"))),
        };
        Ok::<_, std::convert::Infallible>(resp)
    });
    let mut svc = CallLayer::new(Some(stats.clone())).layer(inner);
    let req = |p: &str| http::Request::builder().uri(p).body(()).expect("req");

    let r = svc
        .ready()
        .await
        .expect("ready")
        .call(req("/virt.v1.DomainService/LookupDomain"))
        .await
        .expect("resp");
    drop(r);
    let r = svc
        .ready()
        .await
        .expect("ready")
        .call(req("/virt.v1.HostService/GetVersion"))
        .await
        .expect("resp");
    let collected = r.into_body().collect().await.expect("body");
    assert_eq!(
        collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
    // A stream whose body is dropped before its end: canceled.
    let r = svc
        .ready()
        .await
        .expect("ready")
        .call(req("/virt.v1.DomainService/Stream"))
        .await
        .expect("resp");
    drop(r);
    // A path that is no gRPC method counts as other/other.
    let r = svc
        .ready()
        .await
        .expect("ready")
        .call(req("/../etc/passwd"))
        .await
        .expect("resp");
    r.into_body().collect().await.expect("body");

    let snap: std::collections::HashMap<_, _> = stats.snapshot().into_iter().collect();
    let handled = |path: &str, code: usize| snap[path].handled[code].load(Ordering::Relaxed);
    assert_eq!(handled("/virt.v1.DomainService/LookupDomain", 5), 1);
    assert_eq!(
        handled("/virt.v1.DomainService/LookupDomain", 1),
        0,
        "not also canceled"
    );
    assert_eq!(handled("/virt.v1.HostService/GetVersion", 0), 1);
    assert_eq!(handled("/virt.v1.DomainService/Stream", 1), 1);
    assert_eq!(handled("/other/other", 0), 1);
    assert_eq!(
        snap["/virt.v1.HostService/GetVersion"]
            .started
            .load(Ordering::Relaxed),
        1
    );
    let count: u64 = snap["/virt.v1.HostService/GetVersion"]
        .buckets
        .iter()
        .map(|b| b.load(Ordering::Relaxed))
        .sum();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_endpoint_serves_get_metrics_on_a_unix_socket_with_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.sock");
    let listen: MetricsListen = format!("unix:{}", path.display()).parse().expect("addr");
    let bound = bind(&listen).await.expect("bind");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let m = Metrics::new(
        "virtnetworkd",
        crate::runtime::conn::ConnTracker::new(),
        None,
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(bound, m, stop_rx));
    let ask = |req: &'static str| {
        let path = path.clone();
        async move {
            let mut s = tokio::net::UnixStream::connect(&path)
                .await
                .expect("connect");
            s.write_all(req.as_bytes()).await.expect("write");
            let mut out = String::new();
            s.read_to_string(&mut out).await.expect("read");
            out
        }
    };
    let ok = ask("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.contains("content-type: text/plain; version=0.0.4"),
        "{ok}"
    );
    assert!(
        ok.contains("virt_daemon_info{daemon=\"virtnetworkd\""),
        "{ok}"
    );
    assert!(
        !ok.contains("libvirt_up"),
        "no domains for a daemon without a source"
    );
    let om = ask("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n").await;
    assert!(
        om.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    let nf = ask("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(nf.starts_with("HTTP/1.1 404"), "{nf}");
    let na =
        ask("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    assert!(na.starts_with("HTTP/1.1 405"), "{na}");
    stop_tx.send_replace(true);
    server.await.expect("server task");
    assert!(!path.exists(), "socket unlinked on stop");
}
