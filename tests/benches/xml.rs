//! Domain XML benchmark: our parse + format (virt-xml) per typical domain document, beside
//! libvirt's own parse + format in its test driver (define, then dump the inactive XML).
//!
//! The documents are the test driver's default domain and a few corpus files that both sides
//! accept. Ours is timed in-process over many iterations. libvirt's side is timed two ways:
//! through python3-libvirt (`conn.defineXML(xml)` then `dom.XMLDesc()` in a loop, which leaves
//! out process start), and through one `virsh -c test:///default` invocation that defines and
//! dumps the file K times, minus one that does it once, divided by K - 1. Either column shows
//! "n/a" when its tool is missing.
//!
//! `cargo bench -p virt-tests --bench xml` runs the full plan in release mode. Without `--bench`
//! (as `cargo test --benches` runs it) a tiny plan only checks that every step works.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_xml::LibvirtXml;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/domain-xml"
);

/// Corpus files timed when both sides accept them: a small, a desktop and a large guest.
const CANDIDATES: &[&str] = &[
    "emulator-custom.xml",
    "bootorder-in.xml",
    "convert-to-q35-win10-in.xml",
    "convert-to-vnc-spice-manyopts-out.xml",
];

const OPTS: FormatOptions = FormatOptions {
    id: None,
    secure: true,
    inactive: true,
};

