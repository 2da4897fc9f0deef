//! The QEMU driver's operations on definitions: define (and its validation dry run),
//! undefine, info, XML, autostart, domain capabilities; each writes disk before memory and
//! emits its lifecycle event once both agree.

use virt_core::driver::{DriverResult, ValidatedDomain};
use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::events::lifecycle as ev;
use virt_core::honour::Honoured;
use virt_core::model::DomainDef;
use virt_core::types::{DomainHandle, DomainInfo, DomainLookup};
use virt_core::xml::FormatOptions;
use virt_core::VirtError;

use crate::domains::Dom;
use crate::host;
use crate::QemuDriver;

/// VIR_DOMAIN_DEFINE_VALIDATE.
const VALIDATE: u32 = 1;

/// virDomainUndefineFlagsValues.
mod undefine_flags {
    pub const MANAGED_SAVE: u32 = 1;
    pub const SNAPSHOTS_METADATA: u32 = 2;
    pub const NVRAM: u32 = 4;
    pub const KEEP_NVRAM: u32 = 8;
    pub const CHECKPOINTS_METADATA: u32 = 16;
    pub const TPM: u32 = 32;
    pub const KEEP_TPM: u32 = 64;
}

/// What this driver acts on: exactly what the command line builder can express
/// ([`crate::command::honoured`]).
pub fn honoured() -> Honoured {
    crate::command::honoured()
}

/// Inactive XML with secrets, as stored on disk and returned by a validation.
const STORED: FormatOptions = FormatOptions {
    id: None,
    secure: true,
    inactive: true,
};

/// Gives an error that names no place a violation on what it concerns (as the test driver).
fn located(mut err: VirtError) -> VirtError {
    if err.violations.is_empty() {
        let path = match err.code {
            ErrorCode::XmlError => "/",
            ErrorCode::NoName => "/domain/name",
            _ => "/domain",
        };
        err.violations.push(Violation {
            path: path.to_string(),
            description: err.message(),
        });
    }
    err
}

fn system_error(err: impl std::fmt::Display) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Qemu, err.to_string())
}

impl QemuDriver {
    /// Parses `xml` and checks it against what the driver honours.
    pub(crate) fn parse(&self, xml: &str, validate: bool) -> DriverResult<DomainDef> {
        let def = self
            .codec
            .parse_domain(xml)
            .map_err(|e| if validate { located(e) } else { e })?;
        if def.name.contains('/') {
            let detail = format!("name '{}' cannot contain '/'", def.name);
            let mut err = VirtError::new(ErrorCode::XmlError, ErrorDomain::Domain, detail);
            err.violations.push(Violation {
                path: "/domain/name".into(),
                description: err.message(),
            });
            return Err(err);
        }
        self.codec.check_honoured(&def, &honoured())?;
        Ok(def)
    }

