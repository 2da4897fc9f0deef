//! What a guest needs on the host beside QEMU (libvirt's "external devices"): before the
//! launch, the firmware resolved from the descriptors and its UEFI variable store, and the
//! swtpm of an emulated TPM; after the stop, that swtpm gone and, for a domain that stops
//! being known (transient, or undefined while running), its TPM state removed as an undefine
//! would.

use std::path::Path;

use virt_core::driver::DriverResult;
use virt_core::model::DomainDef;

use crate::process::Pid;
use crate::tpm::swtpm;
use crate::{command, firmware, tpm, QemuDriver};

/// The outcome of [`QemuDriver::start_external`].
pub(crate) struct Prepared {
    /// The definition QEMU runs (firmware spelled out): the live definition.
    pub live: DomainDef,
    /// The running swtpm, killed if dropped before it is recorded in the run.
    pub swtpm: Option<swtpm::Running>,
}

impl QemuDriver {
    /// `def` with its firmware resolved for `qemu_version`'s machine names, touching nothing
    /// (the part of [`QemuDriver::start_external`] a domxml-to-native preview shares).
    pub(crate) fn live_firmware(
        &self,
        def: &DomainDef,
        qemu_version: u64,
    ) -> DriverResult<DomainDef> {
        let machine = command::machine_type(def, qemu_version);
        firmware::resolve(def, &machine, &self.firmware_dirs, &self.nvram_dir)
    }

    /// Resolves the firmware of `def` for `qemu_version`'s machine names, creates (or with
    /// `reset_nvram` recreates) its variable store, and starts swtpm for an emulated TPM with
    /// its socket in `lib_dir` and its command line in `log`.
    pub(crate) async fn start_external(
        &self,
        def: &DomainDef,
        qemu_version: u64,
        lib_dir: &Path,
        log: &Path,
        reset_nvram: bool,
    ) -> DriverResult<Prepared> {
        let live = self.live_firmware(def, qemu_version)?;
        firmware::nvram::ensure(&live, reset_nvram)?;
        let swtpm = match tpm::emulated(&live) {
            Some(t) => {
                let launch = swtpm::Launch {
                    name: def.name.clone(),
                    uuid: def.uuid,
                    tpm: t,
                    swtpm_dir: self.swtpm_dir.clone(),
                    domain_dir: lib_dir.to_path_buf(),
                    swtpm_log: tpm::log_path(&self.log_dir, &def.name),
                    domain_log: log.to_path_buf(),
                };
                Some(swtpm::start(&launch).await?)
            }
            None => None,
        };
        Ok(Prepared { live, swtpm })
    }

    /// After QEMU is dead: stops the run's swtpm, and when the domain is no longer known
    /// (`forgotten` holds the undefine flags it goes with: none for a transient domain)
    /// removes its TPM state unless those flags or `persistent_state` keep it.
    pub(crate) async fn stop_external(
        &self,
        live: &DomainDef,
        swtpm: Option<Pid>,
        forgotten: Option<u32>,
    ) {
        if let Some(p) = swtpm {
            swtpm::stop(p, &live.name).await;
        }
        let (Some(flags), Some(t)) = (forgotten, tpm::emulated(live)) else {
            return;
        };
        let (remove, keep) = (
            flags & crate::definitions::undefine_flags::TPM != 0,
            flags & crate::definitions::undefine_flags::KEEP_TPM != 0,
        );
        if tpm::removes_state(&t, remove, keep) {
            tpm::remove_state(&self.swtpm_dir, &live.uuid, &live.name);
        }
    }
}
