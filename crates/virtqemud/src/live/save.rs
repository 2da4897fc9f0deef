//! Save, managed save and restore (spec qemu-driver.md §3.8): the guest's RAM and device
//! state streamed by QEMU's migration into a file behind libvirt's header, and a new QEMU
//! started with `-incoming` from it.
//!
//! The file (libvirt's layout, host byte order): 16-byte magic (`LibvirtQemudPart` while
//! writing, `LibvirtQemudSave` once complete), u32 version 2, u32 length of the XML (with its
//! NUL), u32 was_running, u32 format (0: raw), u32 cookie offset (0: none), 14 unused u32;
//! then the domain XML and its NUL; then QEMU's migration stream.
//!
//! Save: pause (PAUSED / SAVE) if running, write the header and XML, hand QEMU a duplicate of
//! the file descriptor (`getfd`), `migrate fd:`, poll `query-migrate` until completed, mark
//! the file complete, then kill QEMU and stop with SHUTOFF / SAVED, STOPPED / SAVED. On failure
//! the file goes and a guest that ran runs again (RUNNING / SAVE_CANCELED).
//!
//! Restore: read and check the header, start QEMU (`-S`) with `-incoming fd:N` on the file
//! positioned after the XML, wait until it leaves runstate `inmigrate`, then `cont` if it ran
//! when saved (RUNNING / RESTORED, STARTED / RESTORED). A managed save is a save to
//! `STATE/qemu/save/NAME.save`; start restores from it (and removes it) unless FORCE_BOOT.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use virt_core::driver::prelude::*;
use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::model::DomainDef;
use virt_core::state::{reason, DomainState, StateReason};
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::xml::FormatOptions;
use virt_core::VirtError;

use super::jobs::{job_type, operation, Source};
use super::Active;
use crate::domains::Dom;
use crate::QemuDriver;

use virt_core::kit::flags::save::{BYPASS_CACHE, PAUSED, RUNNING};
use virt_core::kit::save::ends_paused;

const MAGIC_PARTIAL: &[u8; 16] = b"LibvirtQemudPart";
const MAGIC: &[u8; 16] = b"LibvirtQemudSave";
const VERSION: u32 = 2;
const HEADER_LEN: usize = 16 + 4 * 5 + 4 * 14;
/// How long a save or restore may stream.
const MIGRATION_WAIT: Duration = Duration::from_secs(600);

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail.into())
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> VirtError {
    err(
        ErrorCode::SystemError,
        format!("cannot {what} '{}': {e}", path.display()),
    )
}

fn header(xml_len: u32, was_running: bool) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC_PARTIAL);
    for v in [VERSION, xml_len, u32::from(was_running), 0, 0] {
        h.extend_from_slice(&v.to_ne_bytes());
    }
    h.resize(HEADER_LEN, 0);
    h
}

/// The header of a complete image (`LibvirtQemudSave`), for an image whose XML is rewritten.
pub(crate) fn complete_header(xml_len: u32, was_running: bool) -> Vec<u8> {
    let mut h = header(xml_len, was_running);
    h[..16].copy_from_slice(MAGIC);
    h
}

/// A saved image's header and XML, with the file positioned at the migration stream.
pub(crate) struct Image {
    pub file: File,
    pub xml: String,
    pub was_running: bool,
}

/// Opens a saved image and checks its header.
pub(crate) fn open_image(path: &Path) -> DriverResult<Image> {
    let mut file = File::open(path).map_err(|e| io_err("open saved image", path, e))?;
    let bad = |what: &str| {
        err(
            ErrorCode::InvalidArg,
            format!("'{}' is not a usable saved image: {what}", path.display()),
        )
    };
    let mut h = [0u8; HEADER_LEN];
    file.read_exact(&mut h).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad("shorter than its header"),
        _ => io_err("read the header of", path, e),
    })?;
    if &h[..16] == MAGIC_PARTIAL {
        return Err(bad("the save did not complete"));
    }
    if &h[..16] != MAGIC {
        return Err(bad("wrong magic"));
    }
    let word =
        |i: usize| u32::from_ne_bytes(h[16 + 4 * i..20 + 4 * i].try_into().expect("4 bytes"));
    if word(0) != VERSION {
        return Err(bad(&format!("version {} is not supported", word(0))));
    }
    if word(3) != 0 {
        return Err(bad("compressed images are not supported"));
    }
    let len = word(1) as usize;
    if len == 0 || len > 16 << 20 {
        return Err(bad("XML length out of range"));
    }
    let mut xml = vec![0u8; len];
    file.read_exact(&mut xml).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad("truncated XML"),
        _ => io_err("read the XML of", path, e),
    })?;
    let end = xml.iter().position(|b| *b == 0).unwrap_or(xml.len());
    let xml = String::from_utf8(xml[..end].to_vec()).map_err(|_| bad("XML is not UTF-8"))?;
    Ok(Image {
        file,
        xml,
        was_running: word(2) != 0,
    })
}

