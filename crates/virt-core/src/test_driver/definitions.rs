//! Test driver definitions: lookup, list, define, validate, undefine, info, state, XML and
//! autostart (the `Definitions` capability).

use super::state::Dom;
use super::validate::{check_identity_located, VALIDATE};
use super::TestDriver;
use crate::driver::prelude::*;
use crate::driver::{DriverResult, ValidatedDomain};
use crate::events::lifecycle as ev;
use crate::kit;
use crate::kit::flags::undefine::{MANAGED_SAVE, SNAPSHOTS_METADATA};
use crate::kit::flags::xml::{INACTIVE, MIGRATABLE, SECURE};
use crate::state::StateReason;
use crate::types::{DomainHandle, DomainInfo, DomainLookup, DomainSummary, SecurityLabel};
use crate::xml::FormatOptions;
use crate::{ErrorDomain, VirtError};

fn summary(d: &Dom) -> DomainSummary {
    DomainSummary {
        handle: d.handle(),
        state: d.state,
        persistent: d.persistent,
        autostart: d.autostart,
        has_managed_save: d.managed_save.is_some(),
        title: d.def.title.clone().unwrap_or_default(),
    }
}

fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl TestDriver {
    /// Domains in libvirt's listing order: active by ID, then inactive by name.
    pub(crate) fn ordered<'a>(&self, st: &'a super::state::State) -> Vec<&'a Dom> {
        let mut out: Vec<&Dom> = st.by_id.values().map(|u| &st.domains[u]).collect();
        let mut inactive: Vec<&Dom> = st.domains.values().filter(|d| d.id.is_none()).collect();
        inactive.sort_by(|a, b| a.def.name.cmp(&b.def.name));
        out.extend(inactive);
        out
    }
}

