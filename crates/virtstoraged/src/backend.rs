//! [`HostPools`]: the storage behind virtstoraged's pools. `dir` pools are directories, `fs`
//! pools a block device mounted on the target directory, `logical` pools an LVM volume group;
//! volumes are files (raw, qcow2) or logical volumes. Persistent definitions live in
//! CONFIG/storage/NAME.xml with autostart links in CONFIG/storage/autostart/, live status in
//! RUN/storage/NAME.xml (written atomically; its presence means "active").

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use virt_core::storage::flags::{build as bflags, resize as rflags, vol_create as vflags};
use virt_core::storage::manager::{PoolBackend, PoolScan, Wording};
use virt_core::storage::model::{
    BackingStore, Permissions, PoolDef, StorageXmlCodec, Timestamps, VolDef,
};
use virt_core::storage::ByteStream;
use virt_core::{ErrorCode, ErrorDomain, VirtError};

use crate::qcow2;

/// Bytes read from each file by a refresh.
const PROBE_BYTES: usize = 1024;
/// Chunk of streams, copies and wipes.
const CHUNK: usize = 1 << 20;

fn err(code: ErrorCode, msg: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Storage, msg)
}

fn sys(what: impl std::fmt::Display, e: std::io::Error) -> VirtError {
    err(ErrorCode::SystemError, format!("{what}: {e}"))
}