    pub(crate) fn define(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, VALIDATE, "qemuDomainDefineXMLFlags")?;
        let validate = flags & VALIDATE != 0;
        let def = self.parse(xml, validate)?;
        let mut st = self.lock();
        let replaces = st.check_identity(&def, validate)?;
        let text = self.codec.format_domain(&def, STORED);
        self.store.save(&def.name, &text).map_err(system_error)?;
        let autostart = replaces && st.by_uuid.get(&def.uuid).is_some_and(|d| d.autostart);
        let dom = Dom { def, autostart };
        let handle = dom.handle();
        st.insert(dom);
        let detail = if replaces {
            ev::defined::UPDATED
        } else {
            ev::defined::ADDED
        };
        self.bus
            .emit(handle.clone(), ev::payload(ev::DEFINED, detail));
        Ok(handle)
    }

    pub(crate) fn validate(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.check_flags(flags, VALIDATE, "qemuDomainDefineXMLFlags")?;
        let def = self.parse(xml, true)?;
        let replaces_existing = self.lock().check_identity(&def, true)?;
        Ok(ValidatedDomain {
            xml: self.codec.format_domain(&def, STORED),
            domain: DomainHandle {
                name: def.name.clone(),
                uuid: def.uuid,
                id: None,
            },
            replaces_existing,
        })
    }

    pub(crate) fn undefine(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<DomainHandle> {
        use undefine_flags::*;
        let all = MANAGED_SAVE
            | SNAPSHOTS_METADATA
            | NVRAM
            | KEEP_NVRAM
            | CHECKPOINTS_METADATA
            | TPM
            | KEEP_TPM;
        self.check_flags(flags, all, "qemuDomainUndefineFlags")?;
        for (a, b, an, bn) in [
            (NVRAM, KEEP_NVRAM, "NVRAM", "KEEP_NVRAM"),
            (TPM, KEEP_TPM, "TPM", "KEEP_TPM"),
        ] {
            if flags & a != 0 && flags & b != 0 {
                return Err(VirtError::new(
                    ErrorCode::InvalidArg,
                    ErrorDomain::Qemu,
                    format!(
                        "Flags 'VIR_DOMAIN_UNDEFINE_{an}' and 'VIR_DOMAIN_UNDEFINE_{bn}' are mutually exclusive"
                    ),
                ));
            }
        }
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = &st.by_uuid[&uuid];
        // Managed-save images, snapshots and checkpoints cannot exist before guests can run,
        // so their flags have nothing to remove. An NVRAM file can (copied in by the user).
        let nvram = dom
            .def
            .os
            .nvram
            .as_ref()
            .and_then(|n| n.path.clone())
            .filter(|p| std::path::Path::new(p).exists());
        if let Some(path) = &nvram {
            if flags & (NVRAM | KEEP_NVRAM) == 0 {
                return Err(
                    VirtError::operation_invalid("cannot undefine domain with nvram")
                        .with_object(&dom.def.name, uuid.to_string()),
                );
            }
            if flags & NVRAM != 0 {
                std::fs::remove_file(path)
                    .map_err(|e| system_error(format!("failed to remove nvram '{path}': {e}")))?;
            }
        }
        let name = dom.def.name.clone();
        self.store.remove(&name).map_err(system_error)?;
        let dom = st.remove(&uuid).expect("resolved above");
        let handle = dom.handle();
        self.bus.emit(
            handle.clone(),
            ev::payload(ev::UNDEFINED, ev::undefined::REMOVED),
        );
        Ok(handle)
    }

    pub(crate) fn info(&self, lookup: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        let st = self.lock();
        let d = st.get(lookup)?;
        let info = DomainInfo {
            state: d.state(),
            max_memory_kib: d.def.memory_kib,
            memory_kib: d.def.current_memory_kib,
            vcpus: d.def.current_vcpus,
            cpu_time_ns: 0,
            os_type: d.def.os.os_type.clone(),
            persistent: true,
            autostart: d.autostart,
            has_managed_save: false,
            security_labels: Vec::new(),
            updated: false,
            messages: Vec::new(),
        };
        Ok((d.handle(), info))
    }

    /// Shut-off domains: the live XML is the inactive XML (no ID, no runtime data).
    pub(crate) fn xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        // SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE.
        self.check_flags(flags, 0xf, "qemuDomainGetXMLDesc")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let opts = FormatOptions {
            id: None,
            secure: flags & 1 != 0,
            inactive: true,
        };
        Ok(self.codec.format_domain(&d.def, opts))
    }

    pub(crate) fn set_autostart_flag(&self, lookup: &DomainLookup, on: bool) -> DriverResult<()> {
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        if d.autostart != on {
            self.store
                .set_autostart(&d.def.name, on)
                .map_err(system_error)?;
            d.autostart = on;
        }
        Ok(())
    }

    /// OPERATION_INVALID "domain is not running" (nothing runs yet), or NO_DOMAIN.
    pub(crate) fn not_running(&self, lookup: &DomainLookup) -> VirtError {
        match self.lock().get(lookup) {
            Ok(d) => VirtError::operation_invalid("domain is not running")
                .with_object(&d.def.name, d.def.uuid.to_string()),
            Err(e) => e,
        }
    }

    pub(crate) fn domain_caps(
        &self,
        emulator: &str,
        arch: &str,
        machine: &str,
        virt_type: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(flags, 0, "qemuConnectGetDomainCapabilities")?;
        let invalid = |detail: String| {
            Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                detail,
            ))
        };
        let virt_type = match virt_type.to_ascii_lowercase().as_str() {
            "" if host::kvm_available() => "kvm",
            "" => "qemu",
            t @ ("qemu" | "kvm") => {
                if t == "kvm" && !host::kvm_available() {
                    return invalid("KVM is not available on this host (/dev/kvm)".into());
                }
                if t == "kvm" {
                    "kvm"
                } else {
                    "qemu"
                }
            }
            other => return invalid(format!("unknown virttype: {other}")),
        };
        let arch = if arch.is_empty() {
            host::host_arch()
        } else {
            arch.to_string()
        };
        let emulator = if emulator.is_empty() {
            match host::find_emulator(&arch) {
                Some(e) => e,
                None => {
                    return invalid(format!(
                        "unable to find any emulator to serve '{arch}' architecture"
                    ))
                }
            }
        } else if std::path::Path::new(emulator).is_file() {
            emulator.into()
        } else {
            return invalid(format!("emulator '{emulator}' does not exist"));
        };
        let machine = (!machine.is_empty()).then_some(machine);
        let caps = host::domain_capabilities(&emulator, &arch, machine, virt_type);
        Ok(self.codec.format_domain_capabilities(&caps))
    }
}
