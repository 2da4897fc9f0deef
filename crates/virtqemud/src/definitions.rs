//! The `Definitions` capability of the QEMU driver: lookup, list, define (and its validation
//! dry run; both check the definition against its emulator, see define/emulator.rs), undefine,
//! info, state, XML, autostart; each change writes disk before memory and emits its lifecycle
//! event once both agree.

use virt_core::driver::prelude::*;
use virt_core::driver::{DriverResult, ValidatedDomain};
use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::events::lifecycle as ev;
use virt_core::honour::Honoured;
use virt_core::kit;
use virt_core::kit::table::Entry as _;
use virt_core::model::DomainDef;
use virt_core::state::StateReason;
use virt_core::types::{DomainHandle, DomainInfo, DomainLookup, DomainSummary};
use virt_core::VirtError;

use virt_core::kit::flags::define::VALIDATE;
/// virDomainUndefineFlagsValues.
pub(crate) use virt_core::kit::flags::undefine as undefine_flags;
use virt_core::kit::locate::located;

use crate::domains::Dom;
use crate::QemuDriver;

/// What this driver acts on: exactly what the command line builder can express
/// ([`crate::command::honoured`]).
pub fn honoured() -> Honoured {
    crate::command::honoured()
}

/// Inactive XML with secrets, as stored on disk and returned by a validation.
pub(crate) use virt_core::kit::keeper::STORED;

fn system_error(err: impl std::fmt::Display) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, err.to_string())
}

impl QemuDriver {
    /// Parses `xml` and checks it against what the driver honours and libvirt's define-time
    /// rules (firmware, TPM), filling what define fills.
    pub(crate) fn parse(&self, xml: &str, validate: bool) -> DriverResult<DomainDef> {
        let def = self.read(xml, validate)?;
        self.admit_written(def, validate)
    }

    /// The XML read into a definition, nothing checked yet.
    fn read(&self, xml: &str, validate: bool) -> DriverResult<DomainDef> {
        self.codec
            .parse_domain(xml)
            .map_err(|e| if validate { located(e) } else { e })
    }

    /// The checks of a definition a user wrote: libvirt's firmware rules, then [`admit`].
    ///
    /// [`admit`]: QemuDriver::admit
    fn admit_written(&self, mut def: DomainDef, validate: bool) -> DriverResult<DomainDef> {
        crate::firmware::validate::check_define(&mut def, &self.nvram_dir).map_err(|e| {
            if validate {
                located(e)
            } else {
                e
            }
        })?;
        self.admit(def, validate)
    }

    /// Parses a live definition this driver wrote itself from a running domain (status
    /// files, saved images): device aliases are kept, and its resolved firmware is not checked
    /// against the rules for what users write (a live definition keeps `<firmware>` features
    /// next to the loader they resolved to).
    pub(crate) fn parse_live(&self, xml: &str) -> DriverResult<DomainDef> {
        let def = self.codec.parse_live_domain(xml)?;
        self.admit(def, false)
    }

    /// The checks every parsed definition passes: a usable name, and nothing the driver
    /// does not honour.
    fn admit(&self, mut def: DomainDef, validate: bool) -> DriverResult<DomainDef> {
        if def.name.contains('/') {
            let detail = format!("name '{}' cannot contain '/'", def.name);
            let mut err = VirtError::new(ErrorCode::XmlError, ErrorDomain::Domain, detail);
            err.violations.push(Violation {
                path: "/domain/name".into(),
                description: err.message(),
            });
            return Err(err);
        }
        let target = self.postparse_target(&def);
        crate::postparse::apply(&mut def, &target)?;
        crate::tpm::check_define(&mut def).map_err(|e| if validate { located(e) } else { e })?;
        crate::define::devices::check(&def)?;
        crate::define::tuning::check(&def)?;
        self.codec.check_honoured(&def, &honoured())?;
        Ok(def)
    }

