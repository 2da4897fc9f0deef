//! Test driver: the rest of Domain Management (issue 15) as libvirt 9.0's test driver has it:
//! title, description and metadata elements, rename, the XML of a save image, core dumps,
//! disk size facts and balloon statistics.

use super::save::{io_words, system_error, MAGIC};
use super::state::Dom;
use super::TestDriver;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::events::lifecycle as ev;
use crate::kit;
use crate::kit::flags::modify::{CONFIG, LIVE};
use crate::kit::flags::save::{PAUSED, RUNNING};
use crate::state::reason;
use crate::types::{DomainHandle, DomainLookup};
use crate::xml::FormatOptions;
use crate::VirtError;

/// VIR_DOMAIN_SAVE_IMAGE_XML_SECURE.
const SAVE_IMAGE_XML_SECURE: u32 = 1;
/// VIR_DUMP_CRASH.
const DUMP_CRASH: u32 = 1;
/// VIR_DOMAIN_CORE_DUMP_FORMAT_RAW.
const DUMP_FORMAT_RAW: u32 = 0;
/// libvirt's test driver reports every disk as one TiB, 5 MiB of it not usable.
const DISK_CAPACITY: u64 = 1_099_506_450_432;
const DISK_PHYSICAL: u64 = 1_099_511_627_776;
/// The fixed LAST_UPDATE stamp of libvirt's test driver's balloon statistics.
const LAST_UPDATE: u64 = 627_319_920;

/// virDomainMemoryStatTags.
mod tag {
    pub const SWAP_IN: i32 = 0;
    pub const SWAP_OUT: i32 = 1;
    pub const MAJOR_FAULT: i32 = 2;
    pub const MINOR_FAULT: i32 = 3;
    pub const UNUSED: i32 = 4;
    pub const AVAILABLE: i32 = 5;
    pub const ACTUAL_BALLOON: i32 = 6;
    pub const RSS: i32 = 7;
    pub const USABLE: i32 = 8;
    pub const LAST_UPDATE: i32 = 9;
    pub const DISK_CACHES: i32 = 10;
    pub const HUGETLB_PGALLOC: i32 = 11;
    pub const HUGETLB_PGFAIL: i32 = 12;
}

/// The definitions a LIVE / CONFIG change touches; the first live-only change of a running
/// persistent domain splits off its next-boot definition, as libvirt keeps two.
fn defs_for_change(dom: &mut Dom, live: bool, config: bool) -> Vec<&mut crate::model::DomainDef> {
    if dom.is_active() && dom.persistent && dom.next_def.is_none() {
        dom.next_def = Some(dom.def.clone());
    }
    let Dom { def, next_def, .. } = dom;
    let mut out = Vec::new();
    if live {
        out.push(def);
    } else if config && next_def.is_none() {
        // Inactive: the one definition is the persistent one.
        out.push(def);
        return out;
    }
    if config {
        if let Some(n) = next_def.as_mut() {
            out.push(n);
        }
    }
    out
}

impl TestDriver {
    pub(super) fn get_metadata(
        &self,
        lookup: &DomainLookup,
        kind: i32,
        uri: &str,
        flags: u32,
    ) -> DriverResult<String> {
        kit::metadata::check_get_args(kind, uri)?;
        self.check_flags(flags, LIVE | CONFIG, "virDomainObjGetMetadata")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let live = kit::modify::impact_read(&dom.facts(), flags)?;
        let def = if live { &dom.def } else { dom.persistent_def() };
        kit::metadata::get(def, kind, uri, self.codec.as_ref())
    }

    pub(super) fn change_metadata(
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
        let dom = st.get_mut(lookup)?;
        let impact = kit::modify::impact(&dom.facts(), flags)?;
        // Check the new element once before touching any definition.
        let mut scratch = dom.def.clone();
        kit::metadata::set(&mut scratch, kind, metadata, key, uri, self.codec.as_ref())?;
        for def in defs_for_change(dom, impact.live, impact.config) {
            kit::metadata::set(def, kind, metadata, key, uri, self.codec.as_ref())?;
        }
        Ok(())
    }

    pub(super) fn rename(
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
        self.check_flags(flags, 0, "testDomainRename")?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = &st.domains[&uuid];
        if dom.is_active() {
            return Err(VirtError::operation_invalid("cannot rename active domain"));
        }
        if !dom.persistent {
            return Err(VirtError::operation_invalid(
                "cannot rename a transient domain",
            ));
        }
        if dom.def.name == new_name {
            return Err(VirtError::operation_invalid(
                "Can't rename domain to itself",
            ));
        }
        if st.by_name.contains_key(new_name) {
            return Err(VirtError::operation_invalid(format!(
                "domain with name '{new_name}' already exists"
            )));
        }
        let old = dom.handle();
        let mut dom = st.remove(&uuid).expect("resolved");
        dom.def.name = new_name.to_string();
        if let Some(n) = dom.next_def.as_mut() {
            n.name = new_name.to_string();
        }
        let h = dom.handle();
        st.insert(dom);
        drop(st);
        self.lifecycle(old, ev::UNDEFINED, ev::undefined::RENAMED);
        self.lifecycle(h.clone(), ev::DEFINED, ev::defined::RENAMED);
        Ok(h)
    }