/// Runs a tool, mapping failure to INTERNAL_ERROR with its stderr.
pub fn run(prog: &str, args: &[&str]) -> Result<String, VirtError> {
    let out = std::process::Command::new(prog)
        .args(args)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| sys(format!("cannot run {prog}"), e))?;
    if !out.status.success() {
        return Err(err(
            ErrorCode::InternalError,
            format!(
                "Child process ({prog} {}) unexpected exit status {}: {}",
                args.join(" "),
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where persistent definitions and live status go.
#[derive(Debug, Clone)]
pub struct Store {
    /// CONFIG/storage.
    pub config: PathBuf,
    /// RUN/storage.
    pub run: PathBuf,
}

impl Store {
    fn config_file(&self, name: &str) -> PathBuf {
        self.config.join(format!("{name}.xml"))
    }
    fn autostart_link(&self, name: &str) -> PathBuf {
        self.config.join("autostart").join(format!("{name}.xml"))
    }
    fn status_file(&self, name: &str) -> PathBuf {
        self.run.join(format!("{name}.xml"))
    }
}

/// The host's storage.
pub struct HostPools {
    store: Store,
    codec: Arc<dyn StorageXmlCodec>,
}

impl HostPools {
    /// Storage recording under `store`.
    pub fn new(store: Store, codec: Arc<dyn StorageXmlCodec>) -> HostPools {
        HostPools { store, codec }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

fn perms_of(md: &fs::Metadata) -> Permissions {
    Permissions {
        mode: Some(md.mode() & 0o7777),
        owner: Some(i64::from(md.uid())),
        group: Some(i64::from(md.gid())),
        label: None,
    }
}

fn chown(path: &Path, p: &Permissions) -> Result<(), VirtError> {
    if p.owner.is_some() || p.group.is_some() {
        nix::unistd::chown(
            path,
            p.owner.map(|u| nix::unistd::Uid::from_raw(u as u32)),
            p.group.map(|g| nix::unistd::Gid::from_raw(g as u32)),
        )
        .map_err(|e| sys(format!("cannot chown '{}'", path.display()), e.into()))?;
    }
    Ok(())
}

/// A file volume's facts from its metadata and first bytes.
fn file_volume(name: &str, path: &Path, md: &fs::Metadata, head: &[u8]) -> VolDef {
    let probe = qcow2::probe(head);
    let capacity = probe.virtual_size.unwrap_or(md.len());
    VolDef {
        vol_type: "file".into(),
        name: name.to_string(),
        key: path.display().to_string(),
        capacity,
        allocation: Some(md.blocks() * 512),
        physical: Some(md.len()),
        target_path: path.display().to_string(),
        format: Some(probe.format.into()),
        target_perms: perms_of(md),
        backing: probe.backing.map(|(path, format)| {
            let md = fs::metadata(&path).ok();
            BackingStore {
                perms: md.as_ref().map(perms_of).unwrap_or_default(),
                timestamps: md.as_ref().map(timestamps_of),
                path,
                format,
            }
        }),
        timestamps: Some(timestamps_of(md)),
        cluster_size: probe.cluster_size,
    }
}

fn timestamps_of(md: &fs::Metadata) -> Timestamps {
    Timestamps {
        atime: (md.atime(), md.atime_nsec() as u32),
        mtime: (md.mtime(), md.mtime_nsec() as u32),
        ctime: (md.ctime(), md.ctime_nsec() as u32),
    }
}

fn probe_file(name: &str, path: &Path) -> Option<VolDef> {
    let mut f = File::open(path).ok()?;
    let md = f.metadata().ok()?;
    if !md.is_file() {
        return None;
    }
    let mut head = [0u8; PROBE_BYTES];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    Some(file_volume(name, path, &md, &head[..n]))
}

/// Every regular file of `dir` as a volume, probed on two threads.
fn scan_dir(dir: &Path) -> Result<Vec<VolDef>, VirtError> {
    let rd =
        fs::read_dir(dir).map_err(|e| sys(format!("cannot open path '{}'", dir.display()), e))?;
    let names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let half = names.len() / 2;
    let (a, b) = names.split_at(half);
    let scan = |part: &[String]| -> Vec<VolDef> {
        part.iter()
            .filter_map(|n| probe_file(n, &dir.join(n)))
            .collect()
    };
    let mut vols = std::thread::scope(|s| {
        let h = s.spawn(|| scan(a));
        let mut second = scan(b);
        let mut first = h.join().unwrap_or_default();
        first.append(&mut second);
        first
    });
    vols.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(vols)
}

fn statvfs_sizes(dir: &Path) -> Result<(u64, u64, u64), VirtError> {
    let s = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| sys(format!("cannot statvfs path '{}'", dir.display()), e.into()))?;
    let frsize = s.fragment_size() as u64;
    // libvirt's sizes: free blocks (reserved ones included) are available.
    let cap = s.blocks() as u64 * frsize;
    let free = s.blocks_free() as u64 * frsize;
    Ok((cap, cap - free, free))
}

fn mounted_on(target: &str) -> Option<String> {
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let dev = it.next()?;
        let mnt = it.next()?;
        (mnt == target).then(|| dev.to_string())
    })
}

fn vg(def: &PoolDef) -> &str {
    def.source.name.as_deref().unwrap_or(&def.name)
}

fn lvs(vg_name: &str) -> Result<Vec<VolDef>, VirtError> {
    let out = run(
        "lvs",
        &[
            "--noheadings",
            "--units",
            "b",
            "--nosuffix",
            "--separator",
            ":",
            "-o",
            "lv_name,lv_uuid,lv_size,lv_path",
            vg_name,
        ],
    )?;
    let mut vols = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() < 4 {
            continue;
        }
        let size: u64 = f[2].parse().unwrap_or(0);
        let path = if f[3].is_empty() {
            format!("/dev/{vg_name}/{}", f[0])
        } else {
            f[3].to_string()
        };
        vols.push(VolDef {
            vol_type: "block".into(),
            name: f[0].to_string(),
            key: f[1].to_string(),
            capacity: size,
            allocation: Some(size),
            physical: None,
            target_path: path,
            format: None,
            target_perms: Permissions::default(),
            backing: None,
            timestamps: None,
            cluster_size: None,
        });
    }
    vols.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(vols)
}

fn vgs(vg_name: &str) -> Result<(u64, u64), VirtError> {
    let out = run(
        "vgs",
        &[
            "--noheadings",
            "--units",
            "b",
            "--nosuffix",
            "--separator",
            ":",
            "-o",
            "vg_size,vg_free",
            vg_name,
        ],
    )?;
    let f: Vec<u64> = out
        .trim()
        .split(':')
        .map(|s| s.trim().parse().unwrap_or(0))
        .collect();
    Ok((
        f.first().copied().unwrap_or(0),
        f.get(1).copied().unwrap_or(0),
    ))
}

/// Removes a half-made volume file when creation fails.
struct Unlink<'a>(Option<&'a Path>);

impl Drop for Unlink<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

fn zero_range(f: &mut File, from: u64, len: u64) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(from))?;
    let buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

