//! libvirt's CPU map (`/usr/share/libvirt/cpu_map`, read at run time as libvirt reads it): the
//! CPU model names of an architecture (virCPUGetModels) and the baseline of host CPU
//! definitions (virCPUBaseline with virCPUExpandFeatures), as libvirt 9.0's CPU drivers answer
//! them for the test driver's `virConnectGetCPUModelNames` and `virConnectBaselineCPU`.
//!
//! x86 models are feature sets (each model file lists all its features, no parents), so a
//! baseline is the intersection of the CPUs' feature sets, decoded back into the model of the
//! map that needs the fewest extra features (the first CPU's model when all CPUs name the same
//! one). Features are compared by name, in the map's order; libvirt compares the CPUID bits
//! behind the names, which is the same for the map's features.
//!
//! Known differences from libvirt 9.0 (its decoder also weighs the CPUID signature and vendor
//! bits that intersecting the CPUs' data leaves behind, which names do not carry): some
//! baselines of an Intel and an AMD model pick another model, and a lone EPYC host CPU keeps
//! `monitor` where libvirt disables it. tests/tests/cpu_cli.rs compares the cases that agree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// Where libvirt's CPU map is installed; `VIRT_CPU_MAP_DIR` overrides it.
pub fn map_dir() -> PathBuf {
    std::env::var_os("VIRT_CPU_MAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/libvirt/cpu_map"))
}

/// libvirt's architecture names (virArch), in its table's order.
pub const ARCHES: &[&str] = &[
    "none",
    "alpha",
    "armv6l",
    "armv7l",
    "armv7b",
    "aarch64",
    "cris",
    "i686",
    "ia64",
    "lm32",
    "loongarch64",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "x86_64",
    "xtensa",
    "xtensaeb",
];

/// libvirt's CPU driver of an architecture: `x86`, `ppc64`, `arm` or `s390`.
pub fn cpu_driver(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "i686" | "x86_64" => "x86",
        "ppc64" | "ppc64le" => "ppc64",
        "armv6l" | "armv7l" | "armv7b" | "aarch64" => "arm",
        "s390" | "s390x" => "s390",
        _ => return None,
    })
}

fn unsupported_arch(arch: &str) -> VirtError {
    VirtError::new(
        ErrorCode::NoSupport,
        ErrorDomain::Cpu,
        format!("'{arch}' architecture is not supported by CPU driver"),
    )
}

/// virConnectGetCPUModelNames: the models the map lists for `arch`, in the map's order. x86
/// and ppc64 list their models; ARM and s390 accept any model (an empty list).
pub fn model_names(dir: &Path, arch: &str) -> Result<Vec<String>, VirtError> {
    if arch == "none" || !ARCHES.contains(&arch) {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::None,
            format!("cannot find architecture {arch}"),
        ));
    }
    match cpu_driver(arch) {
        Some(d @ ("x86" | "ppc64")) => {
            Ok(load_models(dir, d)?.into_iter().map(|m| m.name).collect())
        }
        Some(_) => Ok(Vec::new()),
        None => Err(unsupported_arch(arch)),
    }
}

// ---------------------------------------------------------------------------------------
// A small XML tag scanner: enough for the CPU map's files and `<cpu>` definitions.

/// One tag of a document.
#[derive(Debug, Clone)]
pub struct Tag {
    /// Element name.
    pub name: String,
    /// Attributes, unescaped.
    pub attrs: Vec<(String, String)>,
    /// `</name>`.
    pub close: bool,
    /// `<name/>`.
    pub empty: bool,
    /// The text up to the next tag, unescaped and trimmed.
    pub text: String,
}

