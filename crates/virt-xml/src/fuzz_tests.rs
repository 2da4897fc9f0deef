//! Robustness tests: a proptest property that format(parse(x)) is a fixed point for documents
//! made by mutating the shared corpus and by a small generator of core domains, and a
//! stable-Rust fuzz loop (ignored by default) that throws random tree and byte mutations of the
//! corpus at the parser for a set time.
//!
//! The property: whatever `parse_domain` accepts formats to XML that parses again and formats
//! byte for byte the same; nothing panics. Run the loop with
//! `VIRT_XML_FUZZ_SECS=300 cargo test -p virt-xml --release fuzz_loop -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use virt_core::xml::{DomainXmlCodec, FormatOptions};

use crate::dom::{self, Element, Node};
use crate::tests::{corpus, LIVE};
use crate::writer::{escape_attr, escape_text};
use crate::LibvirtXml;

const INACTIVE: FormatOptions = FormatOptions {
    id: None,
    secure: false,
    inactive: true,
};

/// Values tried for any attribute or text besides those seen in the corpus.
const GENERIC: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "yes",
    "no",
    "on",
    "off",
    "4294967296",
    "18446744073709551616",
    "0x10",
    "abc",
    "1.5",
    " 2 ",
    "none",
    "default",
    "auto",
    "&<>",
];

/// Source of choices for the mutators: proptest's vector or the xorshift loop.
trait Choices {
    /// A number below `n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize;
}

/// Replays a fixed vector of choices (so proptest can shrink it), then zeros.
struct Replay<'a>(&'a [u32], usize);

impl Choices for Replay<'_> {
    fn below(&mut self, n: usize) -> usize {
        let v = self.0.get(self.1).copied().unwrap_or(0);
        self.1 += 1;
        v as usize % n.max(1)
    }
}

/// Marsaglia's xorshift64.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

impl Choices for XorShift {
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The corpus as parsed trees, with the values seen per attribute name and per element text.
struct Corpus {
    trees: Vec<Element>,
    attr_values: BTreeMap<String, Vec<String>>,
    text_values: BTreeMap<String, Vec<String>>,
}

fn collect_values(el: &Element, c: &mut Corpus) {
    for a in &el.attrs {
        let v = c.attr_values.entry(a.qname.clone()).or_default();
        if !v.contains(&a.value) {
            v.push(a.value.clone());
        }
    }
    let text = el.text();
    if el.elements().next().is_none() && !text.is_empty() {
        let v = c.text_values.entry(el.qname()).or_default();
        if !v.contains(&text) {
            v.push(text);
        }
    }
    for e in el.elements() {
        collect_values(e, c);
    }
}

fn load_corpus() -> Corpus {
    let mut c = Corpus {
        trees: Vec::new(),
        attr_values: BTreeMap::new(),
        text_values: BTreeMap::new(),
    };
    let mut files: Vec<_> = std::fs::read_dir(corpus("domain-xml"))
        .expect("corpus directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable corpus file");
        if let Ok(root) = dom::parse(&text, "(corpus)") {
            collect_values(&root, &mut c);
            c.trees.push(root);
        }
    }
    c.trees
        .push(dom::parse(crate::tests::TEST_DOMAIN, "(t)").expect("test domain"));
    assert!(c.trees.len() > 10, "corpus found");
    c
}

/// Serialises a tree back to XML (namespace declarations and prefixes as parsed).
fn to_xml(el: &Element, out: &mut String) {
    let q = el.qname();
    out.push('<');
    out.push_str(&q);
    for (p, uri) in &el.ns_decls {
        match p {
            Some(p) => out.push_str(&format!(" xmlns:{p}='{}'", escape_attr(uri))),
            None => out.push_str(&format!(" xmlns='{}'", escape_attr(uri))),
        }
    }
    for a in &el.attrs {
        out.push_str(&format!(" {}='{}'", a.qname, escape_attr(&a.value)));
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for n in &el.children {
        match n {
            Node::Element(e) => to_xml(e, out),
            Node::Text(t) => out.push_str(&escape_text(t)),
        }
    }
    out.push_str(&format!("</{q}>"));
}

fn count(el: &Element) -> usize {
    1 + el.elements().map(count).sum::<usize>()
}

/// The `n`th element in document order.
fn nth_mut<'e>(el: &'e mut Element, n: &mut usize) -> Option<&'e mut Element> {
    if *n == 0 {
        return Some(el);
    }
    *n -= 1;
    for c in el.children.iter_mut() {
        if let Node::Element(e) = c {
            if let Some(found) = nth_mut(e, n) {
                return Some(found);
            }
        }
    }
    None
}

