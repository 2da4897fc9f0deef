//! Real-world domain XML and the real libvirt to hold it against (issue 10): definitions as
//! virt-install writes them ([`virtinstall`]), the shared corpus (../shared/corpus/domain-xml),
//! and any directory named by `VIRT_EXTRA_CORPUS` (a one-off measurement, e.g. virt-manager's
//! tests/data/cli/compare); what libvirt's QEMU driver says about each ([`libvirt`]); how a
//! defined file is made startable with temporary disks ([`startable`]); and how two
//! domxml-to-native command lines are compared ([`argv`]).

pub mod argv;
pub mod libvirt;
pub mod startable;
pub mod virtinstall;

use std::path::{Path, PathBuf};
use std::process::Command;

/// One definition of the corpus.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// Where it came from and its file name (`virt-install/linux2022-q35-virtio`,
    /// `shared/add-devices-in.xml`).
    pub label: String,
    /// The file.
    pub path: PathBuf,
    /// Its content.
    pub xml: String,
}

/// The shared corpus directory, from the repository root's parent.
pub const SHARED_CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpus/domain-xml"
);

/// Every `*.xml` of `dir`, sorted by name, labelled `PREFIX/NAME`.
pub fn xml_files(dir: &Path, prefix: &str) -> Result<Vec<CorpusFile>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let xml =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(CorpusFile {
                label: format!("{prefix}/{name}"),
                path,
                xml,
            })
        })
        .collect()
}

/// The extra corpus named by `VIRT_EXTRA_CORPUS`, if set (a directory of `*.xml`).
pub fn extra_corpus() -> Result<Vec<CorpusFile>, String> {
    match std::env::var_os("VIRT_EXTRA_CORPUS") {
        Some(dir) => xml_files(Path::new(&dir), "extra"),
        None => Ok(Vec::new()),
    }
}

/// The `type` of the root `<domain>` element (`kvm`, `qemu`), if it has one.
pub fn domain_type(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(s) | quick_xml::events::Event::Empty(s) => {
                let t = s.try_get_attribute("type").ok()??;
                return Some(t.unescape_value().ok()?.into_owned());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// `qemu-img create -f FORMAT PATH 64M`.
pub fn qemu_img_create(path: &Path, format: &str) -> Result<(), String> {
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", format])
        .arg(path)
        .arg("64M")
        .output()
        .map_err(|e| format!("cannot run qemu-img: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "qemu-img create {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
