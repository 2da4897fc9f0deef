//! The daemons' `/metrics` endpoint (issue 16, part 5), through the real virtqemud binary.
//!
//! - A non-loopback `--metrics-listen` is refused at start with a clear error.
//! - On a UNIX socket (mode 0600): daemon facts, `libvirt_up 1`, no domains; the output passes
//!   `promtool check metrics` (Prometheus text) and Python prometheus_client's strict
//!   OpenMetrics parser (OpenMetrics text).
//! - With two running TCG guests (a qcow2 disk and a tap each, in a network namespace of the
//!   test's own): the scrape's values match GetAllDomainStats's (state running = 1, cpu time
//!   above zero, memory, block and interface counters under `target_device`), the call
//!   counters count the calls this test made with their codes (NotFound for a missing
//!   domain), the connected clients gauge follows the test's connection, and both formats
//!   validate.
//!
//! promtool 2.42 (Debian 12) lints with the 0.0.4 text parser, which takes an OpenMetrics
//! counter's `_total` samples for a family of their own without HELP: on the OpenMetrics output
//! the test accepts exactly those "no help text" lines (and nothing else) from promtool and
//! leaves strict validation to prometheus_client's OpenMetrics parser.
//!
//! Needs promtool (Debian's `prometheus`) and `python3-prometheus-client`; skips with a
//! printed reason without them unless VIRT_REQUIRE_METRICS is set (tools/test-all.sh sets it).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_tests::workspace_bin;

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn required() -> bool {
    std::env::var_os("VIRT_REQUIRE_METRICS").is_some()
}

/// Whether the validators are installed; prints why not (or fails when required).
fn validators_present() -> bool {
    let promtool = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let python = Command::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if promtool && python {
        return true;
    }
    let why = format!(
        "promtool present: {promtool}, python3-prometheus-client present: {python} \
         (apt-get install prometheus python3-prometheus-client)"
    );
    assert!(!required(), "VIRT_REQUIRE_METRICS is set but {why}");
    eprintln!("skipped: {why}");
    false
}

/// A daemon process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_virtqemud(root: &Path, metrics: &str) -> Proc {
    let child = Command::new(workspace_bin("virtqemud"))
        .arg("--root")
        .arg(root)
        .args(["--metrics-listen", metrics])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn virtqemud");
    // The metrics endpoint is bound after the gRPC sockets, before READY: wait for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = match metrics.strip_prefix("unix:") {
            Some(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            None => std::net::TcpStream::connect(metrics).is_ok(),
        };
        if up {
            break;
        }
        assert!(Instant::now() < deadline, "virtqemud did not start in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Where to scrape.
enum Target {
    Tcp(String),
    Unix(PathBuf),
}

/// `GET /metrics` with `accept`: (status line, headers lowercased, body).
fn scrape(target: &Target, accept: Option<&str>) -> (String, String, String) {
    let mut req = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n".to_string();
    if let Some(a) = accept {
        req.push_str(&format!("Accept: {a}\r\n"));
    }
    req.push_str("\r\n");
    let mut raw = Vec::new();
    match target {
        Target::Tcp(addr) => {
            let mut s = std::net::TcpStream::connect(addr).expect("connect metrics");
            s.write_all(req.as_bytes()).expect("send");
            s.read_to_end(&mut raw).expect("read");
        }
        Target::Unix(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path).expect("connect metrics");
            s.write_all(req.as_bytes()).expect("send");
            s.read_to_end(&mut raw).expect("read");
        }
    }
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_string(),
        headers.to_ascii_lowercase(),
        body.to_string(),
    )
}

/// Parses the sample lines of a text exposition (labels unescaped).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels = BTreeMap::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut val = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some('n') => val.push('\n'),
                                Some(c) => val.push(c),
                                None => panic!("dangling escape in {line}"),
                            },
                            '"' => break,
                            c => val.push(c),
                        }
                    }
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                    labels.insert(key, val);
                }
                (name.to_string(), labels)
            }
        };
        out.push((name, labels, value));
    }
    out
}

