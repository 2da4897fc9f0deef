//! Native-format conversions (xen-xl and xen-xm) checked against libvirt 9.0's own libxl driver
//! (the oracle), started in a private libvirtd under ../shared/tools/xen's shims and stopped by
//! a guard.
//!
//! For every config `tests/data/xl/*.cfg` (xen-xl) and `tests/data/xm/*.cfg` (xen-xm): ours
//! against `virsh domxml-from-native FORMAT`, byte for byte (a config without a `uuid` gets a
//! random one from both, so that line is left out of the comparison); then libvirt's XML
//! through both `domxml-to-native FORMAT`, and libvirt's native config back through both
//! from-native. libvirt's XML also goes through both to-native of the other format, where a
//! refusal of ours is allowed (a PVH guest has no xm form) but a difference is not.
//! A config we refuse must have a `NAME.refuse` beside it naming the key our refusal names.
//! Every `*.xml` in both directories goes through both `domxml-to-native` of both formats; where
//! we refuse, a `NAME.FORMAT.refuse` (FORMAT `xl` or `xm`) must name what the refusal names.
//! When the oracle cannot start, the test says why and passes unless VIRT_REQUIRE_XEN is set.
#![cfg(feature = "xen-tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::ErrorCode;
use virtxend::xl::NativeFormat;

/// The shared Xen tools, beside the repository (override with VIRT_XEN_TOOLS).
const TOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/tools/xen");

struct Oracle {
    pids: Vec<String>,
    uri: String,
    _dir: tempfile::TempDir,
}

impl Drop for Oracle {
    fn drop(&mut self) {
        for pid in self.pids.iter().rev() {
            let _ = Command::new("kill").arg(pid).status();
        }
    }
}

fn start_oracle() -> Result<Oracle, String> {
    let tools = std::env::var("VIRT_XEN_TOOLS").unwrap_or_else(|_| TOOLS.to_string());
    let tools = Path::new(&tools);
    if !tools.join("start-libvirtd-libxl.sh").exists() {
        return Err(format!(
            "{} not found",
            tools.join("start-libvirtd-libxl.sh").display()
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let xs = dir.path().join("xs");
    let lv = dir.path().join("lv");
    let mut oracle = Oracle {
        pids: Vec::new(),
        uri: String::new(),
        _dir: dir,
    };
    for (script, args) in [
        ("start-xenstored.sh", vec![xs.clone()]),
        ("start-libvirtd-libxl.sh", vec![xs.clone(), lv.clone()]),
    ] {
        let out = Command::new("sh")
            .arg(tools.join(script))
            .args(&args)
            .output()
            .map_err(|e| format!("{script}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{script} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{script} printed no pid: {pid:?}"));
        }
        oracle.pids.push(pid);
    }
    oracle.uri = format!("xen:///system?socket={}/sock/libvirt-sock", lv.display());
    Ok(oracle)
}

fn virsh(uri: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("virsh")
        .arg("-q")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The lines that differ, for printing.
fn diff(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (ours.lines().collect(), theirs.lines().collect());
    let mut d = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or("<none>"),
            b.get(i).copied().unwrap_or("<none>"),
        );
        if x != y {
            d.push_str(&format!(
                "  line {}: ours   {x}\n          libvirt {y}\n",
                i + 1
            ));
        }
    }
    d
}

fn without_uuid(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with("<uuid>"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn fmt_name(f: NativeFormat) -> &'static str {
    match f {
        NativeFormat::Xl => "xen-xl",
        NativeFormat::Xm => "xen-xm",
    }
}

fn short(f: NativeFormat) -> &'static str {
    match f {
        NativeFormat::Xl => "xl",
        NativeFormat::Xm => "xm",
    }
}

fn other(f: NativeFormat) -> NativeFormat {
    match f {
        NativeFormat::Xl => NativeFormat::Xm,
        NativeFormat::Xm => NativeFormat::Xl,
    }
}

/// What was compared, per direction and format.
#[derive(Default)]
struct Counts {
    from_native: [usize; 2],
    to_native: [usize; 2],
    refused: [usize; 2],
    refused_to_native: [usize; 2],
}

fn idx(f: NativeFormat) -> usize {
    match f {
        NativeFormat::Xl => 0,
        NativeFormat::Xm => 1,
    }
}

struct Run<'a> {
    uri: &'a str,
    failures: Vec<String>,
    counts: Counts,
}

fn tmp(name: &str, ext: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("xl-oracle-{}-{name}.{ext}", std::process::id()));
    std::fs::write(&p, text).expect("write temporary file");
    p
}