    /// The emulator facts the post-parse step needs: the definition's emulator (or the
    /// installed one for its arch) and that emulator's version.
    pub(crate) fn postparse_target(&self, def: &DomainDef) -> crate::postparse::Target {
        let host_arch = crate::host::host_arch();
        // The emulator as define checks it (define/emulator.rs); one that cannot be found is left
        // for that check to report.
        let emulator = self
            .emulator_of(def)
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let qemu_version = emulator
            .as_deref()
            .map(|e| self.version_of(std::path::Path::new(e)))
            .unwrap_or(0);
        crate::postparse::Target {
            emulator,
            host_arch,
            qemu_version,
        }
    }

    /// [`QemuDriver::parse`] for define, validation and create: the emulator is looked up
    /// first, as libvirt does before anything else, and the post-parsed definition is checked
    /// last against what that emulator can do (define/emulator.rs).
    pub(crate) async fn parse_checked(&self, xml: &str, validate: bool) -> DriverResult<DomainDef> {
        let def = self.read(xml, validate)?;
        self.emulator_of(&def)?;
        let def = self.admit_written(def, validate)?;
        self.check_emulator(&def).await?;
        Ok(def)
    }

    /// Applies `edit` to the persistent definition of `lookup` and stores it, disk before
    /// memory: every call that edits a stored definition (memory, vCPUs, devices) goes here.
    pub(crate) fn edit_config(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut DomainDef) -> DriverResult<()>,
    ) -> DriverResult<()> {
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let mut def = d.def.clone();
        edit(&mut def)?;
        let text = self.codec.format_domain(&def, STORED);
        self.store.save(&def.name, &text).map_err(system_error)?;
        d.def = def;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Definitions for QemuDriver {
    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(lookup)?.handle())
    }

    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(
            flags,
            virt_core::kit::flags::list::ALL,
            "qemuConnectListAllDomains",
        )?;
        Ok(self.lock().list(flags))
    }

    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, VALIDATE, "qemuDomainDefineXMLFlags")?;
        let validate = flags & VALIDATE != 0;
        let def = self.parse_checked(xml, validate).await?;
        let text = self.codec.format_domain(&def, STORED);
        // A running domain keeps running; the new definition applies at its next boot.
        let (handle, replaces) = self.lock().define(def, validate, &self.store, &text, |d| {
            Dom::new(d, false, true)
        })?;
        self.bus.emit(
            handle.clone(),
            virt_core::kit::keeper::defined_event(replaces),
        );
        Ok(handle)
    }

    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.check_flags(flags, VALIDATE, "qemuDomainDefineXMLFlags")?;
        let def = self.parse_checked(xml, true).await?;
        let replaces_existing = self.lock().check_identity(&def, true)?;
        let xml = self.codec.format_domain(&def, STORED);
        Ok(ValidatedDomain::new(xml, &def, replaces_existing))
    }

    async fn undefine_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        use undefine_flags::{KEEP_NVRAM, KEEP_TPM, MANAGED_SAVE, NVRAM, SNAPSHOTS_METADATA, TPM};
        kit::undefine::check_flags(flags, ErrorDomain::Qemu, "qemuDomainUndefineFlags")?;
        let mut st = self.lock();
        let uuid = st.check_undefine(lookup)?;
        let dom = &st.by_uuid[&uuid];
        // Checkpoints are not implemented, so their flag has nothing to remove. Snapshot
        // metadata, a managed-save image, an NVRAM file and TPM state can exist. The NVRAM
        // file of auto-selected UEFI firmware is where start puts it.
        let nvram =
            crate::firmware::nvram::path_of(&dom.def, &self.nvram_dir).filter(|p| p.exists());
        // Every refusal comes before anything is removed.
        if dom.managed_save && flags & MANAGED_SAVE == 0 {
            return Err(VirtError::operation_invalid(
                "Refusing to undefine while domain managed save image exists",
            )
            .with_object(&dom.def.name, uuid.to_string()));
        }
        if !dom.is_active() && !dom.snapshots.is_empty() && flags & SNAPSHOTS_METADATA == 0 {
            return Err(VirtError::operation_invalid(format!(
                "cannot delete inactive domain with {} snapshots",
                dom.snapshots.len()
            ))
            .with_object(&dom.def.name, uuid.to_string()));
        }
        if nvram.is_some() && flags & (NVRAM | KEEP_NVRAM) == 0 {
            return Err(
                VirtError::operation_invalid("cannot undefine domain with nvram")
                    .with_object(&dom.def.name, uuid.to_string()),
            );
        }
        if dom.managed_save {
            let image = self.managed_save_path(&dom.def.name);
            std::fs::remove_file(&image).map_err(|e| {
                system_error(format!(
                    "failed to remove managed save image '{}': {e}",
                    image.display()
                ))
            })?;
        }
        if let Some(path) = nvram.filter(|_| flags & NVRAM != 0) {
            std::fs::remove_file(&path).map_err(|e| {
                system_error(format!("failed to remove nvram '{}': {e}", path.display()))
            })?;
        }
        let name = dom.def.name.clone();
        self.store.remove(&name).map_err(system_error)?;
        if flags & SNAPSHOTS_METADATA != 0 {
            self.discard_snapshot_metadata(&name);
            if let Some(d) = st.by_uuid.get_mut(&uuid) {
                d.snapshots.clear();
            }
        }
        // A running domain becomes transient and goes when it stops, its TPM state then
        // following these flags; a shut-off one goes now, with it.
        if let Some(d) = st.by_uuid.get_mut(&uuid).filter(|d| d.is_active()) {
            d.undefine_flags = flags;
        }
        let (handle, gone) = st.undefined(&uuid);
        if let Some(t) = gone.as_ref().and_then(|g| crate::tpm::emulated(&g.def)) {
            if crate::tpm::removes_state(&t, flags & TPM != 0, flags & KEEP_TPM != 0) {
                crate::tpm::remove_state(&self.swtpm_dir, &uuid, &name);
            }
        }
        self.bus.emit(
            handle.clone(),
            ev::payload(ev::UNDEFINED, ev::undefined::REMOVED),
        );
        Ok(handle)
    }

    async fn domain_info(&self, lookup: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        let st = self.lock();
        let d = st.get(lookup)?;
        let (def, memory_kib, cpu_time_ns) = match &d.run {
            Some(r) => {
                let ns = crate::stats::cpu_time_ns(r.proc.pid().pid as u32).unwrap_or(0);
                (&r.live, r.balloon_kib, ns)
            }
            None => (&d.def, d.def.current_memory_kib, 0),
        };
        let info = DomainInfo {
            state: d.state(),
            max_memory_kib: def.memory_kib,
            memory_kib,
            vcpus: def.current_vcpus,
            cpu_time_ns,
            os_type: def.os.os_type.clone(),
            persistent: d.persistent,
            autostart: d.autostart,
            has_managed_save: d.managed_save,
            security_labels: Vec::new(),
            updated: false,
            messages: Vec::new(),
        };
        Ok((d.handle(), info))
    }

    async fn domain_state(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(DomainHandle, StateReason)> {
        self.check_flags(flags, 0, "qemuDomainGetState")?;
        let st = self.lock();
        let d = st.get(dom)?;
        Ok((d.handle(), d.state()))
    }

    /// The live XML of a running domain; with INACTIVE, or for a shut-off domain, the
    /// persistent definition (the driver kit's rule).
    async fn domain_xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        self.check_flags(
            flags,
            virt_core::kit::flags::xml::ALL,
            "qemuDomainGetXMLDesc",
        )?;
        self.lock().domain_xml(lookup, flags, self.codec.as_ref())
    }

    async fn autostart(&self, dom: &DomainLookup) -> DriverResult<bool> {
        Ok(self.lock().get(dom)?.autostart)
    }

    async fn set_autostart(&self, lookup: &DomainLookup, on: bool) -> DriverResult<()> {
        self.lock().set_autostart(lookup, on, Some(&self.store))
    }

    // Domain management group (issue 15): see live/mgmt.rs.

    async fn metadata(
        &self,
        lookup: &DomainLookup,
        kind: i32,
        uri: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.qemu_metadata(lookup, kind, uri, flags)
    }

    async fn set_metadata(
        &self,
        lookup: &DomainLookup,
        kind: i32,
        metadata: Option<&str>,
        key: &str,
        uri: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.qemu_set_metadata(lookup, kind, metadata, key, uri, flags)
    }

    async fn rename_domain(
        &self,
        lookup: &DomainLookup,
        new_name: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.qemu_rename(lookup, new_name, flags)
    }
}
