//! Issue 10's measuring stick: real-world domain XML, defined on libvirt 9.0's QEMU driver
//! (this machine's, `qemu:///system`) and on virtqemud (a daemon under a temporary root, through
//! virt-client), file by file.
//!
//! The corpus: what Debian's virt-install writes for the option sets of
//! `virt_tests::realworld::virtinstall::SETS` (generated now, against this machine's libvirt),
//! the shared corpus (../shared/corpus/domain-xml), and the `*.xml` of `VIRT_EXTRA_CORPUS` when
//! set (for one-off measurements such as virt-manager's tests/data/cli/compare files).
//!
//! * `realworld_define_matches_libvirt`: every file libvirt refuses at define, ours refuses too,
//!   naming the element (an XPath); of the files libvirt defines, the share ours defines
//!   unchanged is printed with a table of the others and our reasons, and must reach
//!   [`DEFINE_SHARE_MIN`].
//! * `realworld_defined_guests_start`: each file ours defines starts (temporary disk images where
//!   its own do not exist; kvm-typed files only where /dev/kvm works; none whose interfaces would
//!   reach the host's networks), reaches running and is destroyed. For now a per-file failure
//!   is reported, not fatal: the share that starts must reach [`START_SHARE_MIN`], and every
//!   QEMU is gone at the end.
//! * `targeted_refusals_match_libvirts_messages`: one change at a time to a definition both
//!   define, each a refusal of validate.rs; ours must answer with libvirt's message.
//!
//! Needs libvirt's QEMU driver (../shared/tools/libvirt-anchor.sh), virt-install (virtinst) and
//! QEMU; tools/test-all.sh installs them and sets VIRT_REQUIRE_LIBVIRT, which turns a missing
//! libvirt into a failure instead of a skip.
#![cfg(feature = "system-tests")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use virt_client::{ClientError, Connection};
use virt_core::proto::UndefineDomainFlag;
use virt_core::types::DomainLookup;
use virt_tests::qemu::QemuGuard;
use virt_tests::realworld::{self, libvirt, startable, virtinstall, CorpusFile};
use virt_tests::DaemonUnderTest;

/// Of the files libvirt's QEMU driver defines, the percentage ours must define unchanged:
/// issue 10's 95. Today 92 of 95 (2026-12-04, devices2 and tuning merged; the three others
/// ask for SDL, OpenGL and 3D video, which this host cannot give, or carry foreign elements
/// outside <metadata>); 74 before the devices and tuning work, 2 before the post-parse.
const DEFINE_SHARE_MIN: f64 = 95.0;

/// Files libvirt refuses that ours still accepts, each waiting for a rule someone is writing:
/// (label, the rule). They are reported, not failed; one ours refuses is reported as ready to
/// leave this list.
const PENDING_REFUSALS: &[(&str, &str)] = &[];

/// Of the files ours defines (and can be given disks here), the percentage that must start,
/// reach running and be destroyed. Today 51 of 55 (the others: host-passthrough under TCG and
/// a custom 'maximum' model, which libvirt cannot start either, and two KVM guests this host's
/// nested KVM refuses an MSR for); the floor leaves room for a few.
const START_SHARE_MIN: f64 = 85.0;

/// How many guests the start test runs at once, and at most in all.
const START_PARALLEL: usize = 3;
const START_CAP: usize = 60;

/// The corpus, generated once per test run into the target's temporary dir (shared by the
/// tests' processes under nextest).
fn corpus() -> &'static Vec<CorpusFile> {
    static CORPUS: OnceLock<Vec<CorpusFile>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = realworld::run_dir(&base, "realworld-corpus", |dir| {
            let t = Instant::now();
            let generated = virtinstall::generate(dir, |_| true)?;
            eprintln!(
                "virt-install wrote {} definitions in {:?}",
                generated.len(),
                t.elapsed()
            );
            Ok(())
        })
        .expect("virt-install corpus");
        let mut files = realworld::xml_files(&dir, "virt-install").expect("generated files");
        files.extend(
            realworld::xml_files(std::path::Path::new(realworld::SHARED_CORPUS), "shared")
                .expect("shared corpus"),
        );
        files.extend(realworld::extra_corpus().expect("VIRT_EXTRA_CORPUS"));
        files
    })
}

