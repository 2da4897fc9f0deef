//! Define-time rules of libvirt's QEMU driver (its `qemuValidateDomainDef` and friends) for
//! the tuning features: CPU cache modes, memory allocation with huge pages, IOThread
//! references, virtiofs's need for shared memory and the smartcard modes that cannot run
//! here. Each refusal is CONFIG_UNSUPPORTED (XML_ERROR where libvirt's parser refuses) with
//! libvirt's text and a violation naming the element.

use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::model::enums::{CpuMode, DiskBus};
use virt_core::model::DomainDef;
use virt_core::VirtError;

fn refuse(code: ErrorCode, path: &str, detail: String) -> VirtError {
    let mut e = VirtError::new(code, ErrorDomain::Qemu, detail);
    e.violations.push(Violation {
        path: path.to_string(),
        description: e.message(),
    });
    e
}

fn unsupported(path: &str, detail: String) -> VirtError {
    refuse(ErrorCode::ConfigUnsupported, path, detail)
}

/// Every rule, in libvirt's order.
pub(crate) fn check(def: &DomainDef) -> Result<(), VirtError> {
    cpu_cache(def)?;
    memory_allocation(def)?;
    iothreads(def)?;
    virtiofs(def)?;
    smartcards(def)
}

/// Only `passthrough` cards run here: `host` and `host-certificates` need QEMU's NSS card
/// emulation (`ccid-card-emulated`) and the host's readers or certificate database.
fn smartcards(def: &DomainDef) -> Result<(), VirtError> {
    if def.devices.smartcards.len() > 1 {
        return Err(unsupported(
            "/domain/devices/smartcard[2]",
            "this QEMU binary lacks multiple smartcard support".into(),
        ));
    }
    for (i, s) in def.devices.smartcards.iter().enumerate() {
        let path = format!("/domain/devices/smartcard[{}]/@mode", i + 1);
        let why = match s.mode.as_str() {
            "host" => "it needs the host's smartcard readers through NSS",
            "host-certificates" => "it needs an NSS certificate database on the host",
            _ => continue,
        };
        return Err(unsupported(
            &path,
            format!(
                "smartcard mode '{}' is not supported by virtqemud: {why}, which QEMU's \
                 emulated card reads; use <smartcard mode='passthrough' type='spicevmc'/> \
                 with SPICE graphics",
                s.mode
            ),
        ));
    }
    Ok(())
}

fn cpu_cache(def: &DomainDef) -> Result<(), VirtError> {
    let Some(cpu) = &def.cpu else { return Ok(()) };
    let Some(cache) = &cpu.cache else {
        return Ok(());
    };
    let path = "/domain/cpu/cache";
    match cache.mode.as_str() {
        "passthrough" => {
            if !matches!(cpu.mode, Some(CpuMode::HostPassthrough | CpuMode::Maximum)) {
                return Err(unsupported(
                    path,
                    "CPU cache mode 'passthrough' can only be used with 'host-passthrough' / \
                     'maximum' CPUs"
                        .into(),
                ));
            }
            if cache.level.is_some() {
                return Err(unsupported(
                    path,
                    "unsupported CPU cache level for mode 'passthrough'".into(),
                ));
            }
        }
        "emulate" if cache.level != Some(3) => {
            return Err(unsupported(
                path,
                "CPU cache mode 'emulate' can only be used with level='3'".into(),
            ))
        }
        "disable" if cache.level.is_some() => {
            return Err(unsupported(
                path,
                "unsupported CPU cache level for mode 'disable'".into(),
            ))
        }
        _ => {}
    }
    Ok(())
}

fn memory_allocation(def: &DomainDef) -> Result<(), VirtError> {
    let m = &def.memory_backing;
    if m.hugepages && m.allocation_mode.as_deref() == Some("ondemand") {
        return Err(unsupported(
            "/domain/memoryBacking/allocation/@mode",
            "hugepages are not allowed with memory allocation ondemand".into(),
        ));
    }
    Ok(())
}

fn iothreads(def: &DomainDef) -> Result<(), VirtError> {
    let ids = def.iothread_id_list();
    for (i, d) in def.devices.disks.iter().enumerate() {
        let Some(t) = d.driver.as_ref().and_then(|d| d.iothread) else {
            continue;
        };
        let path = format!("/domain/devices/disk[{}]/driver/@iothread", i + 1);
        let bus = d.target_bus.unwrap_or(DiskBus::Virtio);
        if bus != DiskBus::Virtio {
            return Err(unsupported(
                &path,
                format!(
                    "IOThreads not available for bus {bus} target {}",
                    d.target_dev
                ),
            ));
        }
        if !ids.contains(&t) {
            return Err(unsupported(
                &path,
                format!("Disk iothread '{t}' not defined in iothreadid"),
            ));
        }
    }
    for (i, c) in def.devices.controllers.iter().enumerate() {
        let Some(t) = c.driver_iothread else { continue };
        let path = format!("/domain/devices/controller[{}]/driver/@iothread", i + 1);
        let virtio = matches!(
            c.model.as_deref(),
            None | Some("virtio-scsi" | "virtio-transitional" | "virtio-non-transitional")
        );
        if !virtio {
            return Err(refuse(
                ErrorCode::XmlError,
                &path,
                "'iothread' attribute only supported for virtio scsi controllers".into(),
            ));
        }
        if !ids.contains(&t) {
            return Err(unsupported(
                &path,
                format!("controller iothread '{t}' not defined in iothreadid"),
            ));
        }
    }
    Ok(())
}

