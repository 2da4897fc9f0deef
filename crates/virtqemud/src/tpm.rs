//! Emulated TPMs: `<tpm model='tpm-tis|tpm-crb'><backend type='emulator'>` runs one `swtpm`
//! per guest, as libvirt 9.0's QEMU driver does (qemu_tpm.c).
//!
//! # Life of an emulated TPM
//!
//! * **Define** ([`check_define`]): one TPM at most; the model defaults to `tpm-tis` and the
//!   version to `1.2` for tpm-tis and `2.0` for tpm-crb (libvirt 9.0's defaults, stored in the
//!   definition); tpm-crb with TPM 1.2 is refused.
//! * **Start** ([`swtpm::start`], before QEMU): the state lives in
//!   `STATE/swtpm/UUID/tpm2` (`tpm1.2` for 1.2; libvirt: `/var/lib/libvirt/swtpm/...`). When
//!   that dir is missing or empty, `swtpm_setup` manufactures the TPM (EK, certificates,
//!   locked NVRAM); with `<active_pcr_banks>` it reconfigures the banks on every start. Then
//!   `swtpm socket` runs in its own session (like QEMU, it outlives the daemon), its control
//!   socket in the domain's private dir, its log in `LOG/NAME-swtpm.log`; the start waits for
//!   the socket. Its pid and start time go into the status file.
//! * **QEMU** (`command/tpm.rs`): `-chardev socket,id=chrtpm,path=SOCK`, `-tpmdev
//!   emulator,id=tpm-tpm0,chardev=chrtpm`, `-device {"driver":"tpm-crb",...,"id":"tpm0"}`.
//! * **Stop** ([`swtpm::stop`]): swtpm runs with `--terminate`, so it exits once QEMU's
//!   connection is gone; the stop path waits briefly, then signals it, and reaps it (a zombie
//!   never counts as running). The state stays.
//! * **Undefine** ([`removes_state`]): as libvirt, the state goes unless `persistent_state`
//!   is `yes` or VIR_DOMAIN_UNDEFINE_KEEP_TPM is given; with `persistent_state='yes'` only
//!   VIR_DOMAIN_UNDEFINE_TPM removes it. A transient domain's state goes when it stops
//!   (unless `persistent_state='yes'`).
//!
//! `type='external'` (a swtpm someone else runs) connects QEMU to its socket and nothing
//! more. `type='passthrough'` (a host TPM) and `<encryption>` (needs a secret driver) are
//! refused at define. swtpm and swtpm_setup run as the daemon's user; libvirt runs them as
//! `tss`, which needs the DAC relabelling this driver does not do.

pub mod swtpm;

use std::path::{Path, PathBuf};

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::tpm::TpmBackend;
use virt_core::model::DomainDef;
use virt_core::uuid::Uuid;
use virt_core::VirtError;

fn unsupported(detail: &str) -> VirtError {
    VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Qemu, detail)
}

/// Fills the TPM defaults and refuses what libvirt refuses (see the module docs).
pub fn check_define(def: &mut DomainDef) -> Result<(), VirtError> {
    let tpms = &mut def.devices.tpms;
    if tpms.len() > 1 {
        return Err(unsupported(
            "only a single TPM non-proxy device is supported",
        ));
    }
    let Some(tpm) = tpms.first_mut() else {
        return Ok(());
    };
    let model = tpm.model.get_or_insert_with(|| "tpm-tis".into()).clone();
    if let TpmBackend::Emulator { version, .. } = &mut tpm.backend {
        let v = version.get_or_insert_with(|| {
            if model == "tpm-crb" {
                "2.0".into()
            } else {
                "1.2".into()
            }
        });
        if model == "tpm-crb" && v == "1.2" {
            return Err(unsupported("Unsupported interface 'tpm-crb' for TPM 1.2"));
        }
    }
    Ok(())
}

/// What an emulated TPM of a definition asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulated {
    /// `1.2` or `2.0`.
    pub version: String,
    /// `persistent_state='yes'`.
    pub persistent_state: bool,
    /// `<active_pcr_banks>` (TPM 2.0), in libvirt's order.
    pub pcr_banks: Vec<String>,
}

impl Emulated {
    /// Whether it is a TPM 2.0.
    pub fn tpm2(&self) -> bool {
        self.version == "2.0"
    }
}

/// The emulated TPM of `def`, if it has one (after [`check_define`] filled the defaults).
pub fn emulated(def: &DomainDef) -> Option<Emulated> {
    def.devices.tpms.iter().find_map(|t| match &t.backend {
        TpmBackend::Emulator {
            version,
            persistent_state,
            active_pcr_banks,
            ..
        } => Some(Emulated {
            version: version.clone().unwrap_or_else(|| "2.0".into()),
            persistent_state: *persistent_state == Some(true),
            pcr_banks: active_pcr_banks.clone(),
        }),
        _ => None,
    })
}

/// `STATE/swtpm/UUID`: everything swtpm keeps for domain `uuid`.
pub fn domain_state_root(swtpm_dir: &Path, uuid: &Uuid) -> PathBuf {
    swtpm_dir.join(uuid.to_string())
}

