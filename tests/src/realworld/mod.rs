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

/// A directory of generated files shared by every test process of one test run: nextest runs
/// each test in its own process (they share `NEXTEST_RUN_ID`), `cargo test` runs them as
/// threads of one (its pid names the run). The first to come generates `BASE/NAME-RUN` with
/// `generate` under an exclusive lock on `BASE/NAME.lock` and marks it complete; the others
/// wait for the lock and reuse it. Directories of runs older than an hour are removed.
pub fn run_dir(
    base: &Path,
    name: &str,
    generate: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    use nix::fcntl::{Flock, FlockArg};
    let run =
        std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("pid{}", std::process::id()));
    std::fs::create_dir_all(base).map_err(|e| format!("{}: {e}", base.display()))?;
    let lock_path = base.join(format!("{name}.lock"));
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("cannot lock {}: {e}", lock_path.display()))?;
    let dir = base.join(format!("{name}-{run}"));
    let done = dir.join(".complete");
    if done.exists() {
        return Ok(dir);
    }
    let prefix = format!("{name}-");
    let hour = std::time::Duration::from_secs(3600);
    for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > hour);
        if old && e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    generate(&dir)?;
    std::fs::write(&done, b"").map_err(|e| format!("{}: {e}", done.display()))?;
    Ok(dir)
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