/// Copies `src` to `dst` (created), skipping all-zero chunks so holes stay holes.
fn sparse_copy(src: &Path, dst: &Path, mode: u32, size: u64) -> std::io::Result<()> {
    let mut input = File::open(src)?;
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(dst)?;
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            out.seek(SeekFrom::Start(pos))?;
            out.write_all(&buf[..n])?;
        }
        pos += n as u64;
    }
    out.set_len(size.max(pos))?;
    out.sync_all()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VirtError> + Send + 'static,
) -> Result<T, VirtError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| err(ErrorCode::InternalError, format!("task failed: {e}")))?
}

#[async_trait::async_trait]
impl PoolBackend for HostPools {
    fn wording(&self) -> Wording {
        Wording::Storage
    }

    fn check_def(&self, def: &mut PoolDef) -> Result<(), VirtError> {
        if def.pool_type == "logical" && def.source.name.is_none() {
            def.source.name = Some(def.name.clone());
        }
        Ok(())
    }

    async fn build(&self, def: &PoolDef, flags: u32) -> Result<(), VirtError> {
        if flags & bflags::OVERWRITE != 0 && flags & bflags::NO_OVERWRITE != 0 {
            return Err(err(
                ErrorCode::OperationInvalid,
                "Overwrite and no overwrite flags are mutually exclusive",
            ));
        }
        let def = def.clone();
        blocking(move || {
            if def.pool_type == "logical" {
                if def.source.devices.is_empty() {
                    return Err(err(
                        ErrorCode::XmlError,
                        "missing source device for a logical pool",
                    ));
                }
                for d in &def.source.devices {
                    if flags & bflags::NO_OVERWRITE != 0 && run("pvs", &[d]).is_ok() {
                        return Err(err(
                            ErrorCode::StoragePoolBuilt,
                            format!("Device '{d}' is already a physical volume"),
                        ));
                    }
                    let mut args = vec![];
                    if flags & bflags::OVERWRITE != 0 {
                        args.extend(["-ff", "-y"]);
                    }
                    args.push(d.as_str());
                    run("pvcreate", &args)?;
                }
                let mut args = vec![vg(&def)];
                args.extend(def.source.devices.iter().map(String::as_str));
                run("vgcreate", &args)?;
                return Ok(());
            }
            let target = Path::new(&def.target_path);
            fs::create_dir_all(target)
                .map_err(|e| sys(format!("cannot create path '{}'", def.target_path), e))?;
            let mode = def.target_perms.mode.unwrap_or(0o711);
            fs::set_permissions(target, fs::Permissions::from_mode(mode))
                .map_err(|e| sys(format!("cannot chmod '{}'", def.target_path), e))?;
            chown(target, &def.target_perms)?;
            if def.pool_type == "fs" {
                let dev = &def.source.devices[0];
                let fmt = def.source.format.as_deref().unwrap_or("auto");
                let existing = run("blkid", &["-p", "-o", "value", "-s", "TYPE", dev])
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
                let mkfs = if flags & bflags::OVERWRITE != 0 {
                    true
                } else if flags & bflags::NO_OVERWRITE != 0 {
                    if let Some(found) = existing {
                        return Err(err(
                            ErrorCode::StoragePoolBuilt,
                            format!("Device '{dev}' already formatted using '{found}'"),
                        ));
                    }
                    true
                } else {
                    false
                };
                if mkfs {
                    if fmt == "auto" {
                        return Err(err(
                            ErrorCode::OperationFailed,
                            "No source format specified to build the file system",
                        ));
                    }
                    let prog = format!("mkfs.{fmt}");
                    let mut args = vec![];
                    if fmt.starts_with("ext") {
                        args.extend(["-F", "-q"]);
                    }
                    args.push(dev.as_str());
                    run(&prog, &args)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn start(&self, def: &PoolDef) -> Result<(), VirtError> {
        let def = def.clone();
        blocking(move || match def.pool_type.as_str() {
            "logical" => {
                run("vgchange", &["-aly", vg(&def)])?;
                Ok(())
            }
            _ => {
                if !Path::new(&def.target_path).is_dir() {
                    return Err(err(
                        ErrorCode::SystemError,
                        format!(
                            "cannot open path '{}': No such file or directory",
                            def.target_path
                        ),
                    ));
                }
                if def.pool_type == "fs" && mounted_on(&def.target_path).is_none() {
                    let dev = &def.source.devices[0];
                    let mut args = vec![];
                    if let Some(f) = def.source.format.as_deref().filter(|f| *f != "auto") {
                        args.extend(["-t", f]);
                    }
                    args.extend([dev.as_str(), def.target_path.as_str()]);
                    run("mount", &args)?;
                }
                Ok(())
            }
        })
        .await
    }

    async fn is_running(&self, def: &PoolDef) -> bool {
        match def.pool_type.as_str() {
            "logical" => run("vgs", &[vg(def)]).is_ok(),
            "fs" => mounted_on(&def.target_path).is_some(),
            _ => Path::new(&def.target_path).is_dir(),
        }
    }

    async fn refresh(
        &self,
        def: &PoolDef,
        _known: &BTreeMap<String, VolDef>,
    ) -> Result<PoolScan, VirtError> {
        let def = def.clone();
        blocking(move || {
            if def.pool_type == "logical" {
                let (cap, free) = vgs(vg(&def))?;
                return Ok(PoolScan {
                    capacity: cap,
                    allocation: cap - free,
                    available: free,
                    volumes: lvs(vg(&def))?,
                    target_perms: None,
                });
            }
            let dir = Path::new(&def.target_path);
            let volumes = scan_dir(dir)?;
            let (capacity, allocation, available) = statvfs_sizes(dir)?;
            Ok(PoolScan {
                capacity,
                allocation,
                available,
                volumes,
                target_perms: fs::metadata(dir).ok().map(|m| perms_of(&m)),
            })
        })
        .await
    }

    async fn stop(&self, def: &PoolDef) -> Result<(), VirtError> {
        let def = def.clone();
        blocking(move || {
            match def.pool_type.as_str() {
                "logical" => {
                    run("vgchange", &["-aln", vg(&def)])?;
                }
                "fs" if mounted_on(&def.target_path).is_some() => {
                    run("umount", &[&def.target_path])?;
                }
                _ => {}
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, def: &PoolDef, _flags: u32) -> Result<(), VirtError> {
        let def = def.clone();
        blocking(move || {
            if def.pool_type == "logical" {
                run("vgremove", &["-f", vg(&def)])?;
                for d in &def.source.devices {
                    run("pvremove", &["-f", d])?;
                }
                return Ok(());
            }
            fs::remove_dir(&def.target_path)
                .map_err(|e| sys(format!("failed to remove pool '{}'", def.target_path), e))
        })
        .await
    }

    async fn create_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        flags: u32,
    ) -> Result<(), VirtError> {
        let pool = pool.clone();
        let mut v = vol.clone();
        *vol = blocking(move || {
            if pool.pool_type == "logical" {
                let size = format!("{}b", v.capacity);
                run(
                    "lvcreate",
                    &["--yes", "--name", &v.name, "-L", &size, vg(&pool)],
                )?;
                return lvs(vg(&pool))?
                    .into_iter()
                    .find(|l| l.name == v.name)
                    .ok_or_else(|| err(ErrorCode::InternalError, "created LV not found"));
            }
            let path = PathBuf::from(format!("{}/{}", pool.target_path, v.name));
            let mode = v.target_perms.mode.unwrap_or(0o600);
            let format = v.format.clone().unwrap_or_else(|| "raw".into());
            if v.cluster_size.is_some_and(|c| c != 65536 || format != "qcow2") {
                return Err(err(
                    ErrorCode::ConfigUnsupported,
                    "unsupported element /volume/target/clusterSize: only 65536 for qcow2",
                ));
            }
            let mut guard = Unlink(None);
            match format.as_str() {
                "raw" => {
                    let f = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(mode)
                        .open(&path)
                        .map_err(|e| sys(format!("cannot create path '{}'", path.display()), e))?;
                    guard.0 = Some(&path);
                    f.set_len(v.capacity)
                        .map_err(|e| sys(format!("cannot extend file '{}'", path.display()), e))?;
                    let alloc = v.allocation.unwrap_or(v.capacity).min(v.capacity);
                    if alloc > 0 {
                        nix::fcntl::fallocate(
                            &f,
                            nix::fcntl::FallocateFlags::empty(),
                            0,
                            alloc as i64,
                        )
                        .map_err(|e| {
                            sys(
                                format!("cannot allocate {alloc} bytes in file '{}'", path.display()),
                                e.into(),
                            )
                        })?;
                    }
                }
                "qcow2" if flags & vflags::PREALLOC_METADATA == 0 => {
                    let mut f = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(mode)
                        .open(&path)
                        .map_err(|e| sys(format!("cannot create path '{}'", path.display()), e))?;
                    guard.0 = Some(&path);
                    let backing = v.backing.as_ref().map(|b| (b.path.as_str(), b.format.as_deref()));
                    if let Some(b) = &v.backing {
                        if !Path::new(&b.path).exists() {
                            return Err(err(
                                ErrorCode::InternalError,
                                format!("backing storage not supported for raw volumes or missing: '{}'", b.path),
                            ));
                        }
                    }
                    qcow2::write_empty(&mut f, v.capacity, backing)
                        .map_err(|e| sys(format!("cannot write '{}'", path.display()), e))?;
                }
                other => {
                    let p = path.display().to_string();
                    let size = v.capacity.to_string();
                    let mut args = vec!["create", "-q", "-f", other];
                    let opts;
                    if flags & vflags::PREALLOC_METADATA != 0 {
                        args.extend(["-o", "preallocation=metadata"]);
                    }
                    if let Some(b) = &v.backing {
                        args.extend(["-b", b.path.as_str()]);
                        if let Some(f) = &b.format {
                            opts = f.clone();
                            args.extend(["-F", opts.as_str()]);
                        }
                    }
                    args.extend([p.as_str(), size.as_str()]);
                    if path.exists() {
                        return Err(err(ErrorCode::StorageVolExist, format!("'{}'", v.name)));
                    }
                    guard.0 = Some(&path);
                    run("qemu-img", &args)?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                        .map_err(|e| sys("cannot chmod", e))?;
                }
            }
            chown(&path, &v.target_perms)?;
            let mut made = probe_file(&v.name, &path)
                .ok_or_else(|| err(ErrorCode::InternalError, "created volume vanished"))?;
            if format != "qcow2" && format != "raw" {
                made.format = Some(format);
            }
            guard.0 = None;
            v = made;
            Ok(v)
        })
        .await?;
        Ok(())
    }

    async fn clone_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        _source_pool: &PoolDef,
        source: &VolDef,
        _flags: u32,
    ) -> Result<(), VirtError> {
        let pool = pool.clone();
        let v = vol.clone();
        let src = source.clone();
        *vol = blocking(move || {
            let dst = if pool.pool_type == "logical" {
                let size = format!("{}b", v.capacity);
                run(
                    "lvcreate",
                    &["--yes", "--name", &v.name, "-L", &size, vg(&pool)],
                )?;
                PathBuf::from(format!("/dev/{}/{}", vg(&pool), v.name))
            } else {
                PathBuf::from(format!("{}/{}", pool.target_path, v.name))
            };
            let src_fmt = src.format.clone().unwrap_or_else(|| "raw".into());
            let dst_fmt = v.format.clone().unwrap_or_else(|| src_fmt.clone());
            let mode = v.target_perms.mode.unwrap_or(0o600);
            let mut guard = Unlink((pool.pool_type != "logical").then_some(dst.as_path()));
            if src_fmt == "raw" && dst_fmt == "raw" && pool.pool_type != "logical" {
                if dst.exists() {
                    guard.0 = None;
                    return Err(err(ErrorCode::StorageVolExist, format!("'{}'", v.name)));
                }
                sparse_copy(Path::new(&src.target_path), &dst, mode, v.capacity)
                    .map_err(|e| sys(format!("cannot copy to '{}'", dst.display()), e))?;
            } else {
                let d = dst.display().to_string();
                let mut args = vec!["convert", "-f", src_fmt.as_str(), "-O", dst_fmt.as_str()];
                if pool.pool_type == "logical" {
                    args.push("-n");
                }
                args.extend([src.target_path.as_str(), d.as_str()]);
                run("qemu-img", &args)?;
                if v.capacity > src.capacity && pool.pool_type != "logical" {
                    let size = v.capacity.to_string();
                    run("qemu-img", &["resize", "-q", "-f", &dst_fmt, &d, &size])?;
                }
            }
            guard.0 = None;
            if pool.pool_type == "logical" {
                return lvs(vg(&pool))?
                    .into_iter()
                    .find(|l| l.name == v.name)
                    .ok_or_else(|| err(ErrorCode::InternalError, "cloned LV not found"));
            }
            probe_file(&v.name, &dst).ok_or_else(|| err(ErrorCode::InternalError, "clone vanished"))
        })
        .await?;
        Ok(())
    }

    async fn delete_volume(
        &self,
        pool: &PoolDef,
        vol: &VolDef,
        _flags: u32,
    ) -> Result<(), VirtError> {
        let logical = pool.pool_type == "logical";
        let vg_name = vg(pool).to_string();
        let v = vol.clone();
        blocking(move || {
            if logical {
                run("lvremove", &["-f", &format!("{vg_name}/{}", v.name)])?;
                return Ok(());
            }
            fs::remove_file(&v.target_path)
                .map_err(|e| sys(format!("cannot unlink file '{}'", v.target_path), e))
        })
        .await
    }

    async fn resize_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        capacity: u64,
        flags: u32,
    ) -> Result<(), VirtError> {
        let pool = pool.clone();
        let v = vol.clone();
        *vol = blocking(move || {
            if pool.pool_type == "logical" {
                let size = format!("{capacity}b");
                run(
                    "lvresize",
                    &["-f", "-L", &size, &format!("{}/{}", vg(&pool), v.name)],
                )?;
                return lvs(vg(&pool))?
                    .into_iter()
                    .find(|l| l.name == v.name)
                    .ok_or_else(|| err(ErrorCode::InternalError, "resized LV not found"));
            }
            match v.format.as_deref() {
                Some("raw") | None => {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&v.target_path)
                        .map_err(|e| sys(format!("cannot open '{}'", v.target_path), e))?;
                    f.set_len(capacity)
                        .map_err(|e| sys(format!("cannot resize '{}'", v.target_path), e))?;
                    if flags & rflags::ALLOCATE != 0 && capacity > 0 {
                        nix::fcntl::fallocate(
                            &f,
                            nix::fcntl::FallocateFlags::empty(),
                            0,
                            capacity as i64,
                        )
                        .map_err(|e| sys("cannot allocate", e.into()))?;
                    }
                }
                Some(fmt) => {
                    let size = capacity.to_string();
                    let mut args = vec!["resize", "-q", "-f", fmt];
                    if flags & rflags::SHRINK != 0 {
                        args.push("--shrink");
                    }
                    args.extend([v.target_path.as_str(), size.as_str()]);
                    run("qemu-img", &args)?;
                }
            }
            probe_file(&v.name, Path::new(&v.target_path))
                .ok_or_else(|| err(ErrorCode::InternalError, "resized volume vanished"))
        })
        .await?;
        Ok(())
    }

    async fn wipe_volume(
        &self,
        pool: &PoolDef,
        vol: &mut VolDef,
        algorithm: u32,
        _flags: u32,
    ) -> Result<(), VirtError> {
        if algorithm != 0 {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                format!("wiping algorithm {algorithm} is not supported: only zero (0)"),
            ));
        }
        let pool = pool.clone();
        let v = vol.clone();
        *vol = blocking(move || {
            if v.format.as_deref() == Some("qcow2") {
                // Zeroed content of a qcow2 image is an empty image of the same size.
                let backing = v
                    .backing
                    .as_ref()
                    .map(|b| (b.path.as_str(), b.format.as_deref()));
                let img = qcow2::empty_image(v.capacity, backing);
                let mut f = OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&v.target_path)
                    .map_err(|e| sys(format!("cannot open '{}'", v.target_path), e))?;
                f.write_all(&img).map_err(|e| sys("cannot wipe", e))?;
            } else {
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(&v.target_path)
                    .map_err(|e| sys(format!("cannot open '{}'", v.target_path), e))?;
                zero_range(&mut f, 0, v.capacity)
                    .map_err(|e| sys(format!("cannot wipe '{}'", v.target_path), e))?;
            }
            if pool.pool_type == "logical" {
                return Ok(v);
            }
            probe_file(&v.name, Path::new(&v.target_path))
                .ok_or_else(|| err(ErrorCode::InternalError, "wiped volume vanished"))
        })
        .await?;
        Ok(())
    }

    async fn upload(
        &self,
        vol: &VolDef,
        offset: u64,
        length: u64,
        mut data: ByteStream,
    ) -> Result<u64, VirtError> {
        let path = vol.target_path.clone();
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(|e| sys(format!("cannot open '{path}'"), e))?;
        use tokio::io::{AsyncSeekExt, AsyncWriteExt};
        f.seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| sys("cannot seek", e))?;
        let mut written = 0u64;
        while let Some(chunk) = data.recv().await {
            let chunk = chunk?;
            let take = if length > 0 {
                (length - written).min(chunk.len() as u64) as usize
            } else {
                chunk.len()
            };
            f.write_all(&chunk[..take])
                .await
                .map_err(|e| sys(format!("cannot write '{path}'"), e))?;
            written += take as u64;
            if length > 0 && written >= length {
                break;
            }
        }
        f.sync_all().await.map_err(|e| sys("cannot sync", e))?;
        Ok(written)
    }

