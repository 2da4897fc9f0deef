//! What an installed `qemu-system-*` binary can do, learnt by asking it over QMP, and the cache
//! that keeps the answer until the binary changes.
//!
//! # Probing
//!
//! As libvirt does, the binary runs with no guest at all (`-machine none`, `-S`,
//! `-nodefaults -no-user-config`) and a QMP socket in a private temporary directory. The first
//! run asks for `accel=kvm:tcg`, so `query-kvm` says whether KVM is there and enabled; when it
//! is, a second run with `accel=tcg` learns what TCG offers (which CPU models it can run, the
//! expansion of `max`), since guests of type `qemu` use TCG. Each run pipelines its questions
//! over one connection (version, target arch, KVM, machines, CPU definitions, QOM types,
//! whether VNC is built in), then asks for the static expansion of the host-model CPU (`host`
//! under KVM, `max` under TCG), quits QEMU and reaps it (killing it if `quit` is not obeyed).
//!
//! # Cache
//!
//! `CACHE/<binary file name>.json` (the driver passes `STATE/qemu/capabilities`), written
//! atomically, holds the answer with the key it was probed under: the binary's path, size,
//! mtime and ctime, whether `/dev/kvm` could be opened, and the cache format. A mismatch on
//! any of them, or a file that does not parse, means a new probe. libvirt keys its cache on
//! SHA-256 of the path and stores XML; a readable name and JSON serve the same purpose here,
//! and the full path inside the file keeps two binaries of the same name apart (the second
//! one's probe replaces the first's entry rather than being confused with it).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::VirtError;

use crate::qmp::{Qmp, QmpError};

/// Bumped whenever [`QemuCaps`] changes shape, so old cache files are re-probed.
const CACHE_FORMAT: u32 = 1;

/// How long one probe run may take from spawn to the last answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// A machine type as `query-machines` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Versioned name (`pc-i440fx-7.2`).
    pub name: String,
    /// Short alias (`pc`), if any.
    pub alias: Option<String>,
    /// The binary's default machine.
    pub is_default: bool,
    /// Maximum vCPUs.
    pub cpu_max: u32,
    /// Deprecated by QEMU.
    pub deprecated: bool,
    /// vCPUs can be hot-plugged.
    pub hotpluggable_cpus: bool,
    /// QOM type of the default CPU, if given.
    pub default_cpu_type: Option<String>,
}

/// A CPU model as `query-cpu-definitions` describes it for one accelerator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuModel {
    /// Model name (`Skylake-Client`).
    pub name: String,
    /// Features the accelerator cannot provide; empty means usable.
    pub unavailable_features: Vec<String>,
    /// Deprecated by QEMU.
    pub deprecated: bool,
    /// The model this name is an alias of, if any.
    pub alias_of: Option<String>,
}

impl CpuModel {
    /// Whether a guest can run this model on the accelerator it was probed for.
    pub fn usable(&self) -> bool {
        self.unavailable_features.is_empty()
    }
}

/// A static CPU model expansion (`query-cpu-model-expansion type=static`): a base model name
/// and the features switched on or off on top of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuExpansion {
    /// The model asked for (`host` or `max`).
    pub model: String,
    /// The base QEMU expanded onto (`base` for x86).
    pub base: String,
    /// Features and whether they are on, sorted by name.
    pub features: Vec<(String, bool)>,
}

/// What one accelerator offers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccelCaps {
    /// CPU models with their usability under this accelerator.
    pub cpu_models: Vec<CpuModel>,
    /// The host-model CPU (`host` for KVM, `max` for TCG), when QEMU could expand it.
    pub host_model: Option<CpuExpansion>,
}

