//! Test driver resources: info, XML, memory, vCPUs, autostart — with libvirt's
//! modification-impact rules (CURRENT / LIVE / CONFIG / MAXIMUM).

use super::state::Dom;
use super::TestDriver;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::proto::domain_event::Payload;
use crate::proto::BalloonChangeEvent;
use crate::types::{DomainHandle, DomainInfo, DomainLookup, SecurityLabel};
use crate::xml::FormatOptions;
use crate::VirtError;

use crate::kit::flags::modify::{CONFIG, HOTPLUGGABLE, LIVE, MAXIMUM};
use crate::kit::modify::{impact, impact_read, set_vcpus_args};

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Test, detail)
}

/// The definition CONFIG changes: the next-boot one (created on first change while running).
fn config_def(dom: &mut Dom) -> &mut crate::model::DomainDef {
    if dom.is_active() {
        dom.next_def.get_or_insert_with(|| dom.def.clone())
    } else {
        &mut dom.def
    }
}

fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl TestDriver {
    pub(crate) fn info(&self, lookup: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
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

    pub(crate) fn xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        // SECURE | INACTIVE | UPDATE_CPU | MIGRATABLE. UPDATE_CPU has nothing to expand: test
        // domains run on a fake host CPU.
        self.check_flags(flags, 0xf, "testDomainGetXMLDesc")?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let inactive = flags & 2 != 0 || flags & 8 != 0;
        let def = if inactive { d.persistent_def() } else { &d.def };
        let opts = FormatOptions {
            id: if inactive { None } else { d.id },
            secure: flags & 1 != 0,
            inactive,
        };
        Ok(self.codec.format_domain(def, opts))
    }

    pub(crate) fn set_memory(
        &self,
        lookup: &DomainLookup,
        kib: u64,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "testDomainSetMemoryFlags")?;
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let crate::kit::modify::Impact { live, config } = impact(&dom.facts(), flags)?;
        if flags & MAXIMUM != 0 {
            if live {
                return Err(VirtError::operation_invalid(
                    "cannot resize the maximum memory on an active domain",
                )
                .with_object(&dom.def.name, dom.def.uuid.to_string()));
            }
            let def = config_def(dom);
            def.memory_kib = kib;
            def.current_memory_kib = def.current_memory_kib.min(kib);
            return Ok(());
        }
        if live {
            if kib > dom.def.memory_kib {
                return Err(invalid_arg("cannot set memory higher than max memory"));
            }
            dom.def.current_memory_kib = kib;
            let h = dom.handle();
            self.emit(
                h,
                Payload::BalloonChange(BalloonChangeEvent { actual_kib: kib }),
            );
        }
        if config {
            let def = config_def(dom);
            if kib > def.memory_kib {
                return Err(invalid_arg("cannot set memory higher than max memory"));
            }
            def.current_memory_kib = kib;
        }
        Ok(())
    }

    pub(crate) fn set_vcpus(
        &self,
        lookup: &DomainLookup,
        count: u32,
        flags: u32,
    ) -> DriverResult<()> {
        set_vcpus_args(count, flags)?;
        // GUEST needs an agent the test driver lacks.
        self.check_flags(
            flags,
            LIVE | CONFIG | MAXIMUM | HOTPLUGGABLE,
            "testDomainSetVcpusFlags",
        )?;
        if flags & MAXIMUM != 0 && flags & LIVE != 0 {
            return Err(invalid_arg(
                "Flags 'VIR_DOMAIN_VCPU_MAXIMUM' and 'VIR_DOMAIN_AFFECT_LIVE' are mutually exclusive",
            ));
        }
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let crate::kit::modify::Impact { live, config } = impact(&dom.facts(), flags)?;
        if live {
            if count > dom.def.vcpus {
                return Err(invalid_arg(format!(
                    "requested vcpus is greater than max allowable vcpus for the live domain: {count} > {}",
                    dom.def.vcpus
                )));
            }
            dom.def.current_vcpus = count;
        }
        if config {
            let def = config_def(dom);
            if flags & MAXIMUM != 0 {
                def.vcpus = count;
                def.current_vcpus = def.current_vcpus.min(count);
            } else if count > def.vcpus {
                return Err(invalid_arg(format!(
                    "requested vcpus is greater than max allowable vcpus for the persistent domain: {count} > {}",
                    def.vcpus
                )));
            } else {
                def.current_vcpus = count;
            }
        }
        Ok(())
    }

    pub(crate) fn vcpus(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<u32> {
        self.check_flags(flags, LIVE | CONFIG | MAXIMUM, "testDomainGetVcpusFlags")?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let live = impact_read(&dom.facts(), flags)?;
        let def = if live { &dom.def } else { dom.persistent_def() };
        Ok(if flags & MAXIMUM != 0 {
            def.vcpus
        } else {
            def.current_vcpus
        })
    }

    pub(crate) fn set_autostart_flag(&self, lookup: &DomainLookup, on: bool) -> DriverResult<()> {
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
}