#[async_trait::async_trait]
impl Definitions for TestDriver {
    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(lookup)?.handle())
    }

    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(flags, kit::flags::list::ALL, "testConnectListAllDomains")?;
        let st = self.lock();
        Ok(self
            .ordered(&st)
            .into_iter()
            .filter(|d| kit::list::matches(&d.facts(), flags))
            .map(summary)
            .collect())
    }

    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, VALIDATE, "testDomainDefineXMLFlags")?;
        // VALIDATE fails exactly as ValidateDomain does: every problem located by XPath.
        let validate = flags & VALIDATE != 0;
        let mut def = if validate {
            self.parse_validated(xml)?
        } else {
            self.codec.parse_domain(xml)?
        };
        super::guest::assign_ifnames(&mut def);
        let mut st = self.lock();
        let existing = if validate {
            check_identity_located(&st, &def)?
        } else {
            st.check_identity(&def)?
        };
        let handle = match existing {
            Some(uuid) => {
                let dom = st.domains.get_mut(&uuid).expect("identity check found it");
                let detail = if dom.persistent {
                    ev::defined::UPDATED
                } else {
                    ev::defined::ADDED
                };
                dom.persistent = true;
                if dom.is_active() {
                    dom.next_def = Some(def);
                } else {
                    dom.def = def;
                }
                let h = dom.handle();
                self.lifecycle(h.clone(), ev::DEFINED, detail);
                h
            }
            None => {
                let dom = Dom::new(def, true);
                let h = dom.handle();
                st.insert(dom);
                self.lifecycle(h.clone(), ev::DEFINED, ev::defined::ADDED);
                h
            }
        };
        Ok(handle)
    }

    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.check_flags(flags, VALIDATE, "testDomainDefineXMLFlags")?;
        let def = self.parse_validated(xml)?;
        let replaces_existing = check_identity_located(&self.lock(), &def)?.is_some();
        let opts = FormatOptions {
            id: None,
            secure: true,
            inactive: true,
        };
        let xml = self.codec.format_domain(&def, opts);
        Ok(ValidatedDomain::new(xml, &def, replaces_existing))
    }

    async fn undefine_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        kit::undefine::check_flags(flags, ErrorDomain::Test, "testDomainUndefineFlags")?;
        let mut st = self.lock();
        let uuid = st.resolve(lookup)?;
        let dom = st.domains.get_mut(&uuid).expect("resolved");
        let obj = (dom.def.name.clone(), uuid.to_string());
        if !dom.persistent {
            return Err(
                VirtError::operation_invalid("cannot undefine transient domain")
                    .with_object(obj.0, obj.1),
            );
        }
        if dom.managed_save.is_some() && flags & MANAGED_SAVE == 0 {
            return Err(VirtError::operation_invalid(
                "Refusing to undefine while domain managed save image exists",
            )
            .with_object(obj.0, obj.1));
        }
        if !dom.is_active() && !dom.snapshots.is_empty() && flags & SNAPSHOTS_METADATA == 0 {
            return Err(VirtError::operation_invalid(format!(
                "cannot delete inactive domain with {} snapshots",
                dom.snapshots.len()
            ))
            .with_object(obj.0, obj.1));
        }
        dom.managed_save = None;
        dom.snapshots.clear();
        dom.autostart = false;
        let handle = dom.handle();
        if dom.is_active() {
            dom.persistent = false;
            dom.next_def = None;
        } else {
            st.remove(&uuid);
        }
        self.lifecycle(handle.clone(), ev::UNDEFINED, ev::undefined::REMOVED);
        Ok(handle)
    }

    async fn domain_info(&self, lookup: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        let st = self.lock();
        let d = st.get(lookup)?;
        let active = d.is_active();
        let info = DomainInfo {
            state: d.state,
            max_memory_kib: d.def.memory_kib,
            memory_kib: d.def.current_memory_kib,
            vcpus: d.def.current_vcpus,
            // libvirt's test driver reports the wall clock as CPU time, whatever the state; kept
            // so that `dominfo` prints what virsh prints.
            cpu_time_ns: wall_clock_ns(),
            // libvirt's test driver answers "linux" whatever the definition says.
            os_type: "linux".into(),
            persistent: d.persistent,
            autostart: d.autostart,
            has_managed_save: d.managed_save.is_some(),
            security_labels: if active {
                vec![SecurityLabel {
                    model: "testSecurity".into(),
                    label: "libvirt-test".into(),
                    enforcing: true,
                }]
            } else {
                Vec::new()
            },
            updated: d.next_def.is_some(),
            messages: Vec::new(),
        };
        Ok((d.handle(), info))
    }

    async fn domain_state(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(DomainHandle, StateReason)> {
        self.check_flags(flags, 0, "testDomainGetState")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        Ok((d.handle(), d.state))
    }

    async fn domain_xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        // UPDATE_CPU has nothing to expand: test domains run on a fake host CPU.
        self.check_flags(flags, kit::flags::xml::ALL, "testDomainGetXMLDesc")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let inactive = flags & (INACTIVE | MIGRATABLE) != 0;
        let def = if inactive { d.persistent_def() } else { &d.def };
        let opts = FormatOptions {
            id: if inactive { None } else { d.id },
            secure: flags & SECURE != 0,
            inactive,
        };
        Ok(self.codec.format_domain(def, opts))
    }

    async fn autostart(&self, lookup: &DomainLookup) -> DriverResult<bool> {
        Ok(self.lock().get(lookup)?.autostart)
    }

    async fn set_autostart(&self, lookup: &DomainLookup, on: bool) -> DriverResult<()> {
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        if !dom.persistent {
            return Err(
                VirtError::operation_invalid("cannot set autostart for transient domain")
                    .with_object(&dom.def.name, dom.def.uuid.to_string()),
            );
        }
        dom.autostart = on;
        Ok(())
    }

    // Domain management group (issue 15): see mgmt.rs.

    async fn metadata(
        &self,
        lookup: &DomainLookup,
        kind: i32,
        uri: &str,
        flags: u32,
    ) -> DriverResult<String> {
        self.get_metadata(lookup, kind, uri, flags)
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
        self.change_metadata(lookup, kind, metadata, key, uri, flags)
    }

    async fn rename_domain(
        &self,
        lookup: &DomainLookup,
        new_name: &str,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        self.rename(lookup, new_name, flags)
    }
}