/// What a `qemu-system-*` binary can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuCaps {
    /// The binary.
    pub binary: PathBuf,
    /// (major, minor, micro).
    pub version: (u32, u32, u32),
    /// Distribution package string from `query-version`.
    pub package: String,
    /// Target architecture (`x86_64`).
    pub arch: String,
    /// Machine types, in QEMU's order.
    pub machines: Vec<Machine>,
    /// Instantiable device types.
    pub devices: BTreeSet<String>,
    /// Every instantiable QOM type (devices, backends, objects).
    pub types: BTreeSet<String>,
    /// VNC is built in (`query-vnc` exists).
    pub vnc: bool,
    /// KVM data, when KVM is present and enabled for this binary.
    pub kvm: Option<AccelCaps>,
    /// TCG data, when TCG runs.
    pub tcg: Option<AccelCaps>,
}

impl QemuCaps {
    /// The version as libvirt numbers it: major * 1,000,000 + minor * 1,000 + micro.
    pub fn version_number(&self) -> u64 {
        let (a, b, c) = self.version;
        u64::from(a) * 1_000_000 + u64::from(b) * 1_000 + u64::from(c)
    }

    /// The target architecture as libvirt names it: QEMU's `i386` is `i686` and its `arm` is
    /// `armv7l` (libvirt's virQEMUCapsArchFromString); other names are the same in both.
    pub fn arch(&self) -> &str {
        match self.arch.as_str() {
            "i386" => "i686",
            "arm" => "armv7l",
            other => other,
        }
    }

    /// Machine types.
    pub fn machines(&self) -> &[Machine] {
        &self.machines
    }

    /// The default machine type (versioned name).
    pub fn default_machine(&self) -> Option<&str> {
        self.machines
            .iter()
            .find(|m| m.is_default)
            .map(|m| m.name.as_str())
    }

    /// The machine called `name`, by its versioned name or its alias.
    pub fn machine(&self, name: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.name == name).or_else(|| {
            self.machines
                .iter()
                .find(|m| m.alias.as_deref() == Some(name))
        })
    }

    /// CPU models for domain type `virt_type` (`kvm` or `qemu`); empty when that accelerator
    /// is not usable.
    pub fn cpu_models(&self, virt_type: &str) -> &[CpuModel] {
        self.accel(virt_type).map_or(&[], |a| &a.cpu_models)
    }

    /// The host-model expansion for domain type `virt_type`.
    pub fn host_model(&self, virt_type: &str) -> Option<&CpuExpansion> {
        self.accel(virt_type)?.host_model.as_ref()
    }

    fn accel(&self, virt_type: &str) -> Option<&AccelCaps> {
        match virt_type {
            "kvm" => self.kvm.as_ref(),
            _ => self.tcg.as_ref(),
        }
    }

    /// Whether the device type `name` can be instantiated.
    pub fn has_device(&self, name: &str) -> bool {
        self.devices.contains(name)
    }

    /// Whether the QOM type `name` (device, backend or object) exists.
    pub fn has_type(&self, name: &str) -> bool {
        self.types.contains(name)
    }

    /// KVM is present and enabled for this binary (`query-kvm`), and /dev/kvm opened.
    pub fn kvm_usable(&self) -> bool {
        self.kvm.is_some()
    }

    /// TCG runs.
    pub fn tcg_usable(&self) -> bool {
        self.tcg.is_some()
    }
}

/// The identity of a binary a cache entry was probed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CacheKey {
    format: u32,
    path: PathBuf,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    kvm_dev: bool,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    key: CacheKey,
    caps: QemuCaps,
}

fn probe_error(binary: &Path, detail: impl std::fmt::Display) -> VirtError {
    VirtError::new(
        ErrorCode::OperationFailed,
        ErrorDomain::Qemu,
        format!("cannot probe QEMU binary '{}': {detail}", binary.display()),
    )
}