/// Times libvirt's define + XMLDesc through python3-libvirt; prints µs per iteration.
const PYTHON_LOOP: &str = r#"
import sys, time, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
conn = libvirt.open("test:///default")
xml = open(sys.argv[1]).read()
n = int(sys.argv[2])
flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
for _ in range(max(1, n // 10)):
    conn.defineXML(xml).XMLDesc(flags)
t = time.perf_counter()
for _ in range(n):
    conn.defineXML(xml).XMLDesc(flags)
print((time.perf_counter() - t) / n * 1e6)
"#;

/// One document to time.
struct Doc {
    label: String,
    path: PathBuf,
    xml: String,
    name: String,
    /// The copy with a fixed UUID, when the corpus file has none (kept alive while timed).
    _copy: Option<tempfile::NamedTempFile>,
}

/// libvirt gives a document without `<uuid>` a fresh UUID on each define, so defining it
/// twice fails ("already exists with uuid"). Such documents get a fixed UUID, written to a
/// temporary copy that every side times.
fn with_fixed_uuid(xml: String) -> (String, Option<tempfile::NamedTempFile>) {
    let Some(at) = xml.find("</name>").filter(|_| !xml.contains("<uuid>")) else {
        return (xml, None);
    };
    let at = at + "</name>".len();
    let fixed = format!(
        "{}\n  <uuid>6f0e2c1c-7c9a-4f4e-9d55-3b8f0a1d2e4c</uuid>{}",
        &xml[..at],
        &xml[at..]
    );
    let mut copy = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .expect("temporary file");
    copy.write_all(fixed.as_bytes()).expect("write copy");
    (fixed, Some(copy))
}

/// Our parse alone and parse + format, µs per document over `iterations` (after a tenth as
/// warm-up).
fn time_ours(xml: &str, iterations: u32) -> (f64, f64) {
    let codec = LibvirtXml;
    let parse = || {
        codec
            .parse_domain(black_box(xml))
            .expect("ours accepts the document")
    };
    let both = || black_box(codec.format_domain(&parse(), OPTS));
    let timed = |f: &dyn Fn()| {
        for _ in 0..iterations.div_ceil(10) {
            f();
        }
        let start = Instant::now();
        for _ in 0..iterations {
            f();
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
    };
    let parse_only = timed(&|| {
        black_box(parse());
    });
    let total = timed(&|| {
        both();
    });
    (parse_only, total)
}

/// libvirt through python3-libvirt, µs per define + XMLDesc; `None` when unavailable.
fn time_libvirt_python(path: &Path, iterations: u32) -> Option<f64> {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", PYTHON_LOOP])
        .arg(path)
        .arg(iterations.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Wall time of one virsh invocation that defines and dumps `path` `times` times.
fn virsh_run(path: &Path, name: &str, times: u32) -> Option<f64> {
    let step = format!(
        "define '{}'; dumpxml --inactive --security-info '{}'",
        path.display(),
        name
    );
    let script = vec![step; times as usize].join("; ");
    let start = Instant::now();
    let out = Command::new("virsh")
        .args(["-q", "-c", "test:///default", &script])
        .output()
        .ok()?;
    let elapsed = start.elapsed().as_secs_f64();
    out.status.success().then_some(elapsed)
}

/// libvirt through virsh: (K runs - 1 run) / (K - 1), best of three of each, µs.
fn time_libvirt_virsh(path: &Path, name: &str, k: u32) -> Option<f64> {
    let best = |times| {
        (0..3)
            .map(|_| virsh_run(path, name, times))
            .try_fold(f64::INFINITY, |best, t| Some(best.min(t?)))
    };
    let once = best(1)?;
    let many = best(k)?;
    Some((many - once) * 1e6 / f64::from(k - 1))
}

/// Whether libvirt's test driver defines `path` (checked through virsh).
fn libvirt_accepts(path: &Path, name: &str) -> bool {
    virsh_run(path, name, 1).is_some()
}

/// The `<name>` of a domain document, read the simple way (the corpus is well formed).
fn domain_name(xml: &str) -> Option<String> {
    let start = xml.find("<name>")? + "<name>".len();
    let end = start + xml[start..].find("</name>")?;
    Some(xml[start..end].trim().to_string())
}

fn docs(default_domain: &Path) -> Vec<Doc> {
    let mut docs = vec![Doc {
        label: "test default domain".to_string(),
        path: default_domain.to_path_buf(),
        xml: virt_core::test_driver::DEFAULT_DOMAIN_XML.to_string(),
        name: "test".to_string(),
        _copy: None,
    }];
    for file in CANDIDATES {
        let path = Path::new(CORPUS).join(file);
        let Ok(xml) = std::fs::read_to_string(&path) else {
            eprintln!("skip {file}: not in the corpus");
            continue;
        };
        let Some(name) = domain_name(&xml) else {
            eprintln!("skip {file}: no <name>");
            continue;
        };
        if let Err(e) = LibvirtXml.parse_domain(&xml) {
            eprintln!("skip {file}: ours rejects it: {e}");
            continue;
        }
        let (xml, copy) = with_fixed_uuid(xml);
        let path = copy.as_ref().map_or(path, |c| c.path().to_path_buf());
        docs.push(Doc {
            label: (*file).to_string(),
            path,
            xml,
            name,
            _copy: copy,
        });
    }
    docs
}

fn column(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.1}"))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (ours_iter, python_iter, virsh_k) = if full {
        (20_000, 5_000, 201)
    } else {
        (20, 20, 3)
    };
    let mut default_file = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .expect("temporary file");
    default_file
        .write_all(virt_core::test_driver::DEFAULT_DOMAIN_XML.as_bytes())
        .expect("write default domain");
    let virsh = Command::new("virsh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());

    println!(
        "domain XML parse + format, µs per document ({}; ours {ours_iter} iterations, \
         libvirt python {python_iter}, virsh K={virsh_k})",
        if full { "full plan" } else { "smoke plan" }
    );
    println!(
        "{:<40} {:>7} {:>11} {:>10} {:>15} {:>15}",
        "document", "bytes", "ours parse", "ours", "libvirt python", "libvirt virsh"
    );
    for doc in docs(default_file.path()) {
        if virsh && !libvirt_accepts(&doc.path, &doc.name) {
            eprintln!("skip {}: libvirt rejects it", doc.label);
            continue;
        }
        let (ours_parse, ours) = time_ours(&doc.xml, ours_iter);
        let python = time_libvirt_python(&doc.path, python_iter);
        let via_virsh = if virsh {
            time_libvirt_virsh(&doc.path, &doc.name, virsh_k)
        } else {
            None
        };
        println!(
            "{:<40} {:>7} {:>11.1} {:>10.1} {:>15} {:>15}",
            doc.label,
            doc.xml.len(),
            ours_parse,
            ours,
            column(python),
            column(via_virsh)
        );
    }
}