/// A virtqemud under a temporary root and a client connected straight to it.
async fn ours() -> (DaemonUnderTest, Connection) {
    let daemon = DaemonUnderTest::start("virtqemud", &[]);
    let uri = format!("qemu+unix:///system?socket={}", daemon.socket.display());
    let conn = Connection::open(Some(&uri), false)
        .await
        .expect("connect to virtqemud");
    (daemon, conn)
}

/// Whether an error of ours names what it refuses: a violation with an XPath, or an XPath in
/// the message.
fn names_element(e: &ClientError) -> bool {
    match e {
        ClientError::Virt(v) => {
            v.violations.iter().any(|x| x.path.starts_with('/')) || v.message().contains("/domain")
        }
        _ => false,
    }
}

/// libvirt's answer for every file, four at a time.
fn libvirt_results(files: &[CorpusFile], scratch: &std::path::Path) -> Vec<Result<(), String>> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let r = libvirt::define(&f.xml, scratch);
                out.lock().expect("results").insert(i, r);
            });
        }
    });
    out.into_inner().expect("results").into_values().collect()
}

fn uuid_lookup(uuid: &str) -> DomainLookup {
    DomainLookup::Uuid(virt_core::uuid::Uuid::parse(uuid).expect("a UUID from the daemon"))
}

#[tokio::test(flavor = "multi_thread")]
async fn realworld_define_matches_libvirt() {
    if !libvirt::require() {
        return;
    }
    let files = corpus();
    let scratch = tempfile::tempdir().expect("scratch");
    let t = Instant::now();
    let theirs = libvirt_results(files, scratch.path());
    let libvirt_time = t.elapsed();

    let (_daemon, conn) = ours().await;
    let t = Instant::now();
    let mut mine = Vec::new();
    for f in files {
        let r = conn.define(&f.xml, 0).await;
        if let Ok(d) = &r {
            conn.undefine(&uuid_lookup(&d.uuid), UndefineDomainFlag::KeepNvram as u32)
                .await
                .unwrap_or_else(|e| panic!("{}: undefine after define: {e}", f.label));
        }
        mine.push(r.map(|_| ()));
    }
    let ours_time = t.elapsed();

    let mut accepted_refused = Vec::new();
    let mut refused = Vec::new();
    let mut pending = Vec::new();
    let mut unnamed = Vec::new();
    let mut missing = Vec::new();
    let (mut libvirt_defines, mut both_define, mut both_refuse) = (0usize, 0usize, 0usize);
    for ((f, theirs), mine) in files.iter().zip(&theirs).zip(&mine) {
        match (theirs, mine) {
            (Ok(()), Ok(())) => {
                libvirt_defines += 1;
                both_define += 1;
            }
            (Ok(()), Err(e)) => {
                libvirt_defines += 1;
                missing.push(format!("{:<58} {e}", f.label));
            }
            (Err(why), Ok(())) => match PENDING_REFUSALS.iter().find(|p| p.0 == f.label) {
                Some((_, rule)) => {
                    pending.push(format!("{}: libvirt: {why} (pending: {rule})", f.label))
                }
                None => accepted_refused.push(format!("{}: libvirt: {why}", f.label)),
            },
            (Err(why), Err(e)) => {
                if PENDING_REFUSALS.iter().any(|p| p.0 == f.label) {
                    pending.push(format!(
                        "{}: now refused by ours; remove it from PENDING_REFUSALS",
                        f.label
                    ));
                }
                both_refuse += 1;
                refused.push(format!(
                    "{}\n      libvirt: {why}\n      ours:    {e}",
                    f.label
                ));
                if !names_element(e) {
                    unnamed.push(format!("{}: {e}", f.label));
                }
            }
        }
    }
    let share = if libvirt_defines == 0 {
        100.0
    } else {
        100.0 * both_define as f64 / libvirt_defines as f64
    };
    eprintln!(
        "{} files; libvirt defines {libvirt_defines} ({libvirt_time:?}), ours {} ({ours_time:?}); \
         both refuse {both_refuse}",
        files.len(),
        mine.iter().filter(|r| r.is_ok()).count()
    );
    eprintln!("both refuse ({}):", refused.len());
    for r in &refused {
        eprintln!("  {r}");
    }
    eprintln!("libvirt defines, ours does not ({}):", missing.len());
    for m in &missing {
        eprintln!("  {m}");
    }
    eprintln!("share defined by ours: {both_define}/{libvirt_defines} = {share:.1} %");
    for p in &pending {
        eprintln!("pending refusal: {p}");
    }
    assert!(
        accepted_refused.is_empty(),
        "ours defines {} file(s) libvirt refuses:\n{}",
        accepted_refused.len(),
        accepted_refused.join("\n")
    );
    assert!(
        unnamed.is_empty(),
        "refusals that name no element:\n{}",
        unnamed.join("\n")
    );
    assert!(
        share >= DEFINE_SHARE_MIN,
        "ours defines {share:.1} % of what libvirt defines; at least {DEFINE_SHARE_MIN} % expected"
    );
}