fn virtiofs(def: &DomainDef) -> Result<(), VirtError> {
    let shared = def.memory_backing.access_mode.as_deref() == Some("shared");
    for (i, fs) in def.devices.filesystems.iter().enumerate() {
        if fs.driver_type.as_deref() != Some("virtiofs") {
            return Err(unsupported(
                &format!("/domain/devices/filesystem[{}]/driver/@type", i + 1),
                format!(
                    "filesystem driver '{}' (9p) is not supported by virtqemud; use \
                     <driver type='virtiofs'/> with shared memory",
                    fs.driver_type.as_deref().unwrap_or("path")
                ),
            ));
        }
        if !shared {
            return Err(unsupported(
                &format!("/domain/devices/filesystem[{}]/driver/@type", i + 1),
                "'virtiofs' requires shared memory".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_xml(top: &str, devices: &str) -> Result<(), VirtError> {
        let def = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>g</name><memory unit='MiB'>128</memory>{top}\
             <os><type>hvm</type></os><devices>{devices}</devices></domain>"
        ))
        .expect("parses");
        check(&def)
    }

    fn refused(top: &str, devices: &str) -> (String, String) {
        let e = check_xml(top, devices).expect_err("refused");
        (e.detail.clone(), e.violations[0].path.clone())
    }

    #[test]
    fn cache_modes_follow_libvirts_rules() {
        check_xml("<cpu mode='maximum'><cache mode='passthrough'/></cpu>", "").expect("max");
        check_xml(
            "<cpu><model>qemu64</model><cache level='3' mode='emulate'/></cpu>",
            "",
        )
        .expect("emulate");
        let (msg, path) = refused(
            "<cpu><model>qemu64</model><cache mode='passthrough'/></cpu>",
            "",
        );
        assert!(msg.starts_with("CPU cache mode 'passthrough' can only be used"));
        assert_eq!(path, "/domain/cpu/cache");
        let (msg, _) = refused("<cpu mode='maximum'><cache mode='emulate'/></cpu>", "");
        assert_eq!(
            msg,
            "CPU cache mode 'emulate' can only be used with level='3'"
        );
        let (msg, _) = refused(
            "<cpu mode='maximum'><cache level='3' mode='disable'/></cpu>",
            "",
        );
        assert_eq!(msg, "unsupported CPU cache level for mode 'disable'");
    }

    #[test]
    fn iothread_references_must_exist_and_fit_the_device() {
        let disk = |bus: &str, t: u32| {
            format!(
                "<disk type='file'><driver name='qemu' iothread='{t}'/>\
                 <source file='/d'/><target dev='vda' bus='{bus}'/></disk>"
            )
        };
        check_xml("<iothreads>2</iothreads>", &disk("virtio", 2)).expect("iothread 2");
        let (msg, path) = refused("<iothreads>1</iothreads>", &disk("virtio", 3));
        assert_eq!(msg, "Disk iothread '3' not defined in iothreadid");
        assert_eq!(path, "/domain/devices/disk[1]/driver/@iothread");
        let (msg, _) = refused("<iothreads>1</iothreads>", &disk("sata", 1));
        assert_eq!(msg, "IOThreads not available for bus sata target vda");
        let (msg, _) = refused(
            "<iothreads>1</iothreads>",
            "<controller type='scsi' model='virtio-scsi'><driver iothread='4'/></controller>",
        );
        assert_eq!(msg, "controller iothread '4' not defined in iothreadid");
        let (msg, _) = refused(
            "<iothreads>1</iothreads>",
            "<controller type='scsi' model='lsilogic'><driver iothread='1'/></controller>",
        );
        assert_eq!(
            msg,
            "'iothread' attribute only supported for virtio scsi controllers"
        );
        check_xml(
            "<iothreads>1</iothreads><iothreadids><iothread id='7'/></iothreadids>",
            &disk("virtio", 7),
        )
        .expect("an explicit id");
    }

    #[test]
    fn only_passthrough_smartcards_are_admitted() {
        check_xml("", "<smartcard mode='passthrough' type='spicevmc'/>").expect("passthrough");
        let (msg, path) = refused("", "<smartcard mode='host'/>");
        assert!(
            msg.contains("smartcard mode 'host' is not supported"),
            "{msg}"
        );
        assert!(msg.contains("NSS"));
        assert_eq!(path, "/domain/devices/smartcard[1]/@mode");
        let two = "<smartcard mode='passthrough' type='spicevmc'/>\
                   <smartcard mode='passthrough' type='spicevmc'/>";
        let (msg, _) = refused("", two);
        assert_eq!(msg, "this QEMU binary lacks multiple smartcard support");
    }

    #[test]
    fn virtiofs_needs_shared_memory_and_ondemand_excludes_hugepages() {
        let fs = "<filesystem><driver type='virtiofs'/><source dir='/s'/><target dir='t'/>\
                  </filesystem>";
        let (msg, path) = refused("<memoryBacking><source type='memfd'/></memoryBacking>", fs);
        assert_eq!(msg, "'virtiofs' requires shared memory");
        assert_eq!(path, "/domain/devices/filesystem[1]/driver/@type");
        check_xml(
            "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>",
            fs,
        )
        .expect("shared memfd");
        let (msg, _) = refused(
            "<memoryBacking><hugepages/><allocation mode='ondemand'/></memoryBacking>",
            "",
        );
        assert_eq!(
            msg,
            "hugepages are not allowed with memory allocation ondemand"
        );
    }
}
