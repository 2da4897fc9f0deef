//! Corpus fidelity and schema tests: every document of `shared/corpus/domain-xml` is either
//! kept without silent loss (every input element and attribute reappears, with an equal value,
//! in the formatted output) or refused with an error naming the XPath of what is unsupported;
//! and everything the crate emits validates against libvirt's RNG schemas
//! (`virt-xml-validate`).

use std::path::{Path, PathBuf};
use std::process::Command;

use virt_core::model::{Capabilities, DomainCapabilities};
use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::ErrorCode;

use crate::dom::{self, Element, Node};
use crate::tests::corpus;
use crate::LibvirtXml;

/// The corpus documents, sorted by name.
fn corpus_files() -> Vec<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(corpus("domain-xml"))
        .expect("corpus directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    entries.sort();
    entries
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Multiplier of a libvirt memory unit to bytes (`None`: not a unit).
fn unit_bytes(unit: &str) -> Option<u128> {
    let u = unit.to_ascii_lowercase();
    let k: u128 = 1024;
    Some(match u.as_str() {
        "b" | "bytes" => 1,
        "k" | "kib" => k,
        "kb" => 1000,
        "m" | "mib" => k.pow(2),
        "mb" => 1000u128.pow(2),
        "g" | "gib" => k.pow(3),
        "gb" => 1000u128.pow(3),
        "t" | "tib" => k.pow(4),
        "tb" => 1000u128.pow(4),
        "p" | "pib" => k.pow(5),
        "pb" => 1000u128.pow(5),
        "e" | "eib" => k.pow(6),
        "eb" => 1000u128.pow(6),
        _ => return None,
    })
}

/// A decimal or `0x` hexadecimal number.
fn parse_number(v: &str) -> Option<u64> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The members of a cpuset/nodeset (`1-5,^3,7`), sorted.
fn expand_set(v: &str) -> Option<Vec<u32>> {
    let mut set = std::collections::BTreeSet::new();
    let mut excluded = Vec::new();
    for part in v.split(',') {
        if let Some(n) = part.strip_prefix('^') {
            excluded.push(n.parse::<u32>().ok()?);
        } else if let Some((a, b)) = part.split_once('-') {
            set.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?);
        } else {
            set.insert(part.parse::<u32>().ok()?);
        }
    }
    for e in excluded {
        set.remove(&e);
    }
    Some(set.into_iter().collect())
}

/// A scaled quantity in KiB, rounded up as libvirt does.
fn to_kib(value: &str, unit: Option<&str>) -> Option<u128> {
    let n: u128 = value.trim().parse().ok()?;
    let mult = unit_bytes(unit.unwrap_or("KiB"))?;
    Some((n * mult).div_ceil(1024))
}

/// An element reduced to what the comparison looks at: name, attributes and text, with
/// memory quantities in KiB and case-insensitive identifiers in lower case.
struct Norm {
    attrs: Vec<(String, String)>,
    text: Option<String>,
}

fn normalise(el: &Element) -> Norm {
    let unit = el
        .attrs
        .iter()
        .find(|a| a.qname == "unit")
        .map(|a| a.value.as_str());
    let scaled = unit.is_some_and(|u| unit_bytes(u).is_some());
    let mut attrs = Vec::new();
    for a in &el.attrs {
        let mut value = a.value.clone();
        if a.qname == "unit" && scaled {
            // Compared through the scaled quantity instead.
            continue;
        }
        if scaled && a.qname == "size" {
            if let Some(k) = to_kib(&value, unit) {
                value = k.to_string();
            }
        }
        if a.qname == "address" && el.name == "mac" {
            value = value.to_ascii_lowercase();
        }
        // libvirt prints PCI and drive address numbers in its own radix and width.
        if el.name == "address" && a.qname != "type" {
            if let Some(n) = parse_number(&value) {
                value = n.to_string();
            }
        }
        // CPU and node sets are compared as sets (libvirt prints them canonically).
        if matches!(a.qname.as_str(), "cpuset" | "nodeset") {
            if let Some(set) = expand_set(&value) {
                value = format!("{set:?}");
            }
        }
        // A drive without media is type 'file' whatever it was declared (libvirt does this).
        if el.name == "disk" && a.qname == "type" && !el.elements().any(|c| c.name == "source") {
            continue;
        }
        // The legacy `listen=` must equal an address `<listen>` child, which carries it.
        if el.name == "graphics" && a.qname == "listen" {
            let carried = el.elements().any(|l| {
                l.name == "listen"
                    && l.attrs
                        .iter()
                        .any(|b| b.qname == "address" && b.value == value)
            });
            if carried {
                continue;
            }
        }
        attrs.push((a.qname.clone(), value));
    }
    let has_children = el.elements().next().is_some();
    let raw = el.text();
    let text = if has_children || raw.trim().is_empty() {
        None
    } else if scaled || matches!(el.name.as_str(), "memory" | "currentMemory" | "maxMemory") {
        Some(to_kib(&raw, unit).map_or(raw.clone(), |k| k.to_string()))
    } else if el.name == "uuid" {
        Some(raw.trim().to_ascii_lowercase())
    } else {
        Some(raw.trim().to_string())
    };
    Norm { attrs, text }
}