fn find(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

fn get(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    find(samples, name, want).unwrap_or_else(|| panic!("no sample {name} {want:?}"))
}

/// `promtool check metrics` on `text`: (exit code, its output).
fn promtool(text: &str) -> (i32, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let mut msg = String::from_utf8_lossy(&out.stdout).into_owned();
    msg.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), msg)
}

/// Both formats validate: Prometheus text through promtool, OpenMetrics through
/// prometheus_client's strict parser and, for what promtool 2.42 can check, promtool.
fn validate(prom: &str, om: &str) {
    let (rc, msg) = promtool(prom);
    assert_eq!(
        rc, 0,
        "promtool check metrics on the Prometheus text: {msg}\n{prom}"
    );
    let mut py = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
             fams = list(p(sys.stdin.read()))\nprint(len(fams))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    py.stdin
        .take()
        .expect("stdin")
        .write_all(om.as_bytes())
        .expect("feed python");
    let out = py.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "OpenMetrics parser refused the output: {}\n{om}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (rc, msg) = promtool(om);
    let unexpected: Vec<&str> = msg
        .lines()
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            !(l.ends_with("no help text") && name.ends_with("_total"))
        })
        .collect();
    assert!(
        (rc == 0 || rc == 3) && unexpected.is_empty(),
        "promtool on the OpenMetrics text (rc {rc}): {unexpected:?}"
    );
}

#[test]
fn a_non_loopback_metrics_address_is_refused_at_start() {
    let root = tempfile::tempdir().expect("root");
    let out = Command::new(workspace_bin("virtqemud"))
        .arg("--root")
        .arg(root.path())
        .args(["--metrics-listen", "0.0.0.0:9177"])
        .stdin(Stdio::null())
        .output()
        .expect("run virtqemud");
    assert!(
        !out.status.success(),
        "virtqemud must refuse a non-loopback address"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--metrics-listen") && err.contains("0.0.0.0:9177 is not a loopback address"),
        "{err}"
    );
    assert!(
        !root.path().join("run/virt/virtqemud-sock").exists(),
        "refused before binding anything"
    );
}

