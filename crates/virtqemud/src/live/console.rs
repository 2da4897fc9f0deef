//! The console: the guest's serial pty as a byte stream (libvirt: virDomainOpenConsole).
//!
//! The pty's slave side (`/dev/pts/N` from `query-chardev`, in raw mode: QEMU sets it so) is
//! the driver kit's pty stream (`kit::console::open_pty`).
//! One session at a time: a second open fails unless FORCE, which ends the first. The session
//! ends when the domain stops.

use serde_json::json;
use virt_core::driver::prelude::*;
use virt_core::driver::{ConsoleStream, DriverResult, Screenshot};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::console::{self as rules, device_alias};
use virt_core::kit::keycodes;
use virt_core::types::DomainLookup;
use virt_core::VirtError;

use crate::QemuDriver;

#[async_trait::async_trait]
impl Consoles for QemuDriver {
    /// libvirt: virDomainOpenConsole. `dev` is empty (the first console), `serialN` or
    /// `console0`.
    async fn open_console(
        &self,
        lookup: &DomainLookup,
        dev: &str,
        flags: u32,
    ) -> DriverResult<ConsoleStream> {
        self.check_flags(flags, rules::ACCEPTED, "qemuDomainOpenConsole")?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let Some(run) = d.run.as_mut() else {
            return Err(super::not_running(d));
        };
        let alias = device_alias(dev);
        let Some((_, path)) = run.ptys.iter().find(|(a, _)| a == alias) else {
            return Err(if dev.is_empty() {
                VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Qemu,
                    "cannot find default console device: the domain has no pty serial port",
                )
            } else {
                rules::no_such_device(dev, ErrorDomain::Qemu)
            });
        };
        run.console.check_free(flags, ErrorDomain::Qemu)?;
        virt_core::kit::console::open_pty(path, run.console.begin(), ErrorDomain::Qemu)
    }

    /// libvirt: virDomainScreenshot. QMP `screendump` writes a PPM of the screen (a head of
    /// one of the video devices, counted across them) into the run's private dir; the file
    /// is read back and removed.
    async fn screenshot(
        &self,
        lookup: &DomainLookup,
        screen: u32,
        flags: u32,
    ) -> DriverResult<Screenshot> {
        self.check_flags(flags, 0, "qemuDomainScreenshot")?;
        let (_job, uuid) = self.job(lookup, "virDomainScreenshot").await?;
        let a = self.active(&uuid)?;
        let (videos, lib_dir) = {
            let st = self.lock();
            let d = st.get(&DomainLookup::Uuid(uuid))?;
            let run = d.run.as_ref().ok_or_else(|| super::not_running(d))?;
            (run.live.devices.videos.clone(), run.lib_dir.clone())
        };
        if videos.is_empty() {
            return Err(VirtError::new(
                ErrorCode::OperationInvalid,
                ErrorDomain::Qemu,
                "no screens to take screenshot from",
            ));
        }
        let mut args = serde_json::Map::new();
        if screen > 0 {
            let mut left = screen;
            let mut found = None;
            for v in &videos {
                let heads = v.heads.unwrap_or(1);
                if left < heads {
                    found = Some(v.alias.clone().unwrap_or_default());
                    break;
                }
                left -= heads;
            }
            let alias = found.ok_or_else(|| {
                VirtError::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::Qemu,
                    "no such screen ID",
                )
            })?;
            args.insert("device".into(), json!(alias));
            args.insert("head".into(), json!(left));
        }
        let path = lib_dir.join(format!("qemu.screendump.{}", std::process::id() ^ screen));
        args.insert("filename".into(), json!(path.display().to_string()));
        let res = self
            .qmp(&a, "screendump", Some(serde_json::Value::Object(args)))
            .await;
        let data = res.and_then(|_| {
            std::fs::read(&path).map_err(|e| {
                VirtError::new(
                    ErrorCode::OperationFailed,
                    ErrorDomain::Qemu,
                    format!("unable to open stream: {e}"),
                )
            })
        });
        let _ = std::fs::remove_file(&path);
        Ok(Screenshot {
            mime_type: "image/x-portable-pixmap".into(),
            data: data?,
        })
    }

    /// libvirt: virDomainSendKey. Keys of any code set are translated to QEMU's qnum codes
    /// and sent with QMP `send-key`.
    async fn send_key(
        &self,
        lookup: &DomainLookup,
        codeset: u32,
        holdtime: u32,
        keys: &[u32],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "qemuDomainSendKey")?;
        keycodes::check_arguments(codeset, keys)?;
        let mut qnum = Vec::with_capacity(keys.len());
        for k in keys {
            let code = if codeset == keycodes::QNUM {
                Some(*k)
            } else {
                keycodes::translate(codeset, keycodes::QNUM, *k)
            };
            let code = code.ok_or_else(|| {
                VirtError::internal(
                    ErrorDomain::Qemu,
                    format!(
                        "cannot translate keycode {k} of {} codeset to qnum keycode",
                        keycodes::codeset_name(codeset)
                    ),
                )
            })?;
            qnum.push(json!({"type": "number", "data": code}));
        }
        let (_job, uuid) = self.job(lookup, "virDomainSendKey").await?;
        let a = self.active(&uuid)?;
        let mut args = json!({ "keys": qnum });
        if holdtime > 0 {
            args["hold-time"] = json!(holdtime);
        }
        self.qmp(&a, "send-key", Some(args)).await?;
        Ok(())
    }

    /// libvirt: virDomainInjectNMI (QMP `inject-nmi`).
    async fn inject_nmi(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<()> {
        self.check_flags(flags, 0, "qemuDomainInjectNMI")?;
        let (_job, uuid) = self.job(lookup, "virDomainInjectNMI").await?;
        let a = self.active(&uuid)?;
        self.qmp(&a, "inject-nmi", None).await?;
        Ok(())
    }
}
