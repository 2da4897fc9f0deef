//! The rest of Domain Management (issue 15) in the QEMU driver: the title, description and
//! metadata elements of the live and persistent definitions (with METADATA_CHANGE events),
//! renaming a shut-off persistent domain, and the domain XML inside save images (plain and
//! managed), rewritten atomically after libvirt's ABI-stability checks.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::events::lifecycle as ev;
use virt_core::kit;
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::save::{PAUSED, RUNNING};
use virt_core::kit::table::Entry as _;
use virt_core::model::DomainDef;
use virt_core::proto::domain_event::Payload;
use virt_core::types::{DomainHandle, DomainLookup};
use virt_core::xml::FormatOptions;
use virt_core::VirtError;

use crate::definitions::STORED;
use crate::QemuDriver;

/// VIR_DOMAIN_SAVE_IMAGE_XML_SECURE.
const SAVE_IMAGE_XML_SECURE: u32 = 1;

fn err(code: ErrorCode, detail: impl Into<String>) -> VirtError {
    VirtError::new(code, ErrorDomain::Qemu, detail.into())
}

fn io_words(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// libvirt's virDomainDefCheckABIStability for what a save image's definition may not change:
/// the guest it restores into must look the same to the guest (virt type, identity, memory,
/// vCPUs, its disks and NICs).
pub(crate) fn check_abi(src: &DomainDef, dst: &DomainDef) -> DriverResult<()> {
    let bad = |detail: String| Err(err(ErrorCode::ConfigUnsupported, detail));
    if src.virt_type != dst.virt_type {
        return bad(format!(
            "Target domain virt type {} does not match source {}",
            dst.virt_type, src.virt_type
        ));
    }
    if src.uuid != dst.uuid {
        return bad(format!(
            "Target domain uuid {} does not match source {}",
            dst.uuid, src.uuid
        ));
    }
    if src.name != dst.name {
        return bad(format!(
            "Target domain name '{}' does not match source '{}'",
            dst.name, src.name
        ));
    }
    if src.memory_kib != dst.memory_kib {
        return bad(format!(
            "Target domain max memory {} does not match source {}",
            dst.memory_kib, src.memory_kib
        ));
    }
    if src.vcpus != dst.vcpus {
        return bad(format!(
            "Target domain vCPU max {} does not match source {}",
            dst.vcpus, src.vcpus
        ));
    }
    let (sd, dd) = (&src.devices.disks, &dst.devices.disks);
    if sd.len() != dd.len() {
        return bad(format!(
            "Target domain disk count {} does not match source {}",
            dd.len(),
            sd.len()
        ));
    }
    for (s, d) in sd.iter().zip(dd) {
        if s.device != d.device {
            return bad(format!(
                "Target disk device {} does not match source {}",
                d.device, s.device
            ));
        }
        if s.target_dev != d.target_dev {
            return bad(format!(
                "Target disk {} does not match source {}",
                d.target_dev, s.target_dev
            ));
        }
        if s.target_bus != d.target_bus {
            let name = |b: &Option<virt_core::model::enums::DiskBus>| {
                b.as_ref().map(ToString::to_string).unwrap_or_default()
            };
            return bad(format!(
                "Target disk bus {} does not match source {}",
                name(&d.target_bus),
                name(&s.target_bus)
            ));
        }
    }
    let (sn, dn) = (&src.devices.interfaces, &dst.devices.interfaces);
    if sn.len() != dn.len() {
        return bad(format!(
            "Target domain net card count {} does not match source {}",
            dn.len(),
            sn.len()
        ));
    }
    for (s, d) in sn.iter().zip(dn) {
        if s.mac.is_some() && d.mac.is_some() && s.mac != d.mac {
            return bad(format!(
                "Target network card mac {} does not match source {}",
                d.mac.clone().unwrap_or_default(),
                s.mac.clone().unwrap_or_default()
            ));
        }
        if s.model != d.model {
            return bad(format!(
                "Target network card model {} does not match source {}",
                d.model.clone().unwrap_or_default(),
                s.model.clone().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

impl QemuDriver {
    /// libvirt: virDomainGetMetadata (the live definition of a running domain unless CONFIG).
    pub(crate) fn qemu_metadata(
        &self,
        lookup: &DomainLookup,
        kind: i32,
        uri: &str,
        flags: u32,
    ) -> DriverResult<String> {
        kit::metadata::check_get_args(kind, uri)?;
        self.check_flags(flags, LIVE | CONFIG, "virDomainObjGetMetadata")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = kit::modify::impact_read(&d.facts(), flags)?;
        let def = match (&d.run, live) {
            (Some(r), true) => &r.live,
            _ => &d.def,
        };
        kit::metadata::get(def, kind, uri, self.codec.as_ref())
    }

    /// libvirt: virDomainSetMetadata: the live definition (status file) and/or the stored
    /// one (disk before memory), then METADATA_CHANGE.
    pub(crate) fn qemu_set_metadata(
        &self,
        lookup: &DomainLookup,
        kind: i32,
        metadata: Option<&str>,
        key: &str,
        uri: &str,
        flags: u32,
    ) -> DriverResult<()> {
        kit::metadata::check_set_args(kind, metadata, key, uri)?;
        self.check_flags(flags, LIVE | CONFIG, "virDomainObjSetMetadata")?;
        let mut st = self.lock();
        let d = st.get_mut(lookup)?;
        let impact = kit::modify::impact(&d.facts(), flags)?;
        let codec = self.codec.as_ref();
        // Both definitions are changed in copies first, so a bad element changes neither.
        let live = match (&d.run, impact.live) {
            (Some(r), true) => {
                let mut def = r.live.clone();
                kit::metadata::set(&mut def, kind, metadata, key, uri, codec)?;
                Some(def)
            }
            _ => None,
        };
        let config = if impact.config {
            let mut def = d.def.clone();
            kit::metadata::set(&mut def, kind, metadata, key, uri, codec)?;
            Some(def)
        } else {
            None
        };
        if let Some(def) = config {
            let text = codec.format_domain(&def, STORED);
            self.store
                .save(&def.name, &text)
                .map_err(|e| err(ErrorCode::SystemError, e.to_string()))?;
            d.def = def;
        }
        if let Some(def) = live {
            if !d.persistent {
                // A transient domain's only definition is its live one.
                d.def = def.clone();
            }
            if let Some(r) = d.run.as_mut() {
                r.live = def;
            }
            self.save_status(d);
        }
        self.bus.emit(
            d.handle(),
            Payload::MetadataChange(virt_core::proto::MetadataChangeEvent {
                r#type: kind,
                nsuri: uri.to_string(),
            }),
        );
        Ok(())
    }

    /// libvirt: virDomainRename: a shut-off persistent domain without a managed-save image
    /// or snapshots gets the new name; its stored definition (and autostart link) move
    /// atomically (the new file is written before the old goes), and an NVRAM file at the
    /// default path of its name follows it. UNDEFINED / RENAMED, then DEFINED / RENAMED.
    pub(crate) fn qemu_rename(
        &self,
        lookup: &DomainLookup,
        new_name: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        if new_name.is_empty() {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Domain,
                "new_name in virDomainRename must not be NULL",
            ));
        }
        self.check_flags(flags, 0, "qemuDomainRename")?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let d = &st.by_uuid[&uuid];
        let invalid = |m: String| Err(VirtError::operation_invalid(m));
        if d.is_active() {
            return invalid("cannot rename active domain".into());
        }
        if !d.persistent {
            return invalid("cannot rename a transient domain".into());
        }
        if d.managed_save {
            return invalid("domain with a managed saved state can't be renamed".into());
        }
        if !d.snapshots.is_empty() {
            return invalid("cannot rename domain with snapshots".into());
        }
        if d.def.name == new_name {
            return invalid("Can't rename domain to itself".into());
        }
        if st.by_name.contains_key(new_name) {
            return invalid(format!("domain with name '{new_name}' already exists"));
        }
        if new_name.contains('/') {
            return Err(VirtError::new(
                ErrorCode::XmlError,
                ErrorDomain::Domain,
                format!("name {new_name} cannot contain '/'"),
            ));
        }
        let old_name = d.def.name.clone();
        let autostart = d.autostart;
        let old_handle = d.handle();
        let mut def = d.def.clone();
        def.name = new_name.to_string();
        let sys = |e: virt_core::kit::store::StoreError| err(ErrorCode::SystemError, e.to_string());
        let text = self.codec.format_domain(&def, STORED);
        self.store.save(new_name, &text).map_err(sys)?;
        if autostart {
            if let Err(e) = self.store.set_autostart(new_name, true) {
                let _ = self.store.remove(new_name);
                return Err(sys(e));
            }
        }
        if let Err(e) = self.store.remove(&old_name) {
            let _ = self.store.remove(new_name);
            return Err(sys(e));
        }
        // An NVRAM file named after the domain (no explicit path) follows the name.
        let explicit = def.os.nvram.as_ref().is_some_and(|n| n.path.is_some());
        if !explicit {
            let mut old_def = def.clone();
            old_def.name = old_name.clone();
            let from = crate::firmware::nvram::path_of(&old_def, &self.nvram_dir);
            let to = crate::firmware::nvram::path_of(&def, &self.nvram_dir);
            if let (Some(from), Some(to)) = (from.filter(|p| p.exists()), to) {
                if let Err(e) = std::fs::rename(&from, &to) {
                    tracing::warn!(from = %from.display(), error = %e, "cannot move the NVRAM file");
                }
            }
        }
        let mut dom = st.remove(&uuid).expect("resolved");
        dom.def = def;
        let handle = dom.handle();
        st.insert(dom);
        drop(st);
        self.bus.emit(
            old_handle,
            ev::payload(ev::UNDEFINED, ev::undefined::RENAMED),
        );
        self.bus.emit(
            handle.clone(),
            ev::payload(ev::DEFINED, ev::defined::RENAMED),
        );
        Ok(handle)
    }

    /// The definition in the save image at `path`, formatted as libvirt returns it.
    fn image_xml_of(&self, path: &Path, flags: u32) -> DriverResult<String> {
        let image = super::save::open_image(path)?;
        let def = self.parse_live(&image.xml)?;
        Ok(self.codec.format_domain(
            &def,
            FormatOptions {
                id: None,
                secure: flags & SAVE_IMAGE_XML_SECURE != 0,
                inactive: true,
            },
        ))
    }

    /// Replaces the definition in the save image at `path` with `xml` (and its running or
    /// paused mark as `flags` say), refusing a definition the saved guest could not restore
    /// into. The image is rewritten beside itself and renamed over it.
    fn define_image_xml(&self, path: &Path, xml: &str, flags: u32) -> DriverResult<()> {
        let image = super::save::open_image(path)?;
        let old = self.parse_live(&image.xml)?;
        let new = self.parse(xml, false)?;
        check_abi(&old, &new)?;
        let running = !kit::save::ends_paused(flags, !image.was_running)?;
        let text = self.codec.format_domain(
            &new,
            FormatOptions {
                id: None,
                secure: true,
                inactive: true,
            },
        );
        let mut file = image.file;
        let stream_at = file
            .stream_position()
            .map_err(|e| err(ErrorCode::SystemError, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.new"));
        let write_err = |e: std::io::Error| {
            err(
                ErrorCode::SystemError,
                format!("failed to write '{}': {}", path.display(), io_words(&e)),
            )
        };
        let result = (|| -> std::io::Result<()> {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut data = text.into_bytes();
            data.push(0);
            out.write_all(&super::save::complete_header(data.len() as u32, running))?;
            out.write_all(&data)?;
            file.seek(SeekFrom::Start(stream_at))?;
            let mut rest = (&mut file).take(u64::MAX);
            std::io::copy(&mut rest, &mut out)?;
            out.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            write_err(e)
        })
    }

    /// libvirt: virDomainSaveImageGetXMLDesc.
    pub(crate) fn qemu_save_image_xml(&self, path: &str, flags: u32) -> DriverResult<String> {
        self.check_flags(
            flags,
            SAVE_IMAGE_XML_SECURE,
            "qemuDomainSaveImageGetXMLDesc",
        )?;
        self.image_xml_of(Path::new(path), flags)
    }

    /// libvirt: virDomainSaveImageDefineXML.
    pub(crate) fn qemu_define_save_image_xml(
        &self,
        path: &str,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, RUNNING | PAUSED, "qemuDomainSaveImageDefineXML")?;
        self.define_image_xml(Path::new(path), xml, flags)
    }

    /// The managed-save image of `lookup`; OPERATION_INVALID without one.
    fn managed_image(&self, lookup: &DomainLookup) -> DriverResult<std::path::PathBuf> {
        let st = self.lock();
        let d = st.get(lookup)?;
        let path = self.managed_save_path(&d.def.name);
        if !d.managed_save || !path.is_file() {
            return Err(VirtError::operation_invalid(
                "domain does not have managed save image",
            ));
        }
        Ok(path)
    }

    /// libvirt: virDomainManagedSaveGetXMLDesc.
    pub(crate) fn qemu_managed_save_xml(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<String> {
        self.check_flags(
            flags,
            SAVE_IMAGE_XML_SECURE,
            "qemuDomainManagedSaveGetXMLDesc",
        )?;
        let path = self.managed_image(lookup)?;
        self.image_xml_of(&path, flags)
    }

    /// libvirt: virDomainManagedSaveDefineXML.
    pub(crate) async fn qemu_define_managed_save_xml(
        &self,
        lookup: &DomainLookup,
        xml: &str,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, RUNNING | PAUSED, "qemuDomainManagedSaveDefineXML")?;
        // The domain's job keeps a start from restoring the image while it is rewritten.
        let (_job, uuid) = self.job(lookup, "virDomainManagedSaveDefineXML").await?;
        let path = self.managed_image(&DomainLookup::Uuid(uuid))?;
        self.define_image_xml(&path, xml, flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(xml: &str) -> DomainDef {
        virt_xml::parse_domain(xml).expect("domain xml")
    }

    const BASE: &str = "<domain type='qemu'><name>a</name>\
        <uuid>7e570000-0000-4000-8000-00000000cc01</uuid>\
        <memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os>\
        <devices><disk type='file' device='disk'><source file='/x'/>\
        <target dev='vda' bus='virtio'/></disk></devices></domain>";

    #[test]
    fn abi_check_allows_a_description_and_refuses_memory_and_disks() {
        let src = def(BASE);
        let with_desc = def(&BASE.replace(
            "<name>a</name>",
            "<name>a</name><description>d</description>",
        ));
        check_abi(&src, &with_desc).expect("a description changes no ABI");
        let more = def(&BASE.replace("128", "256"));
        let e = check_abi(&src, &more).expect_err("memory");
        assert_eq!(
            e.message(),
            "unsupported configuration: Target domain max memory 262144 does not match source 131072"
        );
        let renamed = def(&BASE.replace("<name>a</name>", "<name>b</name>"));
        assert!(check_abi(&src, &renamed).is_err());
        let other_disk = def(&BASE.replace("dev='vda'", "dev='vdb'"));
        let e = check_abi(&src, &other_disk).expect_err("disk target");
        assert!(
            e.message()
                .contains("Target disk vdb does not match source vda"),
            "{}",
            e.message()
        );
    }
}