    async fn download(
        &self,
        vol: &VolDef,
        offset: u64,
        length: u64,
    ) -> Result<(u64, ByteStream), VirtError> {
        let path = vol.target_path.clone();
        let mut f = File::open(&path).map_err(|e| sys(format!("cannot open '{path}'"), e))?;
        let size = if vol.vol_type == "block" {
            vol.capacity
        } else {
            f.metadata().map_err(|e| sys("cannot stat", e))?.len()
        };
        let avail = size.saturating_sub(offset);
        let total = if length > 0 { length.min(avail) } else { avail };
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| sys("cannot seek", e))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut left = total;
            while left > 0 {
                let mut buf = vec![0u8; (left as usize).min(CHUNK)];
                let item = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        left -= n as u64;
                        Ok(buf)
                    }
                    Err(e) => Err(sys(format!("cannot read '{path}'"), e)),
                };
                let stop = item.is_err();
                if tx.blocking_send(item).is_err() || stop {
                    break;
                }
            }
        });
        Ok((total, rx))
    }

    async fn probe_volume(&self, pool: &PoolDef, vol: &mut VolDef) -> Result<(), VirtError> {
        if pool.pool_type != "logical" {
            if let Some(v) = probe_file(&vol.name, Path::new(&vol.target_path)) {
                *vol = v;
            }
        }
        Ok(())
    }

    fn sizes_after_change(&self, def: &mut PoolDef, _vols: &BTreeMap<String, VolDef>) {
        let sizes = if def.pool_type == "logical" {
            vgs(vg(def)).ok().map(|(c, f)| (c, c - f, f))
        } else {
            statvfs_sizes(Path::new(&def.target_path)).ok()
        };
        if let Some((c, a, v)) = sizes {
            (def.capacity, def.allocation, def.available) = (c, a, v);
        }
    }

    fn save_config(&self, def: &PoolDef) -> Result<(), VirtError> {
        let mut stored = def.clone();
        (stored.capacity, stored.allocation, stored.available) = (0, 0, 0);
        let path = self.store.config_file(&def.name);
        virt_core::fsutil::write_atomic(&path, self.codec.format_pool(&stored).as_bytes(), 0o600)
            .map_err(|e| sys(format!("cannot write '{}'", path.display()), e))
    }

    fn remove_config(&self, name: &str) -> Result<(), VirtError> {
        let _ = fs::remove_file(self.store.autostart_link(name));
        match fs::remove_file(self.store.config_file(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(sys(format!("cannot remove config for pool '{name}'"), e))
            }
            _ => Ok(()),
        }
    }

    fn save_autostart(&self, name: &str, on: bool) -> Result<(), VirtError> {
        let link = self.store.autostart_link(name);
        if on {
            if let Some(dir) = link.parent() {
                fs::create_dir_all(dir).map_err(|e| sys("cannot create autostart dir", e))?;
            }
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(self.store.config_file(name), &link)
                .map_err(|e| sys(format!("Failed to create symlink '{}'", link.display()), e))
        } else {
            match fs::remove_file(&link) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(sys(
                    format!("Failed to delete symlink '{}'", link.display()),
                    e,
                )),
                _ => Ok(()),
            }
        }
    }

    fn save_status(&self, name: &str, live: Option<&PoolDef>) -> Result<(), VirtError> {
        let path = self.store.status_file(name);
        match live {
            Some(def) => virt_core::fsutil::write_atomic(
                &path,
                self.codec.format_pool(def).as_bytes(),
                0o600,
            )
            .map_err(|e| sys(format!("cannot write '{}'", path.display()), e)),
            None => {
                let _ = fs::remove_file(&path);
                Ok(())
            }
        }
    }
}