impl Run<'_> {
    /// Libvirt's and our to-native of domain XML `xml` in `f`; refusals allowed when
    /// `may_refuse` names what ours must name (empty: any).
    fn check_to_native(
        &mut self,
        name: &str,
        f: NativeFormat,
        xml: &str,
        may_refuse: Option<&str>,
    ) -> Option<String> {
        let codec = virt_xml::LibvirtXml;
        let path = tmp(name, "xml", xml);
        let theirs = virsh(
            self.uri,
            &["domxml-to-native", fmt_name(f), &path.to_string_lossy()],
        );
        let _ = std::fs::remove_file(&path);
        let ours = codec
            .parse_domain(xml)
            .and_then(|d| virtxend::xl::to_native_in(f, &d));
        let tag = format!("{name} -> {}", fmt_name(f));
        match (ours, theirs) {
            (Ok(o), Ok(t)) => {
                if o.trim_end() != t.trim_end() {
                    self.failures
                        .push(format!("{tag}: to-native differs:\n{}", diff(&o, &t)));
                }
                self.counts.to_native[idx(f)] += 1;
                return Some(t);
            }
            (Err(e), theirs) => match may_refuse {
                Some(what)
                    if e.message().contains(what) && e.code == ErrorCode::ConfigUnsupported =>
                {
                    eprintln!("{tag}: refused: {}", e.message());
                    self.counts.refused_to_native[idx(f)] += 1;
                }
                _ if theirs.is_err() => {}
                _ => self
                    .failures
                    .push(format!("{tag}: we refuse: {}", e.message())),
            },
            (Ok(_), Err(e)) => self.failures.push(format!("{tag}: libvirt refuses: {e}")),
        }
        None
    }

    /// Ours and libvirt's from-native of `text` in `f`, compared; libvirt's XML when both agree.
    fn check_from_native(&mut self, name: &str, f: NativeFormat, text: &str) -> Option<String> {
        let codec = virt_xml::LibvirtXml;
        let has_uuid = text.lines().any(|l| l.trim_start().starts_with("uuid"));
        let path = tmp(name, "cfg", text);
        let theirs = virsh(
            self.uri,
            &["domxml-from-native", fmt_name(f), &path.to_string_lossy()],
        );
        let _ = std::fs::remove_file(&path);
        let ours = virtxend::xl::from_native_in(f, text)
            .map(|d| codec.format_domain(&d, FormatOptions::default()));
        let tag = format!("{name} <- {}", fmt_name(f));
        match (ours, theirs) {
            (Ok(o), Ok(t)) => {
                let (a, b) = if has_uuid {
                    (o.clone(), t.clone())
                } else {
                    (without_uuid(&o), without_uuid(&t))
                };
                if a.trim_end() != b.trim_end() {
                    self.failures
                        .push(format!("{tag}: from-native differs:\n{}", diff(&a, &b)));
                }
                self.counts.from_native[idx(f)] += 1;
                Some(t)
            }
            (Err(e), _) => {
                self.failures
                    .push(format!("{tag}: we refuse: {}", e.message()));
                None
            }
            (Ok(_), Err(e)) => {
                self.failures
                    .push(format!("{tag}: libvirt refuses what we accept: {e}"));
                None
            }
        }
    }

    fn config(&mut self, f: NativeFormat, cfg: &Path) {
        let name = cfg
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(cfg).expect("read cfg");
        if let Ok(key) = std::fs::read_to_string(cfg.with_extension("refuse")) {
            let key = key.trim();
            match virtxend::xl::from_native_in(f, &text) {
                Err(e)
                    if e.code == ErrorCode::ConfigUnsupported
                        && e.message().contains(&format!("'{key}'")) =>
                {
                    self.counts.refused[idx(f)] += 1;
                }
                Err(e) => self.failures.push(format!(
                    "{name}: refusal should name '{key}': {}",
                    e.message()
                )),
                Ok(_) => self
                    .failures
                    .push(format!("{name}: expected a refusal naming '{key}'")),
            }
            return;
        }
        let Some(xml) = self.check_from_native(&name, f, &text) else {
            return;
        };
        if let Some(native) = self.check_to_native(&name, f, &xml, None) {
            // libvirt's own native config back through both from-native.
            self.check_from_native(&format!("{name}.rt"), f, &native);
        }
        // The other format: refusing is allowed, differing is not.
        self.check_to_native(&name, other(f), &xml, Some(""));
    }

    fn xml(&mut self, path: &Path) {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(path).expect("read xml");
        for f in [NativeFormat::Xl, NativeFormat::Xm] {
            let refuse =
                std::fs::read_to_string(path.with_extension(format!("{}.refuse", short(f)))).ok();
            self.check_to_native(&name, f, &text, refuse.as_deref().map(str::trim));
        }
    }
}

#[test]
fn native_conversions_match_libvirt() {
    let oracle = match start_oracle() {
        Ok(o) => o,
        Err(why) => {
            eprintln!("xl oracle cannot start: {why}");
            assert!(
                std::env::var_os("VIRT_REQUIRE_XEN").is_none(),
                "VIRT_REQUIRE_XEN is set"
            );
            return;
        }
    };
    let mut run = Run {
        uri: &oracle.uri,
        failures: Vec::new(),
        counts: Counts::default(),
    };
    for f in [NativeFormat::Xl, NativeFormat::Xm] {
        for cfg in files(short(f), "cfg") {
            run.config(f, &cfg);
        }
    }
    for dir in ["xl", "xm"] {
        for xml in files(dir, "xml") {
            run.xml(&xml);
        }
    }
    for f in &run.failures {
        eprintln!("{f}");
    }
    let c = &run.counts;
    for f in [NativeFormat::Xl, NativeFormat::Xm] {
        let i = idx(f);
        eprintln!(
            "{} oracle: from-native {} matched, {} refused by name; to-native {} matched, {} refused",
            fmt_name(f),
            c.from_native[i],
            c.refused[i],
            c.to_native[i],
            c.refused_to_native[i]
        );
    }
    assert!(
        run.failures.is_empty(),
        "{} differences from libvirt (printed above)",
        run.failures.len()
    );
}