fn cache_key(binary: &Path) -> Result<CacheKey, VirtError> {
    let md = std::fs::metadata(binary).map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::Qemu,
            format!("cannot check QEMU binary '{}': {e}", binary.display()),
        )
    })?;
    if !md.is_file() {
        return Err(probe_error(binary, "not a regular file"));
    }
    Ok(CacheKey {
        format: CACHE_FORMAT,
        path: binary.to_path_buf(),
        size: md.size(),
        mtime: (md.mtime(), md.mtime_nsec()),
        ctime: (md.ctime(), md.ctime_nsec()),
        kvm_dev: crate::host::kvm_available(),
    })
}

/// The cache file of `binary` in `cache_dir`.
pub fn cache_path(binary: &Path, cache_dir: &Path) -> PathBuf {
    let name = binary
        .file_name()
        .map_or_else(|| "qemu".into(), |n| n.to_string_lossy().into_owned());
    cache_dir.join(format!("{name}.json"))
}

/// The capabilities of `binary`, from the cache in `cache_dir` when it still describes the
/// binary, else by probing it (and caching the answer).
pub async fn probe(binary: &Path, cache_dir: &Path) -> Result<QemuCaps, VirtError> {
    let key = cache_key(binary)?;
    let file = cache_path(binary, cache_dir);
    if let Ok(text) = std::fs::read(&file) {
        match serde_json::from_slice::<CacheFile>(&text) {
            Ok(c) if c.key == key => return Ok(c.caps),
            Ok(_) => {
                tracing::info!(binary = %binary.display(), "qemu binary changed; probing again")
            }
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "unreadable capabilities cache; probing again")
            }
        }
    }
    let caps = probe_uncached(binary).await?;
    let entry = CacheFile {
        key,
        caps: caps.clone(),
    };
    let written = serde_json::to_vec_pretty(&entry)
        .map_err(std::io::Error::other)
        .and_then(|data| {
            std::fs::create_dir_all(cache_dir)?;
            virt_core::fsutil::write_atomic(&file, &data, 0o644)
        });
    if let Err(e) = written {
        // The answer is good; only the next start pays for another probe.
        tracing::warn!(file = %file.display(), error = %e, "cannot write the capabilities cache");
    }
    Ok(caps)
}

/// Probes `binary` without looking at any cache.
pub async fn probe_uncached(binary: &Path) -> Result<QemuCaps, VirtError> {
    let first = run(binary, "kvm:tcg").await?;
    let kvm_enabled = first.kvm_enabled && crate::host::kvm_available();
    let (kvm, tcg) = if kvm_enabled {
        let tcg = match run(binary, "tcg").await {
            Ok(r) => Some(r.accel),
            Err(e) => {
                tracing::warn!(binary = %binary.display(), error = %e, "TCG probe failed");
                None
            }
        };
        (Some(first.accel.clone()), tcg)
    } else {
        (None, Some(first.accel.clone()))
    };
    Ok(QemuCaps {
        binary: binary.to_path_buf(),
        version: first.version,
        package: first.package,
        arch: first.arch,
        machines: first.machines,
        devices: first.devices,
        types: first.types,
        vnc: first.vnc,
        kvm,
        tcg,
    })
}

/// What one probe run learnt.
struct Run {
    version: (u32, u32, u32),
    package: String,
    arch: String,
    kvm_enabled: bool,
    machines: Vec<Machine>,
    devices: BTreeSet<String>,
    types: BTreeSet<String>,
    vnc: bool,
    accel: AccelCaps,
}

/// A private directory for the probe's socket, removed on drop.
struct ProbeDir(PathBuf);