    /// Reads a save image: (paused, XML).
    fn read_image(path: &str) -> DriverResult<(bool, String)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            system_error(format!(
                "cannot read domain image '{path}': {}",
                io_words(&e)
            ))
        })?;
        let mut parts = text.splitn(3, '\n');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(MAGIC), Some(paused), Some(xml)) => Ok((paused == "1", xml.to_string())),
            _ => Err(VirtError::internal(
                ErrorDomain::Test,
                "mismatched header magic",
            )),
        }
    }

    pub(super) fn image_xml(&self, path: &str, flags: u32) -> DriverResult<String> {
        self.check_flags(
            flags,
            SAVE_IMAGE_XML_SECURE,
            "testDomainSaveImageGetXMLDesc",
        )?;
        let (_, xml) = Self::read_image(path)?;
        let def = self.codec.parse_domain(&xml)?;
        Ok(self.codec.format_domain(
            &def,
            FormatOptions {
                inactive: true,
                secure: flags & SAVE_IMAGE_XML_SECURE != 0,
                id: None,
            },
        ))
    }

    pub(super) fn define_image_xml(&self, path: &str, xml: &str, flags: u32) -> DriverResult<()> {
        self.check_flags(flags, RUNNING | PAUSED, "testDomainSaveImageDefineXML")?;
        let (paused, _) = Self::read_image(path)?;
        let paused = kit::save::ends_paused(flags, paused)?;
        let def = self.codec.parse_domain(xml)?;
        let body = format!(
            "{MAGIC}\n{}\n{}",
            u8::from(paused),
            self.codec.format_domain(
                &def,
                FormatOptions {
                    inactive: true,
                    secure: true,
                    id: None
                }
            )
        );
        crate::fsutil::write_atomic(std::path::Path::new(path), body.as_bytes(), 0o600)
            .map_err(|e| system_error(format!("failed to write '{path}': {}", io_words(&e))))
    }

    pub(super) fn dump_core(
        &self,
        lookup: &DomainLookup,
        path: &str,
        format: u32,
        flags: u32,
    ) -> DriverResult<()> {
        // libvirt's API layer first: CRASH, LIVE and RESET exclude one another.
        kit::save::dump_flags(flags)?;
        self.check_flags(flags, DUMP_CRASH, "testDomainCoreDumpWithFormat")?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = &st.domains[&uuid];
        dom.require_active()?;
        let name = dom.def.name.clone();
        std::fs::write(path, format!("{MAGIC}\n")).map_err(|e| {
            system_error(format!(
                "domain '{name}' coredump: failed to open {path}: {}",
                io_words(&e)
            ))
        })?;
        if format != DUMP_FORMAT_RAW {
            return Err(VirtError::new(
                ErrorCode::OperationUnsupported,
                ErrorDomain::Test,
                "kdump-compressed format is not supported here",
            ));
        }
        if flags & DUMP_CRASH != 0 {
            self.stop(
                &mut st,
                &uuid,
                reason::shutoff::CRASHED,
                ev::stopped::CRASHED,
            );
        }
        Ok(())
    }

    pub(super) fn disk_info(
        &self,
        lookup: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<(u64, u64, u64)> {
        self.check_flags(flags, 0, "testDomainGetBlockInfo")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        if kit::devices::disk_index(&dom.def, disk).is_none() {
            return Err(VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Test,
                format!("invalid path {disk} not assigned to domain"),
            ));
        }
        Ok((DISK_CAPACITY, DISK_PHYSICAL, DISK_PHYSICAL))
    }

    /// libvirt's testDomainSetMemoryStatsPeriod: the one definition the flags name
    /// (virDomainObjGetOneDef) gets the period; INTERNAL_ERROR without a balloon.
    pub(super) fn stats_period(
        &self,
        lookup: &DomainLookup,
        period: i32,
        flags: u32,
    ) -> DriverResult<()> {
        kit::stats::check_stats_period(period)?;
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetMemoryStatsPeriod")?;
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let live = kit::modify::impact_read(&dom.facts(), flags)?;
        let has_balloon = |def: &crate::model::DomainDef| {
            def.devices
                .memballoon
                .as_ref()
                .is_some_and(|b| b.model != crate::model::enums::MemballoonModel::None)
        };
        let target = match &dom.next_def {
            Some(next) if !live => next,
            _ => &dom.def,
        };
        if !has_balloon(target) {
            return Err(VirtError::internal(
                ErrorDomain::Test,
                "No memory balloon device configured, can not set the collection period",
            ));
        }
        for def in defs_for_change(dom, live, !live) {
            if let Some(b) = def.devices.memballoon.as_mut() {
                b.stats_period = kit::stats::stats_period_of(period);
            }
        }
        Ok(())
    }

    pub(super) fn balloon_stats(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<(i32, u64)>> {
        self.check_flags(flags, 0, "testDomainMemoryStats")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        dom.require_active()?;
        let cur = dom.def.current_memory_kib;
        Ok(vec![
            (tag::ACTUAL_BALLOON, cur),
            (tag::SWAP_IN, 0),
            (tag::SWAP_OUT, 0),
            (tag::MAJOR_FAULT, 0),
            (tag::MINOR_FAULT, 0),
            (tag::UNUSED, cur / 2),
            (tag::AVAILABLE, cur),
            (tag::USABLE, cur / 2),
            (tag::LAST_UPDATE, LAST_UPDATE),
            (tag::DISK_CACHES, cur / 8),
            (tag::HUGETLB_PGALLOC, 0),
            (tag::HUGETLB_PGFAIL, 0),
            (tag::RSS, cur / 2),
        ])
    }
}
