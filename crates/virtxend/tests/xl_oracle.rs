//! xl.cfg conversions checked against libvirt 9.0's own libxl driver (the oracle), started in a
//! private libvirtd under ../shared/tools/xen's shims and stopped by a guard.
//!
//! For every `tests/data/xl/*.cfg`: our `from_native` against `virsh domxml-from-native
//! xen-xl`, byte for byte (a config without a `uuid` gets a random one from both, so that line
//! is left out of the comparison); then libvirt's XML through both `domxml-to-native xen-xl`.
//! Every `*.xml` there goes through both `domxml-to-native xen-xl`.
//! A config we refuse must have a `NAME.refuse` beside it naming the key our refusal names.
//! When the oracle cannot start, the test says why and passes unless VIRT_REQUIRE_XEN is set.
#![cfg(feature = "xen-tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::ErrorCode;

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

fn configs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xl");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/xl")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    v.sort();
    v
}

#[test]
fn xl_conversions_match_libvirt() {
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
    let codec = virt_xml::LibvirtXml;
    let mut failures = Vec::new();
    let mut compared = 0;
    for cfg in configs() {
        let name = cfg
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&cfg).expect("read cfg");
        let has_uuid = text.lines().any(|l| l.trim_start().starts_with("uuid"));
        let refuse = std::fs::read_to_string(cfg.with_extension("refuse")).ok();
        let ours = virtxend::xl::from_native(&text);
        let def = match (ours, refuse) {
            (Err(e), Some(key)) => {
                let key = key.trim();
                if e.code != ErrorCode::ConfigUnsupported
                    || !e.message().contains(&format!("'{key}'"))
                {
                    failures.push(format!(
                        "{name}: refusal should name '{key}': {}",
                        e.message()
                    ));
                }
                continue;
            }
            (Ok(_), Some(key)) => {
                failures.push(format!(
                    "{name}: expected a refusal naming '{}'",
                    key.trim()
                ));
                continue;
            }
            (Err(e), None) => {
                failures.push(format!("{name}: we refuse: {}", e.message()));
                continue;
            }
            (Ok(def), None) => def,
        };
        let ours = codec.format_domain(&def, FormatOptions::default());
        let theirs = match virsh(
            &oracle.uri,
            &["domxml-from-native", "xen-xl", &cfg.to_string_lossy()],
        ) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: libvirt refuses what we accept: {e}"));
                continue;
            }
        };
        let (o, t) = if has_uuid {
            (ours.clone(), theirs.clone())
        } else {
            (without_uuid(&ours), without_uuid(&theirs))
        };
        if o.trim_end() != t.trim_end() {
            failures.push(format!("{name}: from-native differs:\n{}", diff(&o, &t)));
        }
        compared += 1;
        // libvirt's XML back to xl.cfg, through both.
        let xml_path =
            std::env::temp_dir().join(format!("xl-oracle-{}-{name}.xml", std::process::id()));
        std::fs::write(&xml_path, &theirs).expect("write xml");
        let theirs_native = virsh(
            &oracle.uri,
            &["domxml-to-native", "xen-xl", &xml_path.to_string_lossy()],
        );
        let _ = std::fs::remove_file(&xml_path);
        let ours_native = codec
            .parse_domain(&theirs)
            .and_then(|d| virtxend::xl::to_native(&d));
        match (ours_native, theirs_native) {
            (Ok(o), Ok(t)) => {
                if o.trim_end() != t.trim_end() {
                    failures.push(format!("{name}: to-native differs:\n{}", diff(&o, &t)));
                }
                // libvirt's own xl.cfg back through both from-native.
                let cfg_path = std::env::temp_dir()
                    .join(format!("xl-oracle-{}-{name}.rt.cfg", std::process::id()));
                std::fs::write(&cfg_path, &t).expect("write cfg");
                let theirs_again = virsh(
                    &oracle.uri,
                    &["domxml-from-native", "xen-xl", &cfg_path.to_string_lossy()],
                );
                let _ = std::fs::remove_file(&cfg_path);
                let ours_again = virtxend::xl::from_native(&t)
                    .map(|d| codec.format_domain(&d, FormatOptions::default()));
                match (ours_again, theirs_again) {
                    (Ok(o), Ok(t)) if o.trim_end() != t.trim_end() => failures.push(format!(
                        "{name}: from-native of libvirt's xl.cfg differs:\n{}",
                        diff(&o, &t)
                    )),
                    (Ok(_), Ok(_)) => {}
                    (Err(e), _) => failures.push(format!(
                        "{name}: we refuse libvirt's own xl.cfg: {}",
                        e.message()
                    )),
                    (Ok(_), Err(e)) => {
                        failures.push(format!("{name}: libvirt refuses its own xl.cfg: {e}"))
                    }
                }
            }
            (Err(e), Ok(_)) => {
                failures.push(format!("{name}: to-native: we refuse: {}", e.message()))
            }
            (Ok(_), Err(e)) => failures.push(format!("{name}: to-native: libvirt refuses: {e}")),
            (Err(_), Err(_)) => {}
        }
    }
    // Domain XML inputs (secrets included, which from-native cannot show): to-native of both.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xl");
    let mut xmls: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/xl")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    xmls.sort();
    for xml in xmls {
        let name = xml
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&xml).expect("read xml");
        let theirs = virsh(
            &oracle.uri,
            &["domxml-to-native", "xen-xl", &xml.to_string_lossy()],
        );
        let ours = codec
            .parse_domain(&text)
            .and_then(|d| virtxend::xl::to_native(&d));
        match (ours, theirs) {
            (Ok(o), Ok(t)) if o.trim_end() != t.trim_end() => {
                failures.push(format!("{name}: to-native differs:\n{}", diff(&o, &t)))
            }
            (Ok(_), Ok(_)) => {}
            (Err(e), _) => failures.push(format!("{name}: to-native: we refuse: {}", e.message())),
            (Ok(_), Err(e)) => failures.push(format!("{name}: to-native: libvirt refuses: {e}")),
        }
        compared += 1;
    }
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!(
        "xl oracle: {compared} inputs compared, {} differences",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences from libvirt (printed above)",
        failures.len()
    );
}