/// Waits for an incoming migration to end (runstate leaves `inmigrate`).
pub(crate) async fn wait_incoming(a: &Active) -> DriverResult<()> {
    let end = tokio::time::Instant::now() + MIGRATION_WAIT;
    loop {
        let st = a
            .qmp
            .execute("query-status", None)
            .await
            .map_err(|e| e.to_virt("query-status"))?;
        match st.get("status").and_then(Value::as_str) {
            Some("inmigrate") => {}
            Some("internal-error") | Some("shutdown") | None => {
                return Err(err(
                    ErrorCode::OperationFailed,
                    "restoring the saved state failed in QEMU",
                ))
            }
            Some(_) => return Ok(()),
        }
        if tokio::time::Instant::now() > end {
            return Err(err(
                ErrorCode::OperationTimeout,
                "restore did not finish in time",
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl QemuDriver {
    /// `STATE/qemu/save/NAME.save`.
    pub(crate) fn managed_save_path(&self, name: &str) -> PathBuf {
        self.save_dir.join(format!("{name}.save"))
    }

    async fn save_to(
        &self,
        lookup: &DomainLookup,
        path: &Path,
        dxml: &str,
        flags: u32,
        api: &'static str,
    ) -> DriverResult<()> {
        // RUNNING with PAUSED is refused before anything happens.
        ends_paused(flags, false)?;
        let (_job, uuid) = self.job(lookup, api).await?;
        let a = self.active(&uuid)?;
        if !matches!(a.state.state, DomainState::Running | DomainState::Paused) {
            return Err(VirtError::operation_invalid("domain is not running"));
        }
        let was_running = a.state.state == DomainState::Running;
        let (mut live, lib_dir) = self
            .with_run(&uuid, a.gen, |r| (r.live.clone(), r.lib_dir.clone()))
            .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
        // The channel sockets of this run are named again by the restoring run.
        super::channels::drop_default_paths(&mut live, &lib_dir);
        let xml = if dxml.is_empty() {
            self.codec.format_domain(
                &live,
                FormatOptions {
                    id: None,
                    secure: true,
                    inactive: true,
                },
            )
        } else {
            let d = self.parse(dxml, false)?;
            if d.uuid != live.uuid || d.name != live.name {
                return Err(err(
                    ErrorCode::InvalidArg,
                    "the XML given for the saved image names another domain",
                ));
            }
            dxml.to_string()
        };
        if was_running {
            self.with_run(&uuid, a.gen, |r| r.paused_reason = reason::paused::SAVE);
            self.qmp(&a, "stop", None).await?;
            self.transition(
                &uuid,
                a.gen,
                StateReason::new(DomainState::Paused, reason::paused::SAVE),
                Some((ev::SUSPENDED, ev::suspended::PAUSED)),
                |r| r.state.state == DomainState::Running,
            );
            self.with_run(&uuid, a.gen, |r| r.paused_reason = reason::paused::UNKNOWN);
        }
        let wanted_running = !ends_paused(flags, !was_running)?;
        match self.stream_out(&a, path, &xml, wanted_running).await {
            Ok(()) => {}
            Err(e) => {
                let _ = std::fs::remove_file(path);
                if was_running && self.qmp(&a, "cont", None).await.is_ok() {
                    self.transition(
                        &uuid,
                        a.gen,
                        StateReason::new(DomainState::Running, reason::running::SAVE_CANCELED),
                        Some((ev::RESUMED, ev::resumed::UNPAUSED)),
                        |_| true,
                    );
                }
                return Err(e);
            }
        }
        self.with_run(&uuid, a.gen, |r| r.destroying = true);
        if let Some(p) = self.with_run(&uuid, a.gen, |r| r.proc.clone()) {
            let _ = p.terminate(false).await;
        }
        self.stop_run(
            &uuid,
            a.gen,
            reason::shutoff::SAVED,
            Some(ev::stopped::SAVED),
        )
        .await;
        Ok(())
    }

    /// Writes header + XML, lets QEMU migrate into the file, then marks it complete.
    async fn stream_out(
        &self,
        a: &Active,
        path: &Path,
        xml: &str,
        running: bool,
    ) -> DriverResult<()> {
        let mut data = xml.as_bytes().to_vec();
        data.push(0);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io_err("create", path, e))?;
        file.write_all(&header(data.len() as u32, running))
            .and_then(|()| file.write_all(&data))
            .map_err(|e| io_err("write", path, e))?;
        let tracker = self.track(&a.uuid, a, operation::SAVE, Source::Migration);
        self.migrate_to_file(a, &file, &tracker, "domain save job", MIGRATION_WAIT)
            .await?;
        tracker.finish(job_type::COMPLETED);
        file.sync_all()
            .and_then(|()| file.write_all_at(MAGIC, 0))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err("complete", path, e))
    }

    /// Starts `def` from `image` (the job is held).
    pub(crate) async fn restore_image(
        &self,
        uuid: virt_core::uuid::Uuid,
        def: DomainDef,
        image: Image,
        run: bool,
    ) -> DriverResult<DomainHandle> {
        let mut file = image.file;
        let pos = file
            .stream_position()
            .map_err(|e| err(ErrorCode::SystemError, e.to_string()))?;
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| err(ErrorCode::SystemError, e.to_string()))?;
        let flags = if run {
            0
        } else {
            super::start::create_flags::PAUSED
        };
        self.launch_with(uuid, def, flags, Some(OwnedFd::from(file)))
            .await
    }
}

#[async_trait::async_trait]
impl SaveRestore for QemuDriver {
    /// libvirt: virDomainManagedSave.
    async fn managed_save(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<()> {
        self.check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED,
            "qemuDomainManagedSave",
        )?;
        let name = {
            let st = self.lock();
            let d = st.get(lookup)?;
            if !d.persistent {
                return Err(VirtError::operation_invalid(
                    "cannot do managed save for transient domain",
                ));
            }
            d.def.name.clone()
        };
        std::fs::create_dir_all(&self.save_dir).map_err(|e| io_err("create", &self.save_dir, e))?;
        let path = self.managed_save_path(&name);
        self.save_to(lookup, &path, "", flags, "virDomainManagedSave")
            .await?;
        if let Ok(d) = self.lock().get_mut(lookup) {
            d.managed_save = true;
        }
        Ok(())
    }

    async fn has_managed_save_image(&self, dom: &DomainLookup) -> DriverResult<bool> {
        self.lock().get(dom).map(|d| d.managed_save)
    }

    async fn managed_save_remove(&self, dom: &DomainLookup) -> DriverResult<()> {
        let mut st = self.lock();
        let d = st.get_mut(dom)?;
        let path = self.managed_save_path(&d.def.name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Qemu,
                    format!("cannot remove managed save image '{}': {e}", path.display()),
                ))
            }
        }
        d.managed_save = false;
        Ok(())
    }

    async fn save_image_xml(&self, path: &str, flags: u32) -> DriverResult<String> {
        self.qemu_save_image_xml(path, flags)
    }

    async fn define_save_image_xml(&self, path: &str, xml: &str, flags: u32) -> DriverResult<()> {
        self.qemu_define_save_image_xml(path, xml, flags)
    }

    async fn managed_save_xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        self.qemu_managed_save_xml(lookup, flags)
    }

    async fn define_managed_save_xml(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_define_managed_save_xml(lookup, xml, flags).await
    }

    /// libvirt: virDomainSaveFlags.
    async fn save_domain(
        &self,
        lookup: &DomainLookup,
        path: &str,
        dxml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED,
            "qemuDomainSaveFlags",
        )?;
        self.save_to(lookup, Path::new(path), dxml, flags, "virDomainSaveFlags")
            .await
    }

    /// libvirt: virDomainCoreDumpWithFormat.
    async fn core_dump(
        &self,
        lookup: &DomainLookup,
        path: &str,
        format: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.core_dump_to(lookup, path, format, flags).await
    }

    /// libvirt: virDomainRestoreFlags.
    async fn restore_domain(
        &self,
        path: &str,
        dxml: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.check_flags(
            flags,
            BYPASS_CACHE | RUNNING | PAUSED,
            "qemuDomainRestoreFlags",
        )?;
        let image = open_image(Path::new(path))?;
        // A replacement definition is the user's (a define's rules); the image's own is the
        // live definition this driver saved.
        let def = if dxml.is_empty() {
            self.parse_live(&image.xml)?
        } else {
            self.parse(dxml, false)?
        };
        let run = !ends_paused(flags, !image.was_running)?;
        let (uuid, job) = {
            let mut st = self.lock();
            let exists = st.check_identity(&def, false)?;
            if exists && st.by_uuid[&def.uuid].is_active() {
                return Err(VirtError::operation_invalid(format!(
                    "domain '{}' is already active",
                    def.name
                )));
            }
            if !exists {
                st.insert(Dom::new(def.clone(), false, false));
            }
            (def.uuid, st.by_uuid[&def.uuid].job.clone())
        };
        let res = async {
            let _job = job.acquire("virDomainRestoreFlags").await?;
            self.restore_image(uuid, def, image, run).await
        }
        .await;
        if res.is_err() {
            self.forget_if_transient_and_stopped(&uuid);
        }
        res
    }
}
