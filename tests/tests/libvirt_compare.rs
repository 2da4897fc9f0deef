//! Compares with libvirt's own test driver: for each domain file under
//! ../shared/corpus/domain-xml, whatever libvirt's `dumpxml` keeps from the input, our
//! parse + format keeps too, with the same value; or ours rejects the file with an error that
//! names an XPath. Needs `virsh` (Debian's libvirt-clients, installed by tools/test-all.sh).
//! Without virsh the test prints a notice and passes, unless VIRT_REQUIRE_VIRSH is set.
//!
//! The comparison runs on XML trees read with quick-xml, independently of virt-xml's own
//! reader. Each document becomes a multiset of facts (an element at a path, an attribute at a
//! path with its value, the text at a path), so the order of siblings does not matter. Memory
//! sizes are normalised to KiB and numbers in `<address>` to decimal before comparing.
#![cfg(feature = "system-tests")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_xml::LibvirtXml;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/domain-xml"
);

/// An element of a document read for comparison.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

/// Reads `xml` into a tree; `Err` describes why quick-xml refused it.
fn read_tree(xml: &str) -> Result<Node, String> {
    fn start(s: &BytesStart<'_>) -> Result<Node, String> {
        let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in s.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = a.unescape_value().map_err(|e| e.to_string())?;
            attrs.push((key, value.into_owned()));
        }
        Ok(Node {
            name,
            attrs,
            ..Node::default()
        })
    }
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        match event {
            Event::Start(s) => stack.push(start(&s)?),
            Event::Empty(s) => {
                let node = start(&s)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_string()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| "no root element".to_string())
}

/// Bytes in one `unit` as libvirt reads memory units, or `None` for a unit that is not one.
fn unit_bytes(unit: &str) -> Option<u128> {
    let (power, base): (u32, u128) = match unit {
        "b" | "bytes" => return Some(1),
        "KB" => (1, 1000),
        "k" | "K" | "KiB" => (1, 1024),
        "MB" => (2, 1000),
        "m" | "M" | "MiB" => (2, 1024),
        "GB" => (3, 1000),
        "g" | "G" | "GiB" => (3, 1024),
        "TB" => (4, 1000),
        "t" | "T" | "TiB" => (4, 1024),
        "PB" => (5, 1000),
        "p" | "P" | "PiB" => (5, 1024),
        "EB" => (6, 1000),
        "e" | "E" | "EiB" => (6, 1024),
        _ => return None,
    };
    Some(base.pow(power))
}

/// `value` in `unit`, as KiB rounded up (libvirt's rounding), or `None` if not a size.
fn to_kib(value: &str, unit: &str) -> Option<String> {
    let n: u128 = value.trim().parse().ok()?;
    let bytes = n.checked_mul(unit_bytes(unit)?)?;
    Some(bytes.div_ceil(1024).to_string())
}

/// An `<address>` attribute value as decimal when it is a number in hex or decimal.
fn address_number(value: &str) -> String {
    let parsed = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse::<u64>().ok(),
    };
    parsed.map_or_else(|| value.to_string(), |n| n.to_string())
}

/// Normalises memory units to KiB and `<address>` numbers to decimal, in place.
fn normalise(node: &mut Node) {
    let unit = node
        .attrs
        .iter()
        .find(|(k, _)| k == "unit")
        .map(|(_, v)| v.clone());
    if let Some(unit) = unit.filter(|u| unit_bytes(u).is_some()) {
        let mut converted = false;
        if let Some(kib) = to_kib(&node.text, &unit) {
            node.text = kib;
            converted = true;
        }
        for (k, v) in node.attrs.iter_mut() {
            if k == "size" {
                if let Some(kib) = to_kib(v, &unit) {
                    *v = kib;
                    converted = true;
                }
            }
        }
        if converted {
            node.attrs.retain(|(k, _)| k != "unit");
        }
    }
    if node.name == "address" {
        for (_, v) in node.attrs.iter_mut() {
            *v = address_number(v);
        }
    }
    for child in &mut node.children {
        normalise(child);
    }
}