impl Tag {
    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The tags of `xml`, skipping comments, declarations and processing instructions.
pub fn tags(xml: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.find("-->").map_or("", |e| &r[e + 3..]);
            continue;
        }
        let Some(end) = rest.find('>') else { break };
        let inner = &rest[1..end];
        rest = &rest[end + 1..];
        if inner.starts_with('?') || inner.starts_with('!') {
            continue;
        }
        let close = inner.starts_with('/');
        let inner = inner.trim_start_matches('/');
        let empty = inner.ends_with('/');
        let inner = inner.trim_end_matches('/').trim();
        let name_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_string();
        let mut attrs = Vec::new();
        let mut a = inner[name_end..].trim_start();
        while let Some(eq) = a.find('=') {
            let key = a[..eq].trim().to_string();
            let v = a[eq + 1..].trim_start();
            let Some(q) = v.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                break;
            };
            let Some(close_q) = v[1..].find(q) else { break };
            attrs.push((key, unescape(&v[1..1 + close_q])));
            a = v[close_q + 2..].trim_start();
        }
        let text_end = rest.find('<').unwrap_or(rest.len());
        let text = unescape(rest[..text_end].trim());
        out.push(Tag {
            name,
            attrs,
            close,
            empty,
            text,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// The map.

/// One CPU model of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapModel {
    /// Model name.
    pub name: String,
    /// Vendor name (`Intel`), if the model names one.
    pub vendor: Option<String>,
    /// Whether a guest CPU may be decoded into this model (`<decode guest='on'/>`; on when
    /// the file says nothing).
    pub decode_guest: bool,
    /// The model's features (x86).
    pub features: BTreeSet<String>,
}

/// The x86 features of the map, in its order, each with its aliases.
#[derive(Debug, Clone, Default)]
pub struct FeatureMap {
    /// (name, aliases) in the map's order.
    pub features: Vec<(String, Vec<String>)>,
}

impl FeatureMap {
    /// The map's name of `name` (itself or what it is an alias of).
    pub fn canonical(&self, name: &str) -> Option<&str> {
        self.features
            .iter()
            .find(|(n, aliases)| n == name || aliases.iter().any(|a| a == name))
            .map(|(n, _)| n.as_str())
    }

    /// `set` in the map's order.
    pub fn ordered<'a>(&'a self, set: &'a BTreeSet<String>) -> impl Iterator<Item = &'a str> {
        self.features
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(move |n| set.contains(*n))
    }
}

fn read(dir: &Path, file: &str) -> Result<String, VirtError> {
    std::fs::read_to_string(dir.join(file)).map_err(|e| {
        VirtError::new(
            ErrorCode::InternalError,
            ErrorDomain::Cpu,
            format!("cannot read CPU map file {}: {e}", dir.join(file).display()),
        )
    })
}

/// The files `index.xml` includes for CPU driver `arch` (`x86`, `ppc64`, `arm`).
fn includes(dir: &Path, arch: &str) -> Result<Vec<String>, VirtError> {
    let index = read(dir, "index.xml")?;
    let mut files = Vec::new();
    let mut inside = false;
    for t in tags(&index) {
        match t.name.as_str() {
            "arch" if t.close => inside = false,
            "arch" => inside = t.attr("name") == Some(arch),
            "include" if inside => {
                if let Some(f) = t.attr("filename") {
                    files.push(f.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(files)
}

/// The models of CPU driver `arch`, in the map's order.
pub fn load_models(dir: &Path, arch: &str) -> Result<Vec<MapModel>, VirtError> {
    let mut models = Vec::new();
    for file in includes(dir, arch)? {
        let text = read(dir, &file)?;
        let mut cur: Option<MapModel> = None;
        for t in tags(&text) {
            match (t.name.as_str(), cur.as_mut()) {
                ("model", None) if !t.close => {
                    if let Some(name) = t.attr("name") {
                        let m = MapModel {
                            name: name.to_string(),
                            vendor: None,
                            decode_guest: true,
                            features: BTreeSet::new(),
                        };
                        if t.empty {
                            models.push(m);
                        } else {
                            cur = Some(m);
                        }
                    }
                }
                ("model", Some(_)) if t.close => models.extend(cur.take()),
                ("vendor", Some(m)) => m.vendor = t.attr("name").map(str::to_string),
                ("decode", Some(m)) => m.decode_guest = t.attr("guest") != Some("off"),
                ("feature", Some(m)) => {
                    if let Some(n) = t.attr("name") {
                        m.features.insert(n.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(models)
}

/// The x86 features of the map.
pub fn load_features(dir: &Path) -> Result<FeatureMap, VirtError> {
    let text = read(dir, "x86_features.xml")?;
    let mut map = FeatureMap::default();
    let mut depth_in_feature = false;
    for t in tags(&text) {
        match t.name.as_str() {
            "feature" if t.close => depth_in_feature = false,
            "feature" => {
                if let Some(n) = t.attr("name") {
                    map.features.push((n.to_string(), Vec::new()));
                    depth_in_feature = !t.empty;
                }
            }
            "alias" if depth_in_feature => {
                if let (Some(a), Some(last)) = (t.attr("name"), map.features.last_mut()) {
                    last.1.push(a.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(map)
}

/// The x86 vendors of the map.
fn load_vendors(dir: &Path) -> Result<Vec<String>, VirtError> {
    Ok(tags(&read(dir, "x86_vendors.xml")?)
        .into_iter()
        .filter(|t| t.name == "vendor" && !t.close)
        .filter_map(|t| t.attr("name").map(str::to_string))
        .collect())
}

// ---------------------------------------------------------------------------------------
// CPU definitions.

/// A `<cpu>` definition as the baseline reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuDef {
    /// `<arch>`.
    pub arch: Option<String>,
    /// `<model>`.
    pub model: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<feature name=.. policy=..>`: (policy or empty, name), in order.
    pub features: Vec<(String, String)>,
}

fn xml_error(detail: &str) -> VirtError {
    VirtError::new(ErrorCode::XmlError, ErrorDomain::Cpu, detail)
}

/// Reads the first `<cpu>` element of `xml`.
pub fn parse_cpu(xml: &str) -> CpuDef {
    let mut def = CpuDef::default();
    let mut depth = 0usize;
    let mut seen = false;
    for t in tags(xml) {
        if t.name == "cpu" {
            if t.close {
                if depth == 1 {
                    break;
                }
                depth = depth.saturating_sub(1);
            } else if !t.empty {
                depth += 1;
                seen = true;
            }
            continue;
        }
        if !seen || depth != 1 || t.close {
            continue;
        }
        match t.name.as_str() {
            "arch" => def.arch = Some(t.text.clone()),
            "model" => def.model = Some(t.text.clone()).filter(|m| !m.is_empty()),
            "vendor" => def.vendor = Some(t.text.clone()),
            "feature" => {
                if let Some(n) = t.attr("name") {
                    def.features.push((
                        t.attr("policy").unwrap_or_default().to_string(),
                        n.to_string(),
                    ));
                }
            }
            _ => {}
        }
    }
    def
}

/// A host CPU definition's checks (virCPUDefParseXML for VIR_CPU_TYPE_HOST).
fn parse_host_cpu(xml: &str) -> Result<CpuDef, VirtError> {
    let mode = tags(xml)
        .into_iter()
        .find(|t| t.name == "cpu" && !t.close)
        .is_some_and(|t| t.attr("mode").is_some());
    if mode {
        return Err(VirtError::new(
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Cpu,
            "Attribute mode is only allowed for guest CPU",
        ));
    }
    let def = parse_cpu(xml);
    if def.arch.is_none() {
        return Err(xml_error("Missing CPU architecture"));
    }
    if def.model.is_none() {
        return Err(xml_error("Missing CPU model name"));
    }
    Ok(def)
}

/// One baseline result, formatted as virCPUDefFormat formats a guest CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// Model name.
    pub model: String,
    /// `fallback='forbid'` (the model every input named) rather than `allow`.
    pub forbid_fallback: bool,
    /// Vendor, when the first CPU named one.
    pub vendor: Option<String>,
    /// (policy, name), in order.
    pub features: Vec<(&'static str, String)>,
}

impl Baseline {
    /// The `<cpu>` XML.
    pub fn to_xml(&self) -> String {
        let mut s = String::from("<cpu mode='custom' match='exact'>\n");
        let fallback = if self.forbid_fallback {
            "forbid"
        } else {
            "allow"
        };
        s.push_str(&format!(
            "  <model fallback='{fallback}'>{}</model>\n",
            self.model
        ));
        if let Some(v) = &self.vendor {
            s.push_str(&format!("  <vendor>{v}</vendor>\n"));
        }
        for (policy, name) in &self.features {
            s.push_str(&format!("  <feature policy='{policy}' name='{name}'/>\n"));
        }
        s.push_str("</cpu>\n");
        s
    }
}

fn op_failed(detail: String) -> VirtError {
    VirtError::new(ErrorCode::OperationFailed, ErrorDomain::Cpu, detail)
}

/// virCPUBaseline (no model list, not migratable) of host CPU definitions, then, with
/// `expand`, virCPUExpandFeatures.
pub fn baseline(dir: &Path, xml_cpus: &[String], expand: bool) -> Result<String, VirtError> {
    if xml_cpus.is_empty() {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Cpu,
            "nothing to baseline",
        ));
    }
    let cpus = xml_cpus
        .iter()
        .map(|x| parse_host_cpu(x))
        .collect::<Result<Vec<_>, _>>()?;
    let arch = cpus[0].arch.clone().unwrap_or_default();
    let result = match cpu_driver(&arch) {
        Some("x86") => x86_baseline(dir, &cpus, expand, None)?,
        Some("ppc64") => same_model_baseline(&cpus, true)?,
        Some("arm") => same_model_baseline(&cpus, false)?,
        _ => return Err(unsupported_arch(&arch)),
    };
    Ok(result.to_xml())
}

/// ppc64 and ARM: the CPUs' common model.
fn same_model_baseline(cpus: &[CpuDef], forbid: bool) -> Result<Baseline, VirtError> {
    let model = cpus[0].model.clone().unwrap_or_default();
    if cpus
        .iter()
        .any(|c| c.model.as_deref() != Some(model.as_str()))
    {
        return Err(op_failed("CPUs are incompatible".into()));
    }
    Ok(Baseline {
        model,
        forbid_fallback: forbid,
        vendor: None,
        features: Vec::new(),
    })
}

/// An x86 CPU definition's features: its model's and those it lists (a host CPU's features
/// are all present, whatever policy they carry).
fn x86_features(
    cpu: &CpuDef,
    models: &[MapModel],
    fmap: &FeatureMap,
) -> Result<BTreeSet<String>, VirtError> {
    let name = cpu.model.as_deref().unwrap_or_default();
    let model = models.iter().find(|m| m.name == name).ok_or_else(|| {
        VirtError::internal(ErrorDomain::Cpu, format!("Unknown CPU model {name}"))
    })?;
    let mut set = model.features.clone();
    for (_, f) in &cpu.features {
        let c = fmap.canonical(f).ok_or_else(|| {
            VirtError::internal(ErrorDomain::Cpu, format!("Unknown CPU feature {f}"))
        })?;
        set.insert(c.to_string());
    }
    Ok(set)
}

/// virConnectBaselineHypervisorCPU's baseline for an x86 hypervisor: as [`baseline`], but
/// the CPUs may leave out their architecture (`arch` is the hypervisor's), and the result is
/// one of the models the hypervisor can run (`usable`).
pub fn hypervisor_baseline(
    dir: &Path,
    xml_cpus: &[String],
    expand: bool,
    arch: &str,
    usable: &[String],
) -> Result<String, VirtError> {
    if cpu_driver(arch) != Some("x86") {
        return Err(unsupported_arch(arch));
    }
    let cpus = xml_cpus
        .iter()
        .map(|x| {
            let def = parse_cpu(x);
            if def.model.is_none() {
                return Err(xml_error("Missing CPU model name"));
            }
            Ok(def)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if cpus.is_empty() {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Cpu,
            "nothing to baseline",
        ));
    }
    Ok(x86_baseline(dir, &cpus, expand, Some(usable))?.to_xml())
}

fn x86_baseline(
    dir: &Path,
    cpus: &[CpuDef],
    expand: bool,
    usable: Option<&[String]>,
) -> Result<Baseline, VirtError> {
    let models = load_models(dir, "x86")?;
    let fmap = load_features(dir)?;
    let vendors = load_vendors(dir)?;
    let mut base = x86_features(&cpus[0], &models, &fmap)?;
    let vendor = cpus[0].vendor.clone();
    if let Some(v) = &vendor {
        if !vendors.contains(v) {
            return Err(op_failed(format!("Unknown CPU vendor {v}")));
        }
    }
    // The decoding vendor: the first CPU's own <vendor>, then the vendor (named, or of the
    // model) of each further CPU, which must agree.
    let mut decode_vendor = vendor.clone();
    let mut preferred = cpus[0].model.clone();
    for cpu in &cpus[1..] {
        let set = x86_features(cpu, &models, &fmap)?;
        let name = cpu.model.as_deref().unwrap_or_default();
        let model_vendor = models
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.vendor.clone());
        if let (Some(v), Some(mv)) = (&cpu.vendor, &model_vendor) {
            if v != mv {
                return Err(op_failed(format!(
                    "CPU vendor {mv} of model {name} differs from vendor {v}"
                )));
            }
        }
        if let Some(v) = cpu.vendor.clone().or(model_vendor) {
            match &decode_vendor {
                None => {
                    if !vendors.contains(&v) {
                        return Err(op_failed(format!("Unknown CPU vendor {v}")));
                    }
                    decode_vendor = Some(v);
                }
                Some(d) if *d != v => {
                    return Err(op_failed("CPU vendors do not match".into()));
                }
                Some(_) => {}
            }
        }
        if preferred != cpu.model {
            preferred = None;
        }
        base = base.intersection(&set).cloned().collect();
    }
    if base.is_empty() {
        return Err(op_failed("CPUs are incompatible".into()));
    }
    // x86Decode: the models newest first; the preferred one if it can be used, else the one
    // with the lowest cost: each feature to add counts 1, the features to disable 2, 3, 4, ...
    // (fewer disabled features winning a tie).
    type Candidate<'m> = (&'m MapModel, Vec<(&'static str, String)>, usize, usize);
    let mut best: Option<Candidate> = None;
    for m in models.iter().rev() {
        if !m.decode_guest || usable.is_some_and(|u| !u.contains(&m.name)) {
            continue;
        }
        if let (Some(v), Some(mv)) = (&decode_vendor, &m.vendor) {
            if v != mv {
                continue;
            }
        }
        let extra: BTreeSet<String> = base.difference(&m.features).cloned().collect();
        let missing: BTreeSet<String> = m.features.difference(&base).cloned().collect();
        let mut feats: Vec<(&'static str, String)> = fmap
            .ordered(&extra)
            .map(|f| ("require", f.to_string()))
            .collect();
        feats.extend(fmap.ordered(&missing).map(|f| ("disable", f.to_string())));
        let penalty: usize = (0..missing.len()).map(|k| 2 + k).sum();
        let cost = extra.len() + penalty;
        if preferred.as_deref() == Some(m.name.as_str()) {
            best = Some((m, feats, cost, penalty));
            break;
        }
        let better = best
            .as_ref()
            .is_none_or(|(_, _, c, p)| cost < *c || (cost == *c && penalty < *p));
        if better {
            best = Some((m, feats, cost, penalty));
        }
    }
    let Some((model, mut features, _, _)) = best else {
        return Err(op_failed(
            "Cannot find suitable CPU model for given data".into(),
        ));
    };
    if expand {
        let mut all: Vec<(&'static str, String)> = model
            .features
            .iter()
            .filter(|f| !features.iter().any(|(_, g)| g == *f))
            .map(|f| ("require", f.clone()))
            .collect();
        all.append(&mut features);
        all.sort_by(|a, b| a.1.cmp(&b.1));
        features = all;
    }
    // The vendor is printed when every CPU names one.
    let vendor = vendor.filter(|_| cpus.iter().all(|c| c.vendor.is_some()));
    Ok(Baseline {
        model: model.name.clone(),
        forbid_fallback: preferred.as_deref() == Some(model.name.as_str()),
        vendor,
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        let w = |f: &str, s: &str| std::fs::write(d.path().join(f), s).expect("write");
        w(
            "index.xml",
            "<cpus><arch name='x86'><include filename='x86_vendors.xml'/>\
             <include filename='x86_features.xml'/><include filename='x86_A.xml'/>\
             <include filename='x86_B.xml'/></arch>\
             <arch name='ppc64'><include filename='ppc64_P.xml'/></arch></cpus>",
        );
        w(
            "x86_vendors.xml",
            "<cpus><vendor name='Intel' string='GenuineIntel'/></cpus>",
        );
        w(
            "x86_features.xml",
            "<cpus><feature name='fpu'><cpuid/></feature><feature name='sse'>\
             <alias name='sse-q' source='qemu'/></feature><feature name='avx'/>\
             <feature name='vmx'/></cpus>",
        );
        w(
            "x86_A.xml",
            "<cpus><model name='A'><feature name='fpu'/></model></cpus>",
        );
        w(
            "x86_B.xml",
            "<cpus><model name='B'><vendor name='Intel'/><feature name='fpu'/>\
             <feature name='sse'/><feature name='avx'/></model></cpus>",
        );
        w("ppc64_P.xml", "<cpus><model name='P'/></cpus>");
        d
    }

    #[test]
    fn model_names_follow_the_index() {
        let d = fixture();
        assert_eq!(model_names(d.path(), "x86_64").expect("x86"), ["A", "B"]);
        assert_eq!(model_names(d.path(), "ppc64le").expect("ppc"), ["P"]);
        assert!(model_names(d.path(), "aarch64").expect("arm").is_empty());
        assert_eq!(
            model_names(d.path(), "foo").expect_err("unknown").message(),
            "invalid argument: cannot find architecture foo"
        );
        assert_eq!(
            model_names(d.path(), "riscv64")
                .expect_err("no driver")
                .message(),
            "this function is not supported by the connection driver: \
             'riscv64' architecture is not supported by CPU driver"
        );
    }

    #[test]
    fn baseline_keeps_the_named_model_and_decodes_others() {
        let d = fixture();
        let one = "<cpu><arch>x86_64</arch><model>B</model><feature name='vmx'/></cpu>";
        assert_eq!(
            baseline(d.path(), &[one.into()], false).expect("one"),
            "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>B</model>\n  \
             <feature policy='require' name='vmx'/>\n</cpu>\n"
        );
        let a = "<cpu><arch>x86_64</arch><model>A</model><feature name='sse-q'/></cpu>";
        // B ∩ (A + sse) = fpu + sse: A needs sse added (cost 1), B avx disabled (cost 2).
        let out = baseline(d.path(), &[one.into(), a.into()], false).expect("two");
        assert!(out.contains("<model fallback='allow'>A</model>"), "{out}");
        assert!(
            out.contains("<feature policy='require' name='sse'/>"),
            "{out}"
        );
        let expanded = baseline(d.path(), &[one.into()], true).expect("expand");
        assert!(
            expanded.contains("name='avx'/>\n  <feature policy='require' name='fpu'/>"),
            "{expanded}"
        );
        let bad = "<cpu><arch>x86_64</arch><model>Z</model></cpu>";
        assert_eq!(
            baseline(d.path(), &[bad.into()], false)
                .expect_err("unknown")
                .message(),
            "internal error: Unknown CPU model Z"
        );
        let no_arch = "<cpu><model>A</model></cpu>";
        assert_eq!(
            baseline(d.path(), &[no_arch.into()], false)
                .expect_err("arch")
                .message(),
            "XML error: Missing CPU architecture"
        );
    }
}