fn nth(el: &Element, n: &mut usize) -> Option<Element> {
    if *n == 0 {
        return Some(el.clone());
    }
    *n -= 1;
    el.elements().find_map(|e| nth(e, n))
}

fn pick(ch: &mut dyn Choices, seen: Option<&Vec<String>>) -> String {
    let seen_len = seen.map_or(0, Vec::len);
    let i = ch.below(seen_len + GENERIC.len());
    match seen {
        Some(v) if i < seen_len => v[i].clone(),
        _ => GENERIC[i.saturating_sub(seen_len) % GENERIC.len()].to_string(),
    }
}

/// Applies one random mutation to `root`.
fn mutate(root: &mut Element, corpus: &Corpus, ch: &mut dyn Choices) {
    let mut n = ch.below(count(root));
    let Some(el) = nth_mut(root, &mut n) else {
        return;
    };
    let kids = el.children.len();
    match ch.below(8) {
        0 if kids > 0 => {
            el.children.remove(ch.below(kids));
        }
        1 if kids > 0 => {
            let c = el.children[ch.below(kids)].clone();
            el.children.insert(ch.below(kids + 1), c);
        }
        2 if kids > 1 => el.children.swap(ch.below(kids), ch.below(kids)),
        3 if !el.attrs.is_empty() => {
            let i = ch.below(el.attrs.len());
            el.attrs[i].value = pick(ch, corpus.attr_values.get(&el.attrs[i].qname));
        }
        4 if !el.attrs.is_empty() => {
            el.attrs.remove(ch.below(el.attrs.len()));
        }
        5 => {
            // An attribute seen elsewhere in the corpus, with one of its values.
            let names: Vec<&String> = corpus.attr_values.keys().collect();
            let name = names[ch.below(names.len())].clone();
            if !el.attrs.iter().any(|a| a.qname == name) && !name.contains(':') {
                let value = pick(ch, corpus.attr_values.get(&name));
                el.attrs.push(dom::Attr {
                    qname: name,
                    prefixed: false,
                    value,
                });
            }
        }
        6 if el.elements().next().is_none() => {
            let t = pick(ch, corpus.text_values.get(&el.qname()));
            el.children = vec![Node::Text(t)];
        }
        _ => {
            // Graft a subtree of another corpus document.
            let donor = &corpus.trees[ch.below(corpus.trees.len())];
            let mut k = ch.below(count(donor));
            if let Some(sub) = nth(donor, &mut k) {
                if sub.ns_decls.is_empty() && sub.prefix.is_none() {
                    el.children.insert(ch.below(kids + 1), Node::Element(sub));
                }
            }
        }
    }
}

/// Whether `xml` has a `<disk>` whose `<target>` names no bus. libvirt (and this crate) sorts
/// disks by bus as it parses and fills in the default bus afterwards (post-parse), so such a
/// disk can move on the second parse: the output is then a fixed point only from the second
/// formatting on, exactly as `virsh define; virsh dumpxml` twice would show. The same holds
/// for a `<controller>` without `index` (inserted before its index is assigned).
fn has_busless_disk(xml: &str) -> bool {
    fn walk(el: &Element) -> bool {
        el.elements().any(|e| {
            (e.name == "disk"
                && e.elements()
                    .any(|t| t.name == "target" && !t.attrs.iter().any(|a| a.qname == "bus")))
                || (e.name == "controller" && !e.attrs.iter().any(|a| a.qname == "index"))
                || walk(e)
        })
    }
    dom::parse(xml, "(t)").is_ok_and(|root| walk(&root))
}