/// The document's facts, counted: `path` (an element), `path/@attr=value`, `path/text()=value`.
fn facts(root: &Node) -> BTreeMap<String, usize> {
    fn walk(node: &Node, parent: &str, out: &mut BTreeMap<String, usize>) {
        let path = format!("{parent}/{}", node.name);
        *out.entry(path.clone()).or_default() += 1;
        for (k, v) in &node.attrs {
            *out.entry(format!("{path}/@{k}={v}")).or_default() += 1;
        }
        let text = node.text.trim();
        if node.children.is_empty() && !text.is_empty() {
            *out.entry(format!("{path}/text()={text}")).or_default() += 1;
        }
        for child in &node.children {
            walk(child, &path, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

fn normalised_facts(xml: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut tree = read_tree(xml)?;
    normalise(&mut tree);
    Ok(facts(&tree))
}

/// Facts libvirt kept from the input that ours lost (fewer occurrences than libvirt kept).
fn lost(input: &str, libvirt: &str, ours: &str) -> Result<Vec<String>, String> {
    let input = normalised_facts(input)?;
    let libvirt = normalised_facts(libvirt)?;
    let ours = normalised_facts(ours)?;
    let mut missing = Vec::new();
    for (fact, &n_in) in &input {
        let kept = n_in.min(libvirt.get(fact).copied().unwrap_or(0));
        let have = ours.get(fact).copied().unwrap_or(0);
        if have < kept {
            missing.push(format!("{fact} (libvirt kept {kept}, ours {have})"));
        }
    }
    Ok(missing)
}

/// The `<name>` of a domain document.
fn domain_name(xml: &str) -> Option<String> {
    let tree = read_tree(xml).ok()?;
    (tree.name == "domain").then_some(())?;
    let name = tree.children.iter().find(|c| c.name == "name")?;
    Some(name.text.trim().to_string())
}

/// Quotes `s` for virsh's command-line shell.
fn virsh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Defines `file` on a fresh test:///default and dumps it back: `Ok(xml)` or libvirt's error.
fn libvirt_roundtrip(file: &Path, name: &str) -> Result<String, String> {
    let script = format!(
        "define {}; dumpxml {}",
        virsh_quote(&file.to_string_lossy()),
        virsh_quote(name)
    );
    let out = Command::new("virsh")
        .args(["-q", "-c", "test:///default", &script])
        .output()
        .map_err(|e| format!("cannot run virsh: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // virsh says "Failed to define domain from FILE", then libvirt's reason, then that the
        // dump failed: keep the reason.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason: Vec<&str> = stderr
            .lines()
            .map(|l| l.trim().trim_start_matches("error: "))
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("Failed to define domain")
                    && !l.starts_with("failed to get domain")
            })
            .collect();
        return Err(reason.join("; "));
    }
    match stdout.find("<domain") {
        Some(at) => Ok(stdout[at..].to_string()),
        None => Err(format!("no <domain> in virsh output: {stdout}")),
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("read corpus directory")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

#[test]
fn normalisation_makes_units_and_address_bases_equal() {
    let a = normalised_facts(
        "<domain><memory unit='GiB'>1</memory>\
         <address domain='0x0000' bus='0x01' slot='0x1f'/></domain>",
    )
    .expect("read a");
    let b = normalised_facts(
        "<domain><address slot='31' bus='1' domain='0'/>\
         <memory unit='KiB'>1048576</memory></domain>",
    )
    .expect("read b");
    assert_eq!(a, b);
}

#[test]
fn a_fact_libvirt_kept_but_ours_dropped_is_reported() {
    let input = "<domain><name>a</name><devices><disk type='file'/><foo x='1'/></devices></domain>";
    let libvirt = "<domain><devices><disk type='file'/></devices><name>a</name></domain>";
    let ours = "<domain><name>a</name><devices/></domain>";
    let missing = lost(input, libvirt, ours).expect("read");
    assert_eq!(
        missing,
        vec![
            "/domain/devices/disk (libvirt kept 1, ours 0)".to_string(),
            "/domain/devices/disk/@type=file (libvirt kept 1, ours 0)".to_string(),
        ]
    );
    // What libvirt dropped (foo) is not required of us.
    assert!(lost(input, libvirt, libvirt).expect("read").is_empty());
}

#[test]
fn ours_keeps_what_libvirt_test_driver_keeps() {
    if !virt_tests::virsh::available() {
        assert!(
            std::env::var_os("VIRT_REQUIRE_VIRSH").is_none(),
            "VIRT_REQUIRE_VIRSH is set but virsh cannot be run"
        );
        eprintln!("notice: virsh not installed; libvirt comparison skipped");
        return;
    }
    let codec = LibvirtXml;
    let opts = FormatOptions {
        id: None,
        secure: true,
        inactive: true,
    };
    let mut kept_equal = Vec::new();
    let mut ours_rejected = Vec::new();
    let mut libvirt_rejected = Vec::new();
    let mut failures = Vec::new();
    for file in corpus_files() {
        let label = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let input = std::fs::read_to_string(&file).expect("read corpus file");
        let Some(name) = domain_name(&input) else {
            libvirt_rejected.push(format!("{label}: no <domain> with a <name>"));
            continue;
        };
        let libvirt = match libvirt_roundtrip(&file, &name) {
            Ok(xml) => xml,
            Err(e) => {
                libvirt_rejected.push(format!("{label}: {e}"));
                continue;
            }
        };
        let ours = match codec.parse_domain(&input) {
            Ok(def) => codec.format_domain(&def, opts),
            Err(e) => {
                let reason = e.to_string();
                if !reason.contains("/domain") {
                    failures.push(format!("{label}: rejected without an XPath: {reason}"));
                }
                ours_rejected.push(format!("{label}: {reason}"));
                continue;
            }
        };
        match lost(&input, &libvirt, &ours) {
            Ok(missing) if missing.is_empty() => kept_equal.push(label),
            Ok(missing) => failures.push(format!(
                "{label}: libvirt kept, ours silently lost:\n    {}",
                missing.join("\n    ")
            )),
            Err(e) => failures.push(format!("{label}: cannot compare: {e}")),
        }
    }
    eprintln!("kept-equal ({}):", kept_equal.len());
    for l in &kept_equal {
        eprintln!("  {l}");
    }
    eprintln!("ours-rejected ({}):", ours_rejected.len());
    for l in &ours_rejected {
        eprintln!("  {l}");
    }
    eprintln!("libvirt-rejected ({}):", libvirt_rejected.len());
    for l in &libvirt_rejected {
        eprintln!("  {l}");
    }
    assert!(
        failures.is_empty(),
        "{} file(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