/// `STATE/swtpm/UUID/tpm2` (or `tpm1.2`): swtpm's `--tpmstate dir`.
pub fn state_dir(swtpm_dir: &Path, uuid: &Uuid, tpm: &Emulated) -> PathBuf {
    domain_state_root(swtpm_dir, uuid).join(if tpm.tpm2() { "tpm2" } else { "tpm1.2" })
}

/// The control socket QEMU connects to, in the domain's private dir (gone with it at stop).
pub fn socket_path(domain_dir: &Path) -> PathBuf {
    domain_dir.join("swtpm.sock")
}

/// `LOG/NAME-swtpm.log`, swtpm's and swtpm_setup's log (libvirt's name).
pub fn log_path(log_dir: &Path, name: &str) -> PathBuf {
    log_dir.join(format!("{name}-swtpm.log"))
}

/// Whether undefining with `remove` (VIR_DOMAIN_UNDEFINE_TPM) / `keep`
/// (VIR_DOMAIN_UNDEFINE_KEEP_TPM) removes `tpm`'s state: libvirt's rule, see the module docs.
/// Stopping a transient domain is an undefine without flags.
pub fn removes_state(tpm: &Emulated, remove: bool, keep: bool) -> bool {
    if tpm.persistent_state {
        remove
    } else {
        !keep
    }
}

/// Removes the TPM state of domain `uuid` (`STATE/swtpm/UUID`), logging failures: the
/// definition goes either way, as in libvirt.
pub fn remove_state(swtpm_dir: &Path, uuid: &Uuid, domain: &str) {
    let root = domain_state_root(swtpm_dir, uuid);
    match std::fs::remove_dir_all(&root) {
        Ok(()) => tracing::info!(domain, dir = %root.display(), "TPM state removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(domain, dir = %root.display(), error = %e, "cannot remove the TPM state")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(tpm: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>t</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>{tpm}</devices></domain>"
        ))
        .expect("parses")
    }

    fn checked(tpm: &str) -> Result<DomainDef, VirtError> {
        let mut d = def(tpm);
        check_define(&mut d).map(|()| d)
    }

    #[test]
    fn defaults_are_libvirt_9_0s() {
        let d = checked("<tpm><backend type='emulator'/></tpm>").expect("ok");
        assert_eq!(d.devices.tpms[0].model.as_deref(), Some("tpm-tis"));
        assert_eq!(emulated(&d).expect("emulated").version, "1.2");
        let d = checked("<tpm model='tpm-crb'><backend type='emulator'/></tpm>").expect("ok");
        let e = emulated(&d).expect("emulated");
        assert!(e.tpm2() && !e.persistent_state && e.pcr_banks.is_empty());
        let d = checked(
            "<tpm model='tpm-tis'><backend type='emulator' version='2.0' persistent_state='yes'>\
             <active_pcr_banks><sha384/><sha256/></active_pcr_banks></backend></tpm>",
        )
        .expect("ok");
        let e = emulated(&d).expect("emulated");
        assert!(e.persistent_state);
        assert_eq!(e.pcr_banks, ["sha256", "sha384"]);
        // External TPMs are not emulated here.
        let d = checked(
            "<tpm model='tpm-crb'><backend type='external'>\
             <source type='unix' mode='connect' path='/s'/></backend></tpm>",
        )
        .expect("ok");
        assert_eq!(emulated(&d), None);
    }

    #[test]
    fn crb_with_tpm_1_2_and_two_tpms_are_refused_as_libvirt() {
        let e = checked("<tpm model='tpm-crb'><backend type='emulator' version='1.2'/></tpm>")
            .expect_err("crb 1.2");
        assert_eq!(
            (e.code, e.detail.as_str()),
            (
                ErrorCode::ConfigUnsupported,
                "Unsupported interface 'tpm-crb' for TPM 1.2"
            )
        );
        let two = "<tpm><backend type='emulator'/></tpm>".repeat(2);
        let e = checked(&two).expect_err("two");
        assert_eq!(e.detail, "only a single TPM non-proxy device is supported");
    }

    #[test]
    fn state_removal_follows_persistent_state_and_the_flags() {
        let tpm = |persistent| Emulated {
            version: "2.0".into(),
            persistent_state: persistent,
            pcr_banks: Vec::new(),
        };
        // (persistent_state, --tpm, --keep-tpm) -> removed
        for (p, remove, keep, gone) in [
            (false, false, false, true),
            (false, true, false, true),
            (false, false, true, false),
            (true, false, false, false),
            (true, true, false, true),
            (true, false, true, false),
        ] {
            assert_eq!(
                removes_state(&tpm(p), remove, keep),
                gone,
                "{p} {remove} {keep}"
            );
        }
        let t = tempfile::tempdir().expect("tmp");
        let uuid = Uuid::parse("00000000-0000-4000-8000-000000000001").expect("uuid");
        let dir = state_dir(t.path(), &uuid, &tpm(false));
        assert!(dir.ends_with("00000000-0000-4000-8000-000000000001/tpm2"));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("tpm2-00.permall"), b"x").expect("state");
        remove_state(t.path(), &uuid, "t");
        assert!(!domain_state_root(t.path(), &uuid).exists());
        remove_state(t.path(), &uuid, "t");
    }
}