/// Whether `out` carries everything `input` carries (recursively); extra output is allowed.
fn covers(input: &Element, out: &Element) -> bool {
    if input.name != out.name || input.ns != out.ns {
        return false;
    }
    let (ni, no) = (normalise(input), normalise(out));
    for (k, v) in &ni.attrs {
        if !no.attrs.iter().any(|(k2, v2)| k2 == k && v2 == v) {
            return false;
        }
    }
    if ni.text.is_some() && ni.text != no.text {
        return false;
    }
    children_covered(input, out).is_ok()
}

/// Matches every child element of `input` to a distinct child of `out` covering it; on
/// failure returns the first input child that found no match.
fn children_covered<'a>(input: &'a Element, out: &Element) -> Result<(), &'a Element> {
    let outs: Vec<&Element> = out.elements().collect();
    let mut used = vec![false; outs.len()];
    for child in input.elements() {
        let found = outs
            .iter()
            .enumerate()
            .find(|(i, o)| !used[*i] && covers(child, o))
            .map(|(i, _)| i);
        match found {
            Some(i) => used[i] = true,
            None => return Err(child),
        }
    }
    Ok(())
}

/// Describes the first loss under `input`, descending into the closest output candidate.
fn explain_loss(input: &Element, out: &Element, path: &str) -> String {
    let (ni, no) = (normalise(input), normalise(out));
    for (k, v) in &ni.attrs {
        if !no.attrs.iter().any(|(k2, v2)| k2 == k && v2 == v) {
            let got = no.attrs.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v);
            return format!("{path}/@{k}: input '{v}', output {got:?}");
        }
    }
    if ni.text.is_some() && ni.text != no.text {
        return format!("{path}: text {:?} became {:?}", ni.text, no.text);
    }
    match children_covered(input, out) {
        Ok(()) => format!("{path}: no loss"),
        Err(child) => {
            let q = child.qname();
            let child_path = format!("{path}/{q}");
            // The same-named output child with the most attributes in common.
            let best = out.elements().filter(|o| o.qname() == q).max_by_key(|o| {
                child
                    .attrs
                    .iter()
                    .filter(|a| {
                        o.attrs
                            .iter()
                            .any(|b| b.qname == a.qname && b.value == a.value)
                    })
                    .count()
            });
            match best {
                Some(o) => explain_loss(child, o, &child_path),
                None => format!("{child_path}: missing from the output"),
            }
        }
    }
}

/// Text nodes are ignored where the element has children (mixed content is not libvirt's).
fn has_mixed_text(el: &Element) -> bool {
    let kids = el.elements().next().is_some();
    (kids
        && el
            .children
            .iter()
            .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty())))
        || el.elements().any(has_mixed_text)
}

/// What became of one corpus document.
enum Outcome {
    /// Parsed and formatted without loss.
    Faithful,
    /// Refused, with the message naming the XPath.
    Rejected(String),
    /// Something was lost or the refusal names nothing: the test fails.
    Failed(String),
}