impl ProbeDir {
    /// A fresh private directory. Names carry the pid, the time and a counter; one taken
    /// already (left by a daemon killed mid-probe whose pid this process now has) is passed
    /// over for the next.
    fn new() -> std::io::Result<ProbeDir> {
        use std::os::unix::fs::DirBuilderExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for _ in 0..64 {
            let dir = std::env::temp_dir().join(format!(
                "virtqemud-probe-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(ProbeDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
    }
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run(binary: &Path, accel: &str) -> Result<Run, VirtError> {
    let dir = ProbeDir::new().map_err(|e| probe_error(binary, e))?;
    let sock = dir.0.join("qmp.monitor");
    let log = dir.0.join("stderr");
    let stderr = std::fs::File::create(&log).map_err(|e| probe_error(binary, e))?;
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(["-S", "-no-user-config", "-nodefaults", "-nographic"])
        .arg("-machine")
        .arg(format!("none,accel={accel}"))
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true);
    // A probe QEMU must not outlive the daemon (kill_on_drop cannot run when the daemon is
    // killed mid-probe): the kernel kills it when its parent goes.
    // SAFETY: prctl with plain integer arguments is async-signal-safe; nothing else runs
    // between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if nix::libc::prctl(
                nix::libc::PR_SET_PDEATHSIG,
                nix::libc::SIGKILL as nix::libc::c_ulong,
                0,
                0,
                0,
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| probe_error(binary, e))?;
    let early_exit = |status: std::io::Result<std::process::ExitStatus>| {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
        probe_error(binary, format!("QEMU exited ({status}): {}", text.trim()))
    };
    let connected = tokio::select! {
        r = Qmp::connect(&sock, PROBE_TIMEOUT) => r,
        status = child.wait() => return Err(early_exit(status)),
    };
    let result = match connected {
        Ok((qmp, _events)) => {
            let r = tokio::time::timeout(PROBE_TIMEOUT, ask(&qmp)).await;
            let _ = qmp
                .execute_timeout("quit", None, Duration::from_secs(2))
                .await;
            match r {
                Ok(r) => r.map_err(|e| probe_error(binary, e.to_virt("probe").message())),
                Err(_) => Err(probe_error(binary, "QEMU did not answer in time")),
            }
        }
        Err(e) => Err(probe_error(binary, e.to_virt("qmp_capabilities").message())),
    };
    // Reap QEMU: it exits after quit; if not (or if the probe failed), it is killed.
    let grace = if result.is_ok() {
        Duration::from_secs(5)
    } else {
        Duration::ZERO
    };
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    result
}

/// The questions of one run: one pipelined batch, then the host-model expansion.
async fn ask(qmp: &Qmp) -> Result<Run, QmpError> {
    let (version, target, kvm, machines, cpus, devices, types, vnc) = tokio::join!(
        qmp.execute("query-version", None),
        qmp.execute("query-target", None),
        qmp.execute("query-kvm", None),
        qmp.execute("query-machines", None),
        qmp.execute("query-cpu-definitions", None),
        qmp.execute(
            "qom-list-types",
            Some(json!({"implements": "device", "abstract": false}))
        ),
        qmp.execute("qom-list-types", Some(json!({"abstract": false}))),
        qmp.execute("query-vnc", None),
    );
    let version = version?;
    let kvm = kvm?;
    let kvm_enabled =
        kvm["enabled"].as_bool() == Some(true) && kvm["present"].as_bool() == Some(true);
    let cpu_models = match cpus {
        Ok(v) => parse_cpu_models(&v),
        // Some targets have no CPU model list.
        Err(QmpError::Command { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let model = if kvm_enabled { "host" } else { "max" };
    let expansion = qmp
        .execute(
            "query-cpu-model-expansion",
            Some(json!({"type": "static", "model": {"name": model}})),
        )
        .await;
    let host_model = match expansion {
        Ok(v) => parse_expansion(model, &v),
        Err(QmpError::Command { .. }) => None,
        Err(e) => return Err(e),
    };
    let q = &version["qemu"];
    let part = |k: &str| {
        q[k].as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok(Run {
        version: (part("major"), part("minor"), part("micro")),
        package: version["package"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_string(),
        arch: target?["arch"].as_str().unwrap_or_default().to_string(),
        kvm_enabled,
        machines: parse_machines(&machines?),
        devices: type_names(&devices?),
        types: type_names(&types?),
        vnc: match vnc {
            Ok(_) => true,
            Err(QmpError::Command { .. }) => false,
            Err(e) => return Err(e),
        },
        accel: AccelCaps {
            cpu_models,
            host_model,
        },
    })
}

fn parse_machines(v: &Value) -> Vec<Machine> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|m| {
            let name = m["name"].as_str()?.to_string();
            if name == "none" {
                return None;
            }
            Some(Machine {
                name,
                alias: m["alias"].as_str().map(str::to_string),
                is_default: m["is-default"].as_bool().unwrap_or(false),
                cpu_max: m["cpu-max"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1),
                deprecated: m["deprecated"].as_bool().unwrap_or(false),
                hotpluggable_cpus: m["hotpluggable-cpus"].as_bool().unwrap_or(false),
                default_cpu_type: m["default-cpu-type"].as_str().map(str::to_string),
            })
        })
        .collect()
}

fn parse_cpu_models(v: &Value) -> Vec<CpuModel> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            Some(CpuModel {
                name: c["name"].as_str()?.to_string(),
                unavailable_features: c["unavailable-features"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|f| f.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                deprecated: c["deprecated"].as_bool().unwrap_or(false),
                alias_of: c["alias-of"].as_str().map(str::to_string),
            })
        })
        .collect()
}

fn parse_expansion(model: &str, v: &Value) -> Option<CpuExpansion> {
    let m = v.get("model")?;
    let mut features: Vec<(String, bool)> = m
        .get("props")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_bool()?)))
                .collect()
        })
        .unwrap_or_default();
    features.sort();
    Some(CpuExpansion {
        model: model.to_string(),
        base: m.get("name")?.as_str()?.to_string(),
        features,
    })
}

