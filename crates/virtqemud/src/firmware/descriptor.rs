//! QEMU's firmware descriptors (QEMU's `docs/interop/firmware.json`): one JSON file per
//! firmware build, saying which interface it offers (`uefi`, `bios`), how it is mapped
//! (`flash` with an executable and a variable-store template, `memory` for a ROM, `kernel`),
//! which architectures and machine types (glob patterns like `pc-q35-*`) it runs on, and its
//! features (`secure-boot`, `enrolled-keys`, `requires-smm`, `acpi-s3`, ...).
//!
//! [`load`] reads them the way QEMU specifies and libvirt does: every regular file of each
//! search dir, a file of the same name in a later dir replacing an earlier one (so
//! `/etc/qemu/firmware/50-x.json` overrides `/usr/share/qemu/firmware/50-x.json`), an empty
//! file hiding its namesake altogether, and the result ordered by file name, which is the
//! priority order (`40-...` is tried before `60-...`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::VirtError;

/// Descriptor files larger than this are refused (libvirt's limit).
const MAX_SIZE: u64 = 1 << 20;

/// One firmware descriptor, as read from its file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Descriptor {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `uefi`, `bios`, `openfirmware`, `uboot`.
    pub interface_types: Vec<String>,
    /// How the firmware is loaded.
    pub mapping: Mapping,
    /// Architectures and machine-type patterns it runs on.
    pub targets: Vec<Target>,
    /// Feature names; unknown ones are kept and ignored.
    #[serde(default)]
    pub features: Vec<String>,
}

/// `mapping`: the device the firmware is loaded into.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "device", rename_all = "kebab-case")]
pub enum Mapping {
    /// Parallel flash: the executable, and for `split` mode the variable-store template.
    Flash {
        /// `split` (default), `combined` or `stateless`.
        #[serde(default = "split")]
        mode: String,
        /// The firmware image.
        executable: FlashFile,
        /// The template each guest's variable store is copied from (`split` mode).
        #[serde(rename = "nvram-template")]
        nvram_template: Option<FlashFile>,
    },
    /// A ROM image mapped into memory (`-bios`).
    Memory {
        /// The image.
        filename: String,
    },
    /// A kernel image (`-kernel`); not used by this driver.
    Kernel {
        /// The image.
        filename: String,
    },
}

fn split() -> String {
    "split".into()
}

/// A flash image and its format.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FlashFile {
    /// Absolute path.
    pub filename: String,
    /// `raw` or `qcow2`.
    pub format: String,
}

/// One `targets` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Target {
    /// QEMU's architecture name (`x86_64`, `i386`, `aarch64`).
    pub architecture: String,
    /// Machine-type glob patterns.
    #[serde(default)]
    pub machines: Vec<String>,
}

impl Descriptor {
    /// Parses a descriptor's text; the error says what is wrong (the caller names the file).
    pub fn parse(text: &str) -> Result<Descriptor, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Whether it has feature `name`.
    pub fn has(&self, name: &str) -> bool {
        self.features.iter().any(|f| f == name)
    }

    /// Whether it offers interface `name` (`uefi`, `bios`).
    pub fn offers(&self, interface: &str) -> bool {
        self.interface_types.iter().any(|i| i == interface)
    }

    /// Whether it runs guests of `arch` (libvirt's name) on machine type `machine`.
    pub fn runs(&self, arch: &str, machine: &str) -> bool {
        self.targets.iter().any(|t| {
            same_arch(&t.architecture, arch) && t.machines.iter().any(|m| glob(m, machine))
        })
    }

    /// The image QEMU runs: the flash executable or the ROM file.
    pub fn image(&self) -> Option<&str> {
        match &self.mapping {
            Mapping::Flash { executable, .. } => Some(&executable.filename),
            Mapping::Memory { filename } => Some(filename),
            Mapping::Kernel { .. } => None,
        }
    }
}

/// QEMU names 32-bit x86 `i386` where libvirt says `i686`.
fn same_arch(qemu: &str, libvirt: &str) -> bool {
    qemu == libvirt || (qemu == "i386" && libvirt == "i686")
}

/// Glob matching with `*` (any run) and `?` (any one character), as descriptors use it.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The descriptor search dirs, lowest priority first: `/usr/share/qemu/firmware`,
/// `/etc/qemu/firmware`, and for a session daemon `$XDG_CONFIG_HOME/qemu/firmware`
/// (`~/.config/qemu/firmware`). A system daemon does not read root's home, as libvirt.
pub fn search_dirs(session: bool) -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/share/qemu/firmware"),
        PathBuf::from("/etc/qemu/firmware"),
    ];
    if session {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(c) = config {
            dirs.push(c.join("qemu/firmware"));
        }
    }
    dirs
}

/// The descriptor files of `dirs` (lowest priority first) in priority order: one per file
/// name, from the last dir that has it, empty files hiding their name, sorted by name.
pub fn files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // stat, not lstat: a symlink to a regular file counts.
            if std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()) {
                by_name.insert(name, e.path());
            }
        }
    }
    by_name
        .into_values()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect()
}

/// Reads every descriptor of `dirs` in priority order (see the module docs). A file that
/// cannot be read or parsed is an INTERNAL_ERROR naming it, as in libvirt: choosing among the
/// others could silently pick a different firmware than the host's administrator meant.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Descriptor)>, VirtError> {
    files(dirs)
        .into_iter()
        .map(|path| read(&path).map(|d| (path, d)))
        .collect()
}