fn check_document(text: &str) -> Outcome {
    let input = match dom::parse(text, "(corpus)") {
        Ok(root) => root,
        Err(e) => return Outcome::Rejected(format!("not well-formed: {e}")),
    };
    match LibvirtXml.parse_domain(text) {
        Err(e) => {
            let named = !e.violations.is_empty()
                || e.code == ErrorCode::NoName
                || e.message().contains("/domain");
            if named {
                Outcome::Rejected(e.to_string())
            } else {
                Outcome::Failed(format!("refused without naming what: {e}"))
            }
        }
        Ok(def) => {
            let opts = FormatOptions {
                secure: true,
                ..FormatOptions::default()
            };
            let printed = LibvirtXml.format_domain(&def, opts);
            let out = match dom::parse(&printed, "(output)") {
                Ok(o) => o,
                Err(e) => return Outcome::Failed(format!("output is not XML: {e}")),
            };
            if has_mixed_text(&input) {
                return Outcome::Failed("input holds mixed text the parser accepted".into());
            }
            if covers(&input, &out) {
                Outcome::Faithful
            } else {
                Outcome::Failed(format!(
                    "silent loss: {}",
                    explain_loss(&input, &out, "/domain")
                ))
            }
        }
    }
}

#[test]
fn corpus_documents_are_kept_faithfully_or_refused_by_xpath() {
    let mut faithful = Vec::new();
    let mut rejected = Vec::new();
    let mut failed = Vec::new();
    for path in corpus_files() {
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path).expect("readable corpus file");
        match check_document(&text) {
            Outcome::Faithful => faithful.push(name),
            Outcome::Rejected(why) => rejected.push(format!("{name}: {why}")),
            Outcome::Failed(why) => failed.push(format!("{name}: {why}")),
        }
    }
    eprintln!(
        "corpus fidelity: faithful {}, rejected {}, silent loss {}",
        faithful.len(),
        rejected.len(),
        failed.len()
    );
    for f in &faithful {
        eprintln!("  faithful: {f}");
    }
    for r in &rejected {
        eprintln!("  rejected: {r}");
    }
    for f in &failed {
        eprintln!("  LOSS: {f}");
    }
    assert!(
        failed.is_empty(),
        "silent loss in {} documents",
        failed.len()
    );
    assert!(faithful.len() >= 26, "faithful only {faithful:?}");
}

#[test]
fn loss_checker_notices_a_dropped_attribute_and_accepts_unit_changes() {
    let input = dom::parse(
        "<domain><memory unit='MiB'>2</memory><devices><disk type='file'><source file='/a'/><target dev='vda'/></disk></devices></domain>",
        "(t)",
    )
    .expect("xml");
    let good = dom::parse(
        "<domain><memory unit='KiB'>2048</memory><devices><disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk><video/></devices></domain>",
        "(t)",
    )
    .expect("xml");
    assert!(covers(&input, &good));
    let lossy = dom::parse(
        "<domain><memory unit='KiB'>2048</memory><devices><disk><source file='/a'/><target dev='vda'/></disk></devices></domain>",
        "(t)",
    )
    .expect("xml");
    assert!(!covers(&input, &lossy));
    assert_eq!(
        explain_loss(&input, &lossy, "/domain"),
        "/domain/devices/disk/@type: input 'file', output None"
    );
    let wrong_size = dom::parse("<domain><memory>2047</memory></domain>", "(t)").expect("xml");
    let only_mem =
        dom::parse("<domain><memory unit='MiB'>2</memory></domain>", "(t)").expect("xml");
    assert!(!covers(&only_mem, &wrong_size));
}

/// Runs `virt-xml-validate` on `xml` as a `kind` document; `None` when the tool is missing.
pub(crate) fn validate(xml: &str, kind: &str, label: &str) -> Option<Result<(), String>> {
    let dir = std::env::temp_dir().join(format!("virt-xml-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let safe: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = dir.join(format!("{safe}.xml"));
    std::fs::write(&file, xml).expect("temp file");
    let out = match Command::new("virt-xml-validate")
        .arg(&file)
        .arg(kind)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running virt-xml-validate: {e}"),
    };
    let _ = std::fs::remove_file(&file);
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{label}: {}{}{xml}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    })
}