fn type_names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The size, mtime and ctime of a binary, and whether /dev/kvm opened: what makes an
/// in-memory answer stale.
type Stamp = (u64, (i64, i64), (i64, i64), bool);

fn stamp(binary: &Path) -> Option<Stamp> {
    let md = std::fs::metadata(binary).ok()?;
    Some((
        md.size(),
        (md.mtime(), md.mtime_nsec()),
        (md.ctime(), md.ctime_nsec()),
        crate::host::kvm_available(),
    ))
}

/// The driver's probed emulators: answers kept in memory while each binary keeps its stamp,
/// backed by the on-disk cache of [`probe`]. One lock serialises probing, so concurrent first
/// callers wait for one QEMU run instead of each starting their own. Everything here is async
/// (QEMU runs under tokio's process support), so no runtime thread blocks on a probe.
pub struct ProbedEmulators {
    cache_dir: PathBuf,
    entries: tokio::sync::Mutex<std::collections::HashMap<PathBuf, (Stamp, Arc<QemuCaps>)>>,
}

impl ProbedEmulators {
    /// Probed answers cached on disk in `cache_dir` (`STATE/qemu/capabilities`).
    pub fn new(cache_dir: PathBuf) -> ProbedEmulators {
        ProbedEmulators {
            cache_dir,
            entries: Default::default(),
        }
    }

    /// The capabilities of `binary`: from memory while its stamp holds, else from the disk
    /// cache or a probe. Errors name the binary.
    pub async fn get(&self, binary: &Path) -> Result<Arc<QemuCaps>, VirtError> {
        let mut entries = self.entries.lock().await;
        self.get_locked(&mut entries, binary).await
    }

    async fn get_locked(
        &self,
        entries: &mut std::collections::HashMap<PathBuf, (Stamp, Arc<QemuCaps>)>,
        binary: &Path,
    ) -> Result<Arc<QemuCaps>, VirtError> {
        let now = stamp(binary);
        if let (Some(now), Some((then, caps))) = (now, entries.get(binary)) {
            if now == *then {
                return Ok(caps.clone());
            }
        }
        let caps = Arc::new(probe(binary, &self.cache_dir).await?);
        if let Some(now) = now {
            entries.insert(binary.to_path_buf(), (now, caps.clone()));
        }
        Ok(caps)
    }