fn read(path: &Path) -> Result<Descriptor, VirtError> {
    let err = |why: String| {
        VirtError::new(
            ErrorCode::InternalError,
            ErrorDomain::Qemu,
            format!(
                "unable to parse firmware descriptor '{}': {why}",
                path.display()
            ),
        )
    };
    let size = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if size > MAX_SIZE {
        return Err(err(format!("larger than {MAX_SIZE} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    Descriptor::parse(&text).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian's ovmf 2022.11 `40-edk2-x86_64-secure-enrolled.json`, verbatim.
    pub(crate) const SECURE_ENROLLED: &str = r#"{
    "description": "UEFI firmware for x86_64, with Secure Boot and SMM, SB enabled, MS certs enrolled",
    "interface-types": [
        "uefi"
    ],
    "mapping": {
        "device": "flash",
        "executable": {
            "filename": "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
            "format": "raw"
        },
        "nvram-template": {
            "filename": "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
            "format": "raw"
        }
    },
    "targets": [
        {
            "architecture": "x86_64",
            "machines": [
                "pc-q35-*"
            ]
        }
    ],
    "features": [
        "acpi-s3",
        "amd-sev",
        "enrolled-keys",
        "requires-smm",
        "secure-boot",
        "verbose-dynamic"
    ],
    "tags": [

    ]
}
"#;

    #[test]
    fn debians_secure_enrolled_descriptor_parses() {
        let d = Descriptor::parse(SECURE_ENROLLED).expect("parses");
        assert!(d.offers("uefi") && !d.offers("bios"));
        assert_eq!(d.image(), Some("/usr/share/OVMF/OVMF_CODE_4M.ms.fd"));
        match &d.mapping {
            Mapping::Flash {
                mode,
                nvram_template,
                ..
            } => {
                assert_eq!(mode, "split");
                assert_eq!(
                    nvram_template.as_ref().map(|t| t.filename.as_str()),
                    Some("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(d.has("secure-boot") && d.has("enrolled-keys") && d.has("requires-smm"));
        assert!(d.runs("x86_64", "pc-q35-7.2"));
        assert!(!d.runs("x86_64", "pc-i440fx-7.2"));
        assert!(!d.runs("aarch64", "pc-q35-7.2"));
    }

    #[test]
    fn the_installed_descriptors_parse_when_present() {
        let dirs = search_dirs(false);
        let loaded = load(&dirs).expect("the host's descriptors parse");
        for (path, d) in &loaded {
            assert!(d.image().is_some(), "{}", path.display());
        }
    }

    #[test]
    fn memory_and_kernel_mappings_and_unknown_fields_parse() {
        let d = Descriptor::parse(
            r#"{"interface-types":["bios"],"mapping":{"device":"memory","filename":"/b.bin"},
               "targets":[{"architecture":"i386","machines":["pc-i440fx-*","pc-q35-*"]}],
               "features":["acpi-s3","shiny-new"],"tags":["x"],"future":1}"#,
        )
        .expect("memory");
        assert_eq!(d.image(), Some("/b.bin"));
        assert!(d.runs("i686", "pc-q35-8.0"));
        assert!(d.has("shiny-new"));
        let k = Descriptor::parse(
            r#"{"interface-types":["uefi"],"mapping":{"device":"kernel","filename":"/k"},
               "targets":[],"features":[]}"#,
        )
        .expect("kernel");
        assert_eq!(k.image(), None);
        let e = Descriptor::parse(r#"{"interface-types":["uefi"],"mapping":{"device":"tape"}}"#)
            .expect_err("unknown device");
        assert!(e.contains("tape"), "{e}");
    }

    #[test]
    fn globs_match_like_glib() {
        assert!(glob("pc-q35-*", "pc-q35-7.2"));
        assert!(glob("pc-q35-*", "pc-q35-"));
        assert!(!glob("pc-q35-*", "pc-i440fx-7.2"));
        assert!(glob("*", ""));
        assert!(glob("pc-?35-7.*", "pc-q35-7.2"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(!glob("virt", "virt-7.2"));
        assert!(glob("virt", "virt"));
    }

    #[test]
    fn later_dirs_override_by_name_empty_files_mask_and_names_order() {
        let t = tempfile::tempdir().expect("tmp");
        let (usr, etc, home) = (
            t.path().join("usr"),
            t.path().join("etc"),
            t.path().join("h"),
        );
        for d in [&usr, &etc, &home] {
            std::fs::create_dir_all(d).expect("dir");
        }
        std::fs::write(usr.join("60-plain.json"), "usr").expect("w");
        std::fs::write(usr.join("50-secure.json"), "usr").expect("w");
        std::fs::write(usr.join("40-enrolled.json"), "usr").expect("w");
        std::fs::write(usr.join(".hidden.json"), "usr").expect("w");
        std::fs::write(etc.join("50-secure.json"), "etc").expect("w");
        std::fs::write(etc.join("40-enrolled.json"), "").expect("w");
        std::fs::write(home.join("10-mine.json"), "home").expect("w");
        std::fs::create_dir(home.join("20-a-dir.json")).expect("dir");
        let got: Vec<String> = files(&[usr.clone(), etc.clone(), home.clone()])
            .iter()
            .map(|p| {
                p.strip_prefix(t.path())
                    .expect("under")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            got,
            ["h/10-mine.json", "etc/50-secure.json", "usr/60-plain.json"]
        );
        // A missing dir is no error.
        assert_eq!(files(&[t.path().join("none")]), Vec::<PathBuf>::new());
    }

    #[test]
    fn a_broken_descriptor_is_an_error_naming_the_file() {
        let t = tempfile::tempdir().expect("tmp");
        std::fs::write(t.path().join("30-broken.json"), "{\"interface-types\":").expect("w");
        let e = load(&[t.path().to_path_buf()]).expect_err("broken");
        assert_eq!(e.code, ErrorCode::InternalError);
        assert!(e.message().contains("30-broken.json"), "{}", e.message());
    }
}