/// A minimal definition both drivers define; [`TARGETED`] changes one thing in it.
const BASE: &str = "<domain type='qemu'><name>rw-base</name><memory unit='MiB'>128</memory>\
    <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/>\
    </features><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
    <memballoon model='none'/></devices></domain>";

/// Definitions libvirt refuses at define for what the emulator can do (validate.rs): (what,
/// text replaced in [`BASE`], replacement; `{S}` is a scratch dir holding `plain`, a file
/// without execute bits, and `script`, an executable that is not QEMU). Ours must refuse each
/// with libvirt's very message (which carries the code's prefix) and name the element; for
/// [`REFUSED_ALIKE`] only the refusal and the element are compared.
const TARGETED: &[(&str, &str, &str)] = &[
    (
        "missing emulator",
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/qemu-kvm",
    ),
    (
        "relative emulator",
        "/usr/bin/qemu-system-x86_64",
        "qemu-system-x86_64",
    ),
    (
        "emulator is a directory",
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin",
    ),
    (
        "emulator not executable",
        "/usr/bin/qemu-system-x86_64",
        "{S}/plain",
    ),
    (
        "emulator is not QEMU",
        "/usr/bin/qemu-system-x86_64",
        "{S}/script",
    ),
    (
        "emulator of another arch",
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/qemu-system-i386",
    ),
    ("unknown machine", "machine='pc'", "machine='pc-q35-1.0'"),
    ("newer machine", "machine='pc'", "machine='pc-i440fx-8.2'"),
    ("os type", ">hvm<", ">linux<"),
    (
        "no emulator for the arch",
        "arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>\
         <emulator>/usr/bin/qemu-system-x86_64</emulator>",
        "arch='aarch64' machine='virt'>hvm</type></os><features><acpi/></features><devices>",
    ),
];

/// Refusals whose wording is ours: libvirt says "internal error: Failed to start QEMU binary
/// ... for probing", ours names the probe's failure with OPERATION_FAILED.
const REFUSED_ALIKE: &[&str] = &["emulator is not QEMU"];