/// format(parse(`xml`)) with `opts`, or why the output does not parse.
fn round(xml: &str, opts: FormatOptions) -> Result<String, String> {
    LibvirtXml
        .parse_domain(xml)
        .map(|def| LibvirtXml.format_domain(&def, opts))
        .map_err(|e| format!("formatted output does not parse: {e}\n{xml}"))
}

/// Checks the fixed-point property on `xml`; `Ok(true)` when it parsed.
fn check_fixed_point(xml: &str) -> Result<bool, String> {
    let Ok(def) = LibvirtXml.parse_domain(xml) else {
        return Ok(false);
    };
    for opts in [LIVE, INACTIVE] {
        let mut once = LibvirtXml.format_domain(&def, opts);
        let mut twice = round(&once, opts)?;
        if once != twice && has_busless_disk(xml) {
            once = twice;
            twice = round(&once, opts)?;
        }
        if once != twice {
            return Err(format!(
                "not a fixed point:\n--- once\n{once}\n--- twice\n{twice}\n--- input\n{xml}"
            ));
        }
    }
    Ok(true)
}

fn mutated(corpus: &Corpus, ch: &mut dyn Choices, rounds: usize) -> String {
    let mut root = corpus.trees[ch.below(corpus.trees.len())].clone();
    for _ in 0..rounds {
        mutate(&mut root, corpus, ch);
    }
    let mut xml = String::new();
    to_xml(&root, &mut xml);
    xml
}

/// A small core domain from choices.
fn generated(ch: &mut dyn Choices) -> String {
    const UNITS: &[&str] = &[
        "", "b", "KiB", "k", "MiB", "M", "G", "GiB", "T", "bytes", "kB",
    ];
    const TYPES: &[&str] = &["test", "kvm", "qemu", "xen", "lxc"];
    const OS: &[&str] = &[
        "<os><type>hvm</type></os>",
        "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>",
        "<os><type>exe</type><init>/sbin/init</init></os>",
        "<os firmware='efi'><type arch='x86_64'>hvm</type></os>",
        "<os><type>xen</type><kernel>/k</kernel><cmdline>a=b</cmdline></os>",
    ];
    const DEVICES: &[&str] = &[
        "<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>",
        "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>",
        "<interface type='network'><source network='default'/></interface>",
        "<interface type='bridge'><mac address='52:54:00:01:02:03'/><source bridge='br0'/></interface>",
        "<serial type='pty'><target port='0'/></serial>",
        "<console type='pty'/>",
        "<graphics type='vnc' port='-1' autoport='yes'/>",
        "<video><model type='vga' vram='16384' heads='1'/></video>",
        "<input type='tablet' bus='usb'/>",
        "<memballoon model='virtio'/>",
        "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
        "<controller type='usb' index='0'/>",
        "<watchdog model='i6300esb' action='reset'/>",
        "<panic model='isa'/>",
        "<filesystem type='mount' accessmode='mapped'><driver type='path'/><source dir='/a'/><target dir='t'/><readonly/></filesystem>",
        "<filesystem type='ram'><source usage='1' units='M'/><target dir='/r'/></filesystem>",
        "<tpm model='tpm-crb'><backend type='emulator' version='2.0'><active_pcr_banks><sha256/></active_pcr_banks></backend></tpm>",
        "<tpm><backend type='passthrough'/></tpm>",
    ];
    const TUNING: &[&str] = &[
        "<memtune><hard_limit unit='G'>1</hard_limit><swap_hard_limit>2048</swap_hard_limit></memtune>",
        "<blkiotune><weight>500</weight><device><path>/dev/sda</path><read_iops_sec>5</read_iops_sec></device></blkiotune>",
        "<memoryBacking><hugepages><page size='2' unit='M'/></hugepages><locked/><access mode='shared'/></memoryBacking>",
        "<cputune><shares>1024</shares><period>100000</period><quota>-1</quota><vcpupin vcpu='0' cpuset='0-1'/><emulatorpin cpuset='2'/></cputune>",
        "<iothreads>2</iothreads>",
        "<idmap><uid start='0' target='1000' count='10'/><gid start='0' target='1000' count='10'/></idmap>",
    ];
    let name: String = (0..1 + ch.below(8))
        .map(|_| (b'a' + ch.below(26) as u8) as char)
        .collect();
    let mut xml = format!(
        "<domain type='{}'><name>{name}</name><memory unit='{}'>{}</memory>",
        TYPES[ch.below(TYPES.len())],
        UNITS[ch.below(UNITS.len())],
        1 + ch.below(1 << 20)
    );
    if ch.below(2) == 0 {
        xml.push_str(&format!("<vcpu>{}</vcpu>", 1 + ch.below(16)));
    }
    for _ in 0..ch.below(3) {
        xml.push_str(TUNING[ch.below(TUNING.len())]);
    }
    xml.push_str(OS[ch.below(OS.len())]);
    for what in ["on_poweroff", "on_reboot", "on_crash"] {
        if ch.below(3) == 0 {
            let v = ["destroy", "restart", "preserve", "rename-restart"][ch.below(4)];
            xml.push_str(&format!("<{what}>{v}</{what}>"));
        }
    }
    xml.push_str("<devices>");
    for _ in 0..ch.below(6) {
        xml.push_str(DEVICES[ch.below(DEVICES.len())]);
    }
    xml.push_str("</devices></domain>");
    xml
}