pub(crate) fn validator_present() -> bool {
    let found = Command::new("virt-xml-validate")
        .arg("--help")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var("VIRT_REQUIRE_VIRSH").as_deref() != Ok("1"),
            "virt-xml-validate is missing and VIRT_REQUIRE_VIRSH=1"
        );
        eprintln!("notice: virt-xml-validate not found; schema validation skipped");
    }
    found
}

#[test]
fn emitted_domain_xml_validates_against_libvirt_schemas() {
    if !validator_present() {
        return;
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in corpus_files() {
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path).expect("readable corpus file");
        let Ok(def) = LibvirtXml.parse_domain(&text) else {
            continue;
        };
        for (tag, opts) in [
            ("inactive", FormatOptions::default()),
            (
                "live",
                FormatOptions {
                    id: Some(7),
                    ..FormatOptions::default()
                },
            ),
        ] {
            let xml = LibvirtXml.format_domain(&def, opts);
            match validate(&xml, "domain", &format!("{name}-{tag}")) {
                Some(Ok(())) => checked += 1,
                Some(Err(e)) => failures.push(e),
                None => panic!("virt-xml-validate disappeared"),
            }
        }
    }
    let default = LibvirtXml
        .parse_domain(crate::tests::TEST_DOMAIN)
        .expect("test domain");
    let xml = LibvirtXml.format_domain(&default, crate::tests::LIVE);
    match validate(&xml, "domain", "test-domain") {
        Some(Ok(())) => checked += 1,
        Some(Err(e)) => failures.push(e),
        None => panic!("virt-xml-validate disappeared"),
    }
    eprintln!("schema: {checked} domain documents valid");
    assert!(
        failures.is_empty(),
        "invalid output:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 49, "only {checked} documents checked");
}

#[test]
fn emitted_capabilities_validate_against_libvirt_schemas() {
    if !validator_present() {
        return;
    }
    let caps = LibvirtXml.format_capabilities(&Capabilities::test_driver());
    assert_eq!(validate(&caps, "capability", "capabilities"), Some(Ok(())));
    // What the test driver answers for virConnectGetDomainCapabilities.
    let driver = DomainCapabilities {
        path: "/usr/bin/test-hv".into(),
        domain: "test".into(),
        machine: Some("pc".into()),
        arch: "i686".into(),
        vcpu_max: 32,
        ..DomainCapabilities::default()
    };
    let xml = LibvirtXml.format_domain_capabilities(&driver);
    assert_eq!(validate(&xml, "domaincaps", "domaincaps"), Some(Ok(())));
    let fuller = DomainCapabilities {
        iothreads: Some(true),
        cpu_modes: vec![("host-passthrough".into(), false), ("custom".into(), true)],
        devices: vec![virt_core::model::caps::DomainCapsBlock {
            name: "disk".into(),
            supported: true,
            enums: vec![("diskDevice".into(), vec!["disk".into(), "cdrom".into()])],
        }],
        features: vec![("genid".into(), false)],
        ..driver
    };
    let xml = LibvirtXml.format_domain_capabilities(&fuller);
    assert_eq!(
        validate(&xml, "domaincaps", "domaincaps-full"),
        Some(Ok(()))
    );
}

/// Elements modelled for the corpus: printed as `virsh dumpxml` (libvirt 9.0, test driver)
/// prints them, read back unchanged and valid against the schemas.
const MODELLED: &str = "<domain type='test'>
  <name>mm</name>
  <memory unit='MiB'>1024</memory>
  <maxMemory slots='16' unit='GiB'>4</maxMemory>
  <vcpu>2</vcpu>
  <numatune><memory nodeset='1-5,^3,7'/></numatune>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/tmp/x'>
        <seclabel model='selinux' relabel='yes'><label>system_u:foo</label></seclabel>
        <seclabel relabel='no'/>
      </source>
      <target dev='hdd' bus='ide'/>
      <iotune><total_bytes_sec>6</total_bytes_sec><read_iops_sec>0</read_iops_sec></iotune>
    </disk>
    <interface type='direct'>
      <mac address='00:11:22:33:44:55'/>
      <source dev='eth0.1' mode='bridge'/>
      <virtualport type='802.1Qbg'>
        <parameters managerid='11' typeid='1193047' typeidversion='2' instanceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'/>
      </virtualport>
      <script path='/bin/true'/>
      <target dev='t0'/>
    </interface>
  </devices>
  <q:commandline xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'>
    <q:env name='SOMEENV' value='foo=bar baz,foo'/>
    <q:arg value='-somearg'/>
  </q:commandline>
</domain>";

#[test]
fn modelled_elements_print_as_libvirt_does_and_round_trip() {
    let def = LibvirtXml.parse_domain(MODELLED).expect("accepted");
    let out = LibvirtXml.format_domain(&def, FormatOptions::default());
    for expected in [
        "<domain type='test' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
        "  <maxMemory slots='16' unit='KiB'>4194304</maxMemory>\n  <memory unit='KiB'>1048576</memory>",
        "  <numatune>\n    <memory mode='strict' nodeset='1-2,4-5,7'/>\n  </numatune>\n",
        "      <source file='/tmp/x'>\n        <seclabel model='selinux' relabel='yes'>\n          <label>system_u:foo</label>\n        </seclabel>\n        <seclabel relabel='no'/>\n      </source>",
        "      <target dev='hdd' bus='ide'/>\n      <iotune>\n        <total_bytes_sec>6</total_bytes_sec>\n        <read_iops_sec>0</read_iops_sec>\n      </iotune>",
        "      <source dev='eth0.1' mode='bridge'/>\n      <virtualport type='802.1Qbg'>\n        <parameters managerid='11' typeid='1193047' typeidversion='2' instanceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'/>\n      </virtualport>\n      <script path='/bin/true'/>",
        "  <qemu:commandline>\n    <qemu:arg value='-somearg'/>\n    <qemu:env name='SOMEENV' value='foo=bar baz,foo'/>\n  </qemu:commandline>\n</domain>\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let again = LibvirtXml.parse_domain(&out).expect("own output");
    assert_eq!(again, def);
    let input = dom::parse(MODELLED, "(t)").expect("xml");
    let printed = dom::parse(&out, "(t)").expect("xml");
    assert!(
        covers(&input, &printed),
        "{}",
        explain_loss(&input, &printed, "/domain")
    );
    if validator_present() {
        assert_eq!(validate(&out, "domain", "modelled"), Some(Ok(())));
    }
}

#[test]
fn what_libvirt_would_drop_silently_is_refused_by_xpath() {
    let doc = |devices: &str, top: &str| {
        format!("<domain type='test'><name>m</name><memory>1024</memory><os><type>hvm</type></os>{top}<devices>{devices}</devices></domain>")
    };
    let cases = [
        (
            doc("<disk type='file'><source file='/a'><seclabel model='dac'/></source><target dev='vda'/></disk>", ""),
            "/domain/devices/disk[1]/source/seclabel[1]",
        ),
        (
            doc("<interface type='direct'><source dev='eth0' portgroup='p'/></interface>", ""),
            "/domain/devices/interface[1]/source/@portgroup",
        ),
        (
            doc("<graphics type='vnc' display=':3'/>", ""),
            "/domain/devices/graphics[1]/@display",
        ),
        (
            doc("", "<numatune><memory placement='auto' nodeset='1'/></numatune>"),
            "/domain/numatune/memory/@nodeset",
        ),
        (
            doc("", "<numatune><memnode cellid='0' nodeset='1'/></numatune>"),
            "/domain/numatune/memnode",
        ),
        (
            doc("", "<maxMemory unit='KiB'>4096</maxMemory>"),
            "/domain/maxMemory",
        ),
        (
            doc("<disk type='file'><source file='/a'/><target dev='vda'/><iotune><total_iops_sec>1</total_iops_sec><read_iops_sec>2</read_iops_sec></iotune></disk>", ""),
            "/domain/devices/disk[1]/iotune/total_iops_sec",
        ),
        (
            doc("", "<q:commandline xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'><q:env name='1X'/></q:commandline>"),
            "/domain/q:commandline/q:env[1]/@name",
        ),
    ];
    for (xml, path) in cases {
        let e = LibvirtXml.parse_domain(&xml).expect_err(path);
        assert!(e.message().contains(path), "{path}: {}", e.message());
    }
}