#[tokio::test(flavor = "multi_thread")]
async fn targeted_refusals_match_libvirts_messages() {
    if !libvirt::require() {
        return;
    }
    let scratch = tempfile::tempdir().expect("scratch");
    let s = scratch.path().to_string_lossy().into_owned();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(scratch.path().join("plain"), b"").expect("plain");
        let script = scratch.path().join("script");
        std::fs::write(&script, b"#!/bin/sh\nexit 1\n").expect("script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let (_daemon, conn) = ours().await;
    libvirt::define(BASE, scratch.path()).expect("libvirt defines the base");
    let d = conn.define(BASE, 0).await.expect("ours defines the base");
    conn.undefine(&uuid_lookup(&d.uuid), 0)
        .await
        .expect("undefine");
    let mut failures = Vec::new();
    for (what, from, to) in TARGETED {
        assert!(BASE.contains(from), "{what}: the base has no {from}");
        let xml = BASE.replace(from, &to.replace("{S}", &s));
        let theirs = libvirt::define(&xml, scratch.path()).expect_err("libvirt refuses");
        let exact = !REFUSED_ALIKE.contains(what);
        match conn.define(&xml, 0).await {
            Ok(_) => failures.push(format!("{what}: ours defines it; libvirt: {theirs}")),
            Err(e) if (exact && e.to_string() != theirs) || !names_element(&e) => {
                failures.push(format!("{what}:\n  libvirt: {theirs}\n  ours:    {e}"))
            }
            Err(e) => eprintln!("{what}: {e}"),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// How one start went.
#[derive(Debug)]
enum Started {
    /// Running, then destroyed.
    Ran(Duration),
    /// Not tried here, with why.
    Skipped(String),
    /// Failed at a step, with our error.
    Failed(String),
}

async fn start_one(conn: &Connection, f: &CorpusFile, dir: &std::path::Path, n: usize) -> Started {
    let kvm = realworld::domain_type(&f.xml).as_deref() == Some("kvm");
    if kvm && !virtqemud::host::kvm_available() {
        return Started::Skipped("kvm guest; /dev/kvm is not usable here".into());
    }
    let xml = match startable::provide(&f.xml, dir, &format!("g{n}")) {
        // Files may share a name (an edit's before and after): each runs as its own guest.
        Ok(x) => libvirt::rename(
            &x,
            &format!("rw-start-{n}"),
            &format!("7e570000-0000-4000-8000-{n:012x}"),
        ),
        Err(why) => return Started::Skipped(why),
    };
    let dom = match conn.define(&xml, 0).await {
        Ok(d) => d,
        Err(e) => return Started::Failed(format!("define with temporary disks: {e}")),
    };
    let lookup = uuid_lookup(&dom.uuid);
    let t = Instant::now();
    let res = match tokio::time::timeout(Duration::from_secs(60), conn.create(&lookup, 0)).await {
        Err(_) => Started::Failed("start did not answer within 60 s".into()),
        Ok(Err(e)) => Started::Failed(format!("start: {e}")),
        Ok(Ok(_)) => match conn.domain_state(&lookup).await {
            Ok(s) if s.state == virt_core::proto::DomainState::Running as i32 => {
                let took = t.elapsed();
                match conn.destroy(&lookup, 0).await {
                    Ok(()) => Started::Ran(took),
                    Err(e) => Started::Failed(format!("destroy: {e}")),
                }
            }
            Ok(s) => {
                let _ = conn.destroy(&lookup, 0).await;
                Started::Failed(format!("state {} after start", s.state))
            }
            Err(e) => Started::Failed(format!("state: {e}")),
        },
    };
    let _ = conn
        .undefine(&lookup, UndefineDomainFlag::KeepNvram as u32)
        .await;
    res
}

#[tokio::test(flavor = "multi_thread")]
async fn realworld_defined_guests_start() {
    if !libvirt::require() {
        return;
    }
    let files = corpus();
    let (daemon, conn) = ours().await;
    let _guard = QemuGuard::new(daemon.root.path());
    // Which files ours defines as they are.
    let mut definable = Vec::new();
    for f in files {
        if let Ok(d) = conn.define(&f.xml, 0).await {
            let _ = conn
                .undefine(&uuid_lookup(&d.uuid), UndefineDomainFlag::KeepNvram as u32)
                .await;
            definable.push(f);
        }
    }
    let disks = tempfile::tempdir().expect("disks");
    let capped: Vec<&CorpusFile> = definable.iter().copied().take(START_CAP).collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(BTreeMap::new());
    let t = Instant::now();
    let workers = (0..START_PARALLEL).map(|_| async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(f) = capped.get(i) else { break };
            let r = start_one(&conn, f, disks.path(), i).await;
            results.lock().expect("results").insert(i, r);
        }
    });
    futures_util::future::join_all(workers).await;
    let elapsed = t.elapsed();
    let results = results.into_inner().expect("results");
    let (mut ran, mut tried) = (0usize, 0usize);
    eprintln!(
        "start test: {} defined by ours, {} tried ({elapsed:?}):",
        definable.len(),
        capped.len()
    );
    for (i, r) in &results {
        let label = &capped[*i].label;
        match r {
            Started::Ran(d) => {
                ran += 1;
                tried += 1;
                eprintln!("  ran      {label:<58} {d:?}");
            }
            Started::Skipped(why) => eprintln!("  skipped  {label:<58} {why}"),
            Started::Failed(why) => {
                tried += 1;
                eprintln!("  FAILED   {label:<58} {}", why.replace('\n', " | "));
            }
        }
    }
    let share = if tried == 0 {
        100.0
    } else {
        100.0 * ran as f64 / tried as f64
    };
    eprintln!("started and destroyed: {ran}/{tried} = {share:.1} %");
    let list = conn.list_all_domains(0).await.expect("list");
    assert!(
        list.is_empty(),
        "every guest was destroyed and undefined: {list:?}"
    );
    assert!(
        share >= START_SHARE_MIN,
        "{share:.1} % started; at least {START_SHARE_MIN} % expected"
    );
}