    /// Records `caps` as the answer for `binary` (an existing file) as it is now, so tests can
    /// stand in for a QEMU that is not installed.
    #[cfg(test)]
    pub(crate) fn seed(&self, binary: &Path, caps: QemuCaps) {
        let now = stamp(binary).expect("a seeded emulator exists");
        self.entries
            .try_lock()
            .expect("seeded before use")
            .insert(binary.to_path_buf(), (now, Arc::new(caps)));
    }

    /// Every installed `qemu-system-*` (see [`crate::host::installed_emulators`]); one that
    /// fails to probe is logged and left out.
    pub async fn all(&self) -> Vec<Arc<QemuCaps>> {
        let mut entries = self.entries.lock().await;
        let mut all = Vec::new();
        for bin in crate::host::installed_emulators() {
            match self.get_locked(&mut entries, &bin).await {
                Ok(c) => all.push(c),
                Err(e) => {
                    tracing::warn!(binary = %bin.display(), error = %e.message(), "skipping emulator")
                }
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_keep_aliases_defaults_and_limits_and_drop_none() {
        let v = json!([
            {"name": "pc-i440fx-7.2", "alias": "pc", "is-default": true, "cpu-max": 255,
             "hotpluggable-cpus": true, "deprecated": false, "default-cpu-type": "qemu64-x86_64-cpu"},
            {"name": "pc-q35-7.2", "alias": "q35", "cpu-max": 288, "deprecated": false},
            {"name": "pc-i440fx-1.4", "cpu-max": 255, "deprecated": true},
            {"name": "none", "cpu-max": 1},
            {"cpu-max": 3}
        ]);
        let m = parse_machines(&v);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].alias.as_deref(), Some("pc"));
        assert!(m[0].is_default && !m[1].is_default);
        assert_eq!(m[1].cpu_max, 288);
        assert!(m[2].deprecated);
    }

    #[test]
    fn cpu_models_are_usable_only_without_unavailable_features() {
        let v = json!([
            {"name": "qemu64", "unavailable-features": [], "deprecated": false},
            {"name": "Skylake-Client", "unavailable-features": ["hle", "rtm"]},
            {"name": "Cascadelake-Server-v1", "alias-of": "Cascadelake-Server"},
        ]);
        let c = parse_cpu_models(&v);
        assert!(c[0].usable());
        assert!(!c[1].usable());
        assert_eq!(c[1].unavailable_features, ["hle", "rtm"]);
        assert_eq!(c[2].alias_of.as_deref(), Some("Cascadelake-Server"));
    }

    #[tokio::test]
    async fn a_missing_binary_is_a_system_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let err = probe(Path::new("/nonexistent/qemu-system-x86_64"), dir.path())
            .await
            .expect_err("missing");
        assert_eq!(err.code, ErrorCode::SystemError);
        assert!(
            err.message().contains("/nonexistent/qemu-system-x86_64"),
            "{}",
            err.message()
        );
    }