fn corpus_once() -> &'static Corpus {
    static CORPUS: std::sync::OnceLock<Corpus> = std::sync::OnceLock::new();
    CORPUS.get_or_init(load_corpus)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_documents_format_to_a_fixed_point(
        choices in proptest::collection::vec(any::<u32>(), 1..64),
        rounds in 1usize..6,
    ) {
        let xml = mutated(corpus_once(), &mut Replay(&choices, 0), rounds);
        if let Err(e) = check_fixed_point(&xml) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn generated_core_domains_format_to_a_fixed_point(
        choices in proptest::collection::vec(any::<u32>(), 1..64),
    ) {
        let xml = generated(&mut Replay(&choices, 0));
        if let Err(e) = check_fixed_point(&xml) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn generator_makes_domains_that_parse() {
    let mut parsed = 0;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..200 {
        if check_fixed_point(&generated(&mut rng)).expect("fixed point") {
            parsed += 1;
        }
    }
    assert!(parsed > 50, "only {parsed} of 200 generated domains parse");
}

/// Random byte-level damage on top of the tree mutations.
fn damage(xml: &str, rng: &mut XorShift) -> String {
    let mut bytes = xml.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[at] = rng.next() as u8,
            1 => {
                bytes.truncate(at);
            }
            2 => {
                let b = b"<>&'\"/=x;#:\n "[rng.below(13)];
                bytes.insert(at, b);
            }
            _ => {
                let end = (at + rng.below(32)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                let to = rng.below(bytes.len());
                bytes.splice(to..to, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The stable-Rust fuzz loop: `VIRT_XML_FUZZ_SECS` seconds (default 60) of random mutations of
/// the corpus, every accepted document checked for the fixed point, any panic a failure.
#[test]
#[ignore = "fuzzing bench; run explicitly with --ignored"]
fn fuzz_loop() {
    let secs: u64 = std::env::var("VIRT_XML_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("VIRT_XML_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x2545_f491_4f6c_dd1d);
    let corpus = corpus_once();
    let mut rng = XorShift(seed | 1);
    let start = Instant::now();
    let (mut tried, mut parsed) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        let xml = match rng.below(10) {
            0 => generated(&mut rng),
            1..=6 => {
                let rounds = 1 + rng.below(8);
                mutated(corpus, &mut rng, rounds)
            }
            _ => {
                let rounds = rng.below(4);
                let base = mutated(corpus, &mut rng, rounds);
                damage(&base, &mut rng)
            }
        };
        tried += 1;
        match check_fixed_point(&xml) {
            Ok(true) => parsed += 1,
            Ok(false) => {}
            Err(e) => panic!("after {tried} inputs (seed {seed}): {e}"),
        }
    }
    println!(
        "fuzz_loop: {tried} inputs in {:.0} s, {parsed} parsed, all fixed points, no panic",
        start.elapsed().as_secs_f64()
    );
}