#[test]
#[cfg_attr(
    not(feature = "system-tests"),
    ignore = "needs promtool; run with --features system-tests"
)]
fn metrics_on_a_unix_socket_serve_daemon_facts_in_both_formats() {
    if !validators_present() {
        return;
    }
    let root = tempfile::tempdir().expect("root");
    let sock = root.path().join("metrics.sock");
    let _daemon = spawn_virtqemud(root.path(), &format!("unix:{}", sock.display()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock)
        .expect("metrics socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "metrics socket mode");
    let target = Target::Unix(sock.clone());
    let (status, headers, prom) = scrape(&target, None);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    let s = parse(&prom);
    assert_eq!(get(&s, "virt_daemon_info", &[("daemon", "virtqemud")]), 1.0);
    assert_eq!(get(&s, "libvirt_up", &[]), 1.0);
    assert_eq!(get(&s, "libvirt_domains", &[]), 0.0);
    assert!(get(&s, "virt_daemon_uptime_seconds", &[]) >= 0.0);
    let (_, headers, om) = scrape(&target, Some("application/openmetrics-text; version=1.0.0"));
    assert!(
        headers.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    assert!(om.ends_with("# EOF\n"));
    validate(&prom, &om);

    // A write on the read-only socket is refused by the daemon before the service (a
    // trailers-only answer from the read-only layer): counted PermissionDenied; the open
    // connection is a client. The client is opened read-write so that it sends the call (a
    // read-only client refuses it itself).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let ro = root.path().join("run/virt/virtqemud-sock-ro");
    let uri = format!("qemu+unix:///system?socket={}", ro.display());
    let conn = rt.block_on(async {
        let conn = virt_client::Connection::open(Some(&uri), false)
            .await
            .expect("connect to the read-only socket");
        let err = conn
            .define(&virt_tests::domain_xml("ro"), 0)
            .await
            .expect_err("read-only define");
        assert!(err.to_string().contains("read only"), "{err}");
        conn
    });
    let (_, _, prom) = scrape(&target, None);
    let s = parse(&prom);
    let define = [
        ("grpc_service", "virt.v1.DomainService"),
        ("grpc_method", "DefineDomain"),
    ];
    assert_eq!(
        get(
            &s,
            "grpc_server_handled_total",
            &[define[0], define[1], ("grpc_code", "PermissionDenied")]
        ),
        1.0,
        "{prom}"
    );
    assert_eq!(get(&s, "grpc_server_started_total", &define), 1.0);
    assert_eq!(get(&s, "virt_daemon_connected_clients", &[]), 1.0, "{prom}");
    drop(conn);
}

fn guest_xml(name: &str, n: u8, kernel: &Path, initrd: &Path, disk: &Path) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name>\
         <memory unit='MiB'>128</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
         <cmdline>{}</cmdline></os><features><acpi/></features>\
         <devices>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <interface type='ethernet'><mac address='52:54:00:3e:00:{n:02x}'/>\
         <target dev='mtap{n}'/><model type='virtio'/></interface>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <memballoon model='virtio'/></devices></domain>",
        kernel.display(),
        initrd.display(),
        virt_tests::guest::GUEST_CMDLINE,
        disk.display()
    )
}

/// The bulk stats of the record for `name` as a key -> number map (strings as NaN).
fn stats_of(
    records: &[virt_core::proto::DomainStatsRecord],
    name: &str,
) -> BTreeMap<String, (f64, String)> {
    let rec = records
        .iter()
        .find(|r| r.domain.as_ref().is_some_and(|d| d.name == name))
        .unwrap_or_else(|| panic!("no stats for {name}"));
    rec.params
        .iter()
        .filter_map(virt_core::proto_conv::param_from)
        .map(|tp| {
            let v = match &tp.value {
                virt_core::types::TypedValue::Int(v) => (f64::from(*v), String::new()),
                virt_core::types::TypedValue::UInt(v) => (f64::from(*v), String::new()),
                virt_core::types::TypedValue::LLong(v) => (*v as f64, String::new()),
                virt_core::types::TypedValue::ULLong(v) => (*v as f64, String::new()),
                virt_core::types::TypedValue::Double(v) => (*v, String::new()),
                virt_core::types::TypedValue::Bool(v) => (f64::from(u8::from(*v)), String::new()),
                virt_core::types::TypedValue::String(s) => (f64::NAN, s.clone()),
            };
            (tp.field, v)
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(all(feature = "qemu-tests", feature = "system-tests")),
    ignore = "boots real guests; run with --features qemu-tests,system-tests"
)]
fn a_scrape_of_running_guests_matches_their_bulk_stats_and_counts_the_calls() {
    use virt_tests::qemu::{qcow2, virt_ok, QemuGuard};
    if !validators_present() {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        assert!(
            !required(),
            "VIRT_REQUIRE_METRICS is set but the guests' taps need root"
        );
        eprintln!("skipped: the guests' taps and the network namespace need root");
        return;
    }
    let image = virt_tests::guest::test_guest().expect("test guest");
    // The taps and the loopback scrape stay in a network namespace of this thread's own;
    // every process spawned from here inherits it. virtqemud reads a tap's counters from
    // /sys/class/net, which shows the namespace of whoever mounted sysfs: a mount namespace
    // with a sysfs mounted from inside the new network namespace shows the taps.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET | nix::sched::CloneFlags::CLONE_NEWNS)
        .expect("unshare the network and mount namespaces");
    for args in [
        &["ip", "link", "set", "lo", "up"][..],
        &["mount", "--make-rprivate", "/"],
        &["mount", "-t", "sysfs", "sysfs", "/sys"],
    ] {
        let st = Command::new(args[0])
            .args(&args[1..])
            .status()
            .expect("run");
        assert!(st.success(), "{args:?}");
    }

    let root_dir = tempfile::tempdir().expect("root");
    let root = root_dir.path();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _guard = QemuGuard::new(root);
    let _daemon = spawn_virtqemud(root, &addr);
    let names = ["m1", "m2"];
    for (i, name) in names.iter().enumerate() {
        let n = i as u8 + 1;
        let disk = root.join(format!("{name}.qcow2"));
        qcow2(&disk, "16M");
        let file = root.join(format!("{name}.xml"));
        std::fs::write(
            &file,
            guest_xml(name, n, &image.kernel, &image.initrd, &disk),
        )
        .expect("xml");
        virt_ok(root, &["define", &file.display().to_string()]);
        virt_ok(root, &["start", name]);
    }
    std::thread::sleep(Duration::from_millis(300));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sock = root.join("run/virt/virtqemud-sock");
    let uri = format!("qemu+unix:///system?socket={}", sock.display());
    let (conn, records) = rt.block_on(async {
        let conn = virt_client::Connection::open(Some(&uri), false)
            .await
            .expect("connect");
        for missing in ["no-such-guest", "nor-this-one"] {
            let err = conn
                .lookup(&virt_core::types::DomainLookup::Name(missing.to_string()))
                .await
                .expect_err("missing domain");
            assert!(err.to_string().contains(missing), "{err}");
        }
        let records = conn.all_domain_stats(0, 0).await.expect("bulk stats");
        (conn, records)
    });

    let target = Target::Tcp(addr.clone());
    // The CLI's connections have closed by now (or close very soon): only the test's remains.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (prom, s) = loop {
        let (status, _, prom) = scrape(&target, None);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let s = parse(&prom);
        if get(&s, "virt_daemon_connected_clients", &[]) == 1.0 || Instant::now() > deadline {
            break (prom, s);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(get(&s, "virt_daemon_connected_clients", &[]), 1.0, "{prom}");
    assert_eq!(get(&s, "libvirt_up", &[]), 1.0);
    assert_eq!(get(&s, "libvirt_domains", &[]), 2.0);

    for name in names {
        let st = stats_of(&records, name);
        let dom = ("domain", name);
        let num = |k: &str| {
            st.get(k)
                .unwrap_or_else(|| panic!("{name}: no {k} in {st:?}"))
                .0
        };
        let text = |k: &str| {
            st.get(k)
                .unwrap_or_else(|| panic!("{name}: no {k}"))
                .1
                .clone()
        };
        let uuid = records
            .iter()
            .filter_map(|r| r.domain.as_ref())
            .find(|d| d.name == name)
            .map(|d| d.uuid.clone())
            .expect("uuid");
        assert_eq!(
            get(&s, "libvirt_domain_info_vstate", &[dom]),
            1.0,
            "running"
        );
        assert_eq!(num("state.state"), 1.0);
        assert_eq!(
            get(
                &s,
                "libvirt_domain_info_vstate",
                &[dom, ("uuid", uuid.as_str())]
            ),
            1.0
        );
        let cpu = get(&s, "libvirt_domain_info_cpu_time_seconds_total", &[dom]);
        assert!(cpu > 0.0, "cpu time");
        assert!(
            cpu >= num("cpu.time") / 1e9,
            "scrape after the call: {cpu} >= {}",
            num("cpu.time") / 1e9
        );
        assert!(
            cpu < num("cpu.time") / 1e9 + 30.0,
            "same counter: {cpu} vs {}",
            num("cpu.time") / 1e9
        );
        assert_eq!(
            get(&s, "libvirt_domain_info_maximum_memory_bytes", &[dom]),
            num("balloon.maximum") * 1024.0
        );
        assert_eq!(
            get(&s, "libvirt_domain_info_memory_usage_bytes", &[dom]),
            num("balloon.current") * 1024.0
        );
        assert_eq!(
            get(&s, "libvirt_domain_info_virtual_cpus", &[dom]),
            num("vcpu.current")
        );
        assert!(
            get(
                &s,
                "libvirt_domain_vcpu_time_seconds_total",
                &[dom, ("vcpu", "0")]
            ) > 0.0
        );

        let disk = text("block.0.name");
        assert_eq!(disk, "vda");
        let dev = ("target_device", disk.as_str());
        assert_eq!(
            get(&s, "libvirt_domain_block_stats_capacity_bytes", &[dom, dev]),
            num("block.0.capacity")
        );
        assert_eq!(num("block.0.capacity"), 16.0 * 1024.0 * 1024.0);
        assert!(
            get(
                &s,
                "libvirt_domain_block_stats_read_bytes_total",
                &[dom, dev]
            ) >= num("block.0.rd.bytes")
        );
        let path = text("block.0.path");
        assert_eq!(
            get(
                &s,
                "libvirt_domain_block_meta",
                &[dom, dev, ("source_file", path.as_str())]
            ),
            1.0
        );

        assert!(
            st.contains_key("net.0.rx.bytes"),
            "{name}: no net.0.rx.bytes in {st:?}"
        );
        let nic = text("net.0.name");
        assert!(nic.starts_with("mtap"), "{nic}");
        let dev = ("target_device", nic.as_str());
        assert!(
            get(
                &s,
                "libvirt_domain_interface_stats_receive_bytes_total",
                &[dom, dev]
            ) >= num("net.0.rx.bytes")
        );
        assert!(
            get(
                &s,
                "libvirt_domain_interface_stats_transmit_packets_total",
                &[dom, dev]
            ) >= num("net.0.tx.pkts")
        );
        // Every numeric key has a sample: mapped, or under the fallback family.
        for (key, (v, _)) in &st {
            if v.is_nan() {
                continue;
            }
            let fallback = find(&s, "libvirt_domain_stat", &[dom, ("key", key.as_str())]).is_some();
            let mapped = [
                "state.state",
                "cpu.time",
                "balloon.current",
                "balloon.maximum",
                "vcpu.current",
            ]
            .contains(&key.as_str())
                || key.starts_with("vcpu.")
                || key.starts_with("block.0.")
                || key.starts_with("net.0.")
                || key.starts_with("balloon.");
            assert!(fallback || mapped, "{key} has no sample");
        }
    }

    // The calls this test made, with their codes.
    let svc = ("grpc_service", "virt.v1.DomainService");
    assert_eq!(
        get(
            &s,
            "grpc_server_handled_total",
            &[
                svc,
                ("grpc_method", "LookupDomain"),
                ("grpc_code", "NotFound")
            ]
        ),
        2.0,
        "{prom}"
    );
    let stats = [
        ("grpc_service", "virt.v1.StatsService"),
        ("grpc_method", "GetAllDomainStats"),
    ];
    assert_eq!(get(&s, "grpc_server_started_total", &stats), 1.0);
    assert_eq!(
        get(
            &s,
            "grpc_server_handled_total",
            &[stats[0], stats[1], ("grpc_code", "OK")]
        ),
        1.0
    );
    assert_eq!(get(&s, "grpc_server_handling_seconds_count", &stats), 1.0);
    assert_eq!(
        get(
            &s,
            "grpc_server_handling_seconds_bucket",
            &[stats[0], stats[1], ("le", "+Inf")]
        ),
        1.0
    );
    assert!(get(&s, "grpc_server_handling_seconds_sum", &stats) > 0.0);

    let (_, _, om) = scrape(&target, Some("application/openmetrics-text; version=1.0.0"));
    validate(&prom, &om);

    // The connection closed: no client left.
    drop(conn);
    drop(rt);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, _, prom) = scrape(&target, None);
        let clients = get(&parse(&prom), "virt_daemon_connected_clients", &[]);
        if clients == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "clients still {clients}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for name in names {
        virt_ok(root, &["destroy", name]);
    }
}