    #[tokio::test]
    async fn a_binary_that_is_not_qemu_fails_with_its_output() {
        let dir = tempfile::tempdir().expect("dir");
        let fake = dir.path().join("qemu-system-fake");
        std::fs::write(&fake, "#!/bin/sh\necho 'this is not qemu' >&2\nexit 3\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = probe(&fake, dir.path()).await.expect_err("not qemu");
        assert_eq!(err.code, ErrorCode::OperationFailed);
        assert!(
            err.message().contains("this is not qemu"),
            "{}",
            err.message()
        );
        assert!(!cache_path(&fake, dir.path()).exists());
    }

    fn real_binary() -> PathBuf {
        crate::host::find_emulator("x86_64").expect("qemu-system-x86_64 on PATH")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn real_probe_finds_machines_cpus_devices_and_caches_them() {
        let dir = tempfile::tempdir().expect("dir");
        let bin = real_binary();
        let start = std::time::Instant::now();
        let caps = probe(&bin, dir.path()).await.expect("probe");
        let cold = start.elapsed();
        assert_eq!(caps.arch(), "x86_64");
        assert!(caps.version_number() >= 7_000_000, "{:?}", caps.version);
        assert_eq!(
            caps.version_number(),
            crate::host::emulator_version(&bin),
            "the version QMP gives is the one --version prints"
        );
        let default = caps.default_machine().expect("default machine");
        assert!(default.starts_with("pc-i440fx-"), "{default}");
        let q35 = caps.machine("q35").expect("q35 alias");
        assert!(
            q35.name.starts_with("pc-q35-") && q35.cpu_max >= 255,
            "{q35:?}"
        );
        assert!(caps.machine("no-such-machine").is_none());
        assert!(caps.tcg_usable());
        let tcg = caps.cpu_models("qemu");
        assert!(
            tcg.iter().any(|m| m.name == "qemu64" && m.usable()),
            "{tcg:?}"
        );
        let max = caps.host_model("qemu").expect("max expands under TCG");
        assert_eq!(max.model, "max");
        assert!(
            max.features.iter().any(|(f, on)| f == "sse2" && *on),
            "{max:?}"
        );
        assert!(caps.has_device("virtio-blk-pci"));
        assert!(caps.has_device("virtio-balloon-pci"));
        assert!(!caps.has_device("no-such-device"));
        assert!(!caps.has_device("rng-random"), "backends are not devices");
        assert!(caps.has_type("rng-random") && caps.has_type("rng-builtin"));
        assert!(caps.vnc);
        assert_eq!(
            caps.kvm_usable(),
            crate::host::kvm_available() && caps.kvm.is_some()
        );
        if caps.kvm_usable() {
            assert!(caps.host_model("kvm").is_some_and(|h| h.model == "host"));
        }
        // Cached: the second call does not run QEMU and gives the same answer.
        let file = cache_path(&bin, dir.path());
        assert!(file.is_file());
        let start = std::time::Instant::now();
        let again = probe(&bin, dir.path()).await.expect("cached");
        let warm = start.elapsed();
        assert_eq!(again, caps);
        assert!(warm < cold, "cache read {warm:?} vs probe {cold:?}");
        eprintln!("probe: {cold:?} cold, {warm:?} from the cache");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn a_changed_binary_or_a_damaged_cache_is_probed_again() {
        let dir = tempfile::tempdir().expect("dir");
        // A copy of the real binary whose mtime we can change.
        let bin = dir.path().join("qemu-system-x86_64");
        std::fs::copy(real_binary(), &bin).expect("copy");
        let cache = dir.path().join("cache");
        let caps = probe(&bin, &cache).await.expect("probe");
        let file = cache_path(&bin, &cache);
        // Plant a marker in the cache: it survives while the binary is unchanged...
        let mut entry: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        entry["caps"]["package"] = json!("marker");
        std::fs::write(&file, serde_json::to_vec(&entry).expect("ser")).expect("write");
        assert_eq!(probe(&bin, &cache).await.expect("cached").package, "marker");
        // ...and goes once the binary changes (touch: new mtime and ctime).
        let later = std::time::SystemTime::now() + Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&bin)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        let fresh = probe(&bin, &cache).await.expect("reprobe");
        assert_eq!(fresh.package, caps.package);
        // A damaged cache file is probed over, not an error.
        std::fs::write(&file, b"{ not json").expect("damage");
        let fresh = probe(&bin, &cache).await.expect("reprobe damaged");
        assert_eq!(fresh.machines, caps.machines);
        let text = std::fs::read_to_string(&file).expect("rewritten");
        assert!(text.contains("\"machines\""), "{text}");
    }
}
