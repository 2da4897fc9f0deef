//! Test driver tuning, vCPU and IOThread calls (issue 15, group "tune"), as libvirt 9.0's
//! test driver implements them: blkio, NUMA, interface bandwidth, disk throttles and perf
//! events on one definition; lifecycle actions; fixed CPU statistics; vCPU, emulator and
//! IOThread pinning. The `Resources` methods in `resources.rs` call these.

use std::collections::BTreeSet;

use super::state::Dom;
use super::TestDriver;
use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain};
use crate::kit::flags::modify::{CONFIG, LIVE};
use crate::kit::flags::typed_param::STRING_OKAY;
use crate::kit::modify::{impact, impact_read};
use crate::kit::tune as rules;
use crate::kit::typed_params::{self, ParamType};
use crate::model::DomainDef;
use crate::types::{DomainLookup, IoThreadInfo, TypedParam, TypedValue, VcpuInfo};
use crate::VirtError;

/// libvirt's test driver's total CPU time (ns) and the per-CPU derivations of it.
const TOTAL_CPUTIME: u64 = 48_772_617_035;
const USER_TIME: u64 = 5_540_000_000;
const SYSTEM_TIME: u64 = 6_460_000_000;

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Test, detail)
}

/// The definition a one-definition change applies to (virDomainObjGetOneDef): the live one,
/// keeping a copy as the persistent one first, or the persistent one.
fn one_def_mut(dom: &mut Dom, live: bool) -> &mut DomainDef {
    if live {
        if dom.persistent && dom.next_def.is_none() {
            dom.next_def = Some(dom.def.clone());
        }
        &mut dom.def
    } else if dom.is_active() {
        dom.next_def.get_or_insert_with(|| dom.def.clone())
    } else {
        &mut dom.def
    }
}

fn one_def(dom: &Dom, live: bool) -> &DomainDef {
    if live {
        &dom.def
    } else {
        dom.persistent_def()
    }
}

/// The online host CPUs of the machine the test driver runs on (libvirt's
/// virHostCPUGetAvailableCPUsBitmap, which its IOThread info falls back to).
fn host_online_cpus() -> BTreeSet<u32> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| rules::parse_bitmap(s.trim(), rules::CPUMASK_LEN).ok())
        .unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            rules::all_cpus(n as u32)
        })
}

impl TestDriver {
    /// VIR_NODEINFO_MAXCPUS of the test node.
    fn max_cpus(&self) -> u32 {
        self.node.nodes * self.node.sockets * self.node.cores * self.node.threads
    }

    fn cpumap_len(&self) -> usize {
        self.max_cpus().div_ceil(8) as usize
    }

    /// A getter's definition: LIVE and CONFIG exclusive, the driver's flags, then the one
    /// definition's values.
    fn read_def<T>(
        &self,
        lookup: &DomainLookup,
        flags: u32,
        allowed: u32,
        function: &str,
        f: impl FnOnce(&DomainDef) -> DriverResult<T>,
    ) -> DriverResult<T> {
        crate::kit::modify::affect_exclusive(flags)?;
        self.check_flags(flags, allowed, function)?;
        let st = self.lock();
        let dom = st.get(lookup)?;
        let live = impact_read(&dom.facts(), flags & (LIVE | CONFIG))?;
        f(one_def(dom, live))
    }

    /// A setter on one definition: the driver's flags, validated parameters, then `f`.
    fn change_def(
        &self,
        lookup: &DomainLookup,
        flags: u32,
        function: &str,
        f: impl FnOnce(&mut DomainDef, bool) -> DriverResult<()>,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, function)?;
        let mut st = self.lock();
        let dom = st.get_mut(lookup)?;
        let live = impact_read(&dom.facts(), flags)?;
        let mut def = one_def(dom, live).clone();
        f(&mut def, live)?;
        *one_def_mut(dom, live) = def;
        Ok(())
    }

    pub(super) fn tune_blkio(&self, l: &DomainLookup, flags: u32) -> DriverResult<Vec<TypedParam>> {
        self.read_def(
            l,
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "testDomainGetBlkioParameters",
            |d| Ok(rules::blkio_params(&d.blkiotune)),
        )
    }

    pub(super) fn tune_set_blkio(
        &self,
        l: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetBlkioParameters")?;
        typed_params::validate(params, rules::BLKIO_PARAMS, ErrorDomain::Test)?;
        self.change_def(l, flags, "testDomainSetBlkioParameters", |d, _| {
            rules::apply_blkio(&mut d.blkiotune, params, ErrorDomain::Test)
        })
    }

    pub(super) fn tune_numa(&self, l: &DomainLookup, flags: u32) -> DriverResult<Vec<TypedParam>> {
        self.read_def(
            l,
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "testDomainGetNumaParameters",
            |d| Ok(rules::numa_params(d)),
        )
    }

    pub(super) fn tune_set_numa(
        &self,
        l: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetNumaParameters")?;
        typed_params::validate(
            params,
            &[
                (rules::NUMA_MODE, ParamType::Int),
                (rules::NUMA_NODESET, ParamType::String),
            ],
            ErrorDomain::Test,
        )?;
        self.change_def(l, flags, "testDomainSetNumaParameters", |d, live| {
            rules::apply_numa(d, params, live, ErrorDomain::Test)
        })
    }

    pub(super) fn tune_interface(
        &self,
        l: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.read_def(
            l,
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "testDomainGetInterfaceParameters",
            |d| {
                let i = crate::kit::devices::net_index(d, device, ErrorDomain::Domain)?;
                Ok(rules::bandwidth_params(
                    d.devices.interfaces[i].bandwidth.as_ref(),
                ))
            },
        )
    }

    pub(super) fn tune_set_interface(
        &self,
        l: &DomainLookup,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetInterfaceParameters")?;
        typed_params::validate(params, rules::BANDWIDTH_PARAMS, ErrorDomain::Test)?;
        self.change_def(l, flags, "testDomainSetInterfaceParameters", |d, _| {
            let i = crate::kit::devices::net_index(d, device, ErrorDomain::Domain)?;
            rules::apply_bandwidth(&mut d.devices.interfaces[i].bandwidth, params);
            Ok(())
        })
    }

    pub(super) fn tune_block_io(
        &self,
        l: &DomainLookup,
        disk: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        self.read_def(
            l,
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "testDomainGetBlockIoTune",
            |d| {
                let i = crate::kit::devices::disk_index(d, disk).ok_or_else(|| {
                    invalid_arg(format!("disk '{disk}' was not found in the domain config"))
                })?;
                Ok(rules::iotune_params(&d.devices.disks[i].iotune))
            },
        )
    }

    pub(super) fn tune_set_block_io(
        &self,
        l: &DomainLookup,
        disk: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetBlockIoTune")?;
        typed_params::validate(params, &rules::iotune_types(), ErrorDomain::Test)?;
        self.change_def(l, flags, "testDomainSetBlockIoTune", |d, _| {
            let i = crate::kit::devices::disk_index(d, disk).ok_or_else(|| {
                invalid_arg(format!(
                    "missing persistent configuration for disk '{disk}'"
                ))
            })?;
            let merged =
                rules::apply_iotune(&d.devices.disks[i].iotune, params, ErrorDomain::Test)?;
            d.devices.disks[i].iotune = merged;
            Ok(())
        })
    }

    pub(super) fn tune_perf(&self, l: &DomainLookup, flags: u32) -> DriverResult<Vec<TypedParam>> {
        self.read_def(
            l,
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "testDomainGetPerfEvents",
            |d| Ok(rules::perf_params(d)),
        )
    }

    pub(super) fn tune_set_perf(
        &self,
        l: &DomainLookup,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetPerfEvents")?;
        typed_params::validate(params, &rules::perf_types(), ErrorDomain::Test)?;
        self.change_def(l, flags, "testDomainSetPerfEvents", |d, _| {
            rules::apply_perf(d, params);
            Ok(())
        })
    }

    pub(super) fn tune_set_lifecycle(
        &self,
        l: &DomainLookup,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "testDomainSetLifecycleAction")?;
        let action = rules::lifecycle_action(kind, action, ErrorDomain::Domain)?;
        let mut st = self.lock();
        let dom = st.get_mut(l)?;
        let imp = impact(&dom.facts(), flags)?;
        if imp.live {
            rules::set_lifecycle(one_def_mut(dom, true), kind, action);
        }
        if imp.config {
            rules::set_lifecycle(one_def_mut(dom, false), kind, action);
        }
        Ok(())
    }

    pub(super) fn tune_cpu_stats(
        &self,
        l: &DomainLookup,
        start_cpu: i32,
        ncpus: u32,
        flags: u32,
    ) -> DriverResult<(u32, Vec<Vec<TypedParam>>)> {
        self.check_flags(flags, STRING_OKAY, "testDomainGetCPUStats")?;
        let st = self.lock();
        st.get(l)?.require_active()?;
        let total = self.node.cores;
        let u = |f: &str, v: u64| TypedParam::new(f, TypedValue::ULLong(v));
        if start_cpu < 0 {
            return Ok((
                total,
                vec![vec![
                    u("cpu_time", TOTAL_CPUTIME),
                    u("user_time", USER_TIME),
                    u("system_time", SYSTEM_TIME),
                ]],
            ));
        }
        if ncpus == 0 {
            return Ok((total, Vec::new()));
        }
        if start_cpu as u32 >= total {
            return Err(invalid_arg(format!(
                "start_cpu {start_cpu} larger than maximum of {}",
                total - 1
            )));
        }
        let per = TOTAL_CPUTIME / u64::from(total);
        let end = total.min(start_cpu as u32 + ncpus);
        Ok((
            total,
            (start_cpu as u32..end)
                .map(|i| {
                    let t = per + u64::from(i);
                    vec![u("cpu_time", t), u("vcpu_time", t - 1_234_567_890)]
                })
                .collect(),
        ))
    }

    /// A vCPU's affinity: its pin, the domain's cpuset, or every host CPU.
    fn vcpu_affinity(&self, d: &DomainDef, vcpu: u32) -> DriverResult<BTreeSet<u32>> {
        if let Some(p) = d.cputune.vcpupins.iter().find(|p| p.id == vcpu) {
            return rules::parse_bitmap(&p.cpuset, rules::CPUMASK_LEN);
        }
        self.domain_cpuset(d)
    }

    fn domain_cpuset(&self, d: &DomainDef) -> DriverResult<BTreeSet<u32>> {
        match &d.vcpu_cpuset {
            Some(s) => rules::parse_bitmap(s, rules::CPUMASK_LEN),
            None => Ok(rules::all_cpus(self.max_cpus())),
        }
    }

    pub(super) fn tune_vcpu_info(&self, l: &DomainLookup) -> DriverResult<Vec<VcpuInfo>> {
        let st = self.lock();
        let dom = st.get(l)?;
        if !dom.is_active() {
            return Err(VirtError::new(
                ErrorCode::OperationInvalid,
                ErrorDomain::Test,
                "cannot list vcpus for an inactive domain",
            ));
        }
        // libvirt's test driver fakes a CPU time from the clock (microseconds / 10).
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let len = self.cpumap_len();
        (0..dom.def.current_vcpus)
            .map(|i| {
                let set = self.vcpu_affinity(&dom.def, i)?;
                Ok(VcpuInfo {
                    number: i,
                    state: 1,
                    cpu_time: now_us / 10,
                    cpu: set.iter().next_back().map_or(-1, |c| *c as i32),
                    cpumap: rules::to_cpumap(&set, len),
                })
            })
            .collect()
    }

    pub(super) fn tune_vcpu_pin_info(
        &self,
        l: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<Vec<u8>>> {
        crate::kit::modify::affect_exclusive(flags)?;
        let st = self.lock();
        let dom = st.get(l)?;
        let live = impact_read(&dom.facts(), flags)?;
        let d = one_def(dom, live);
        let len = self.cpumap_len();
        (0..d.vcpus)
            .map(|i| Ok(rules::to_cpumap(&self.vcpu_affinity(d, i)?, len)))
            .collect()
    }

    pub(super) fn tune_pin_vcpu(
        &self,
        l: &DomainLookup,
        vcpu: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, 0, "testDomainPinVcpuFlags")?;
        let mut st = self.lock();
        let dom = st.get_mut(l)?;
        if !dom.is_active() {
            return Err(VirtError::new(
                ErrorCode::OperationInvalid,
                ErrorDomain::Test,
                "cannot pin vcpus on an inactive domain",
            ));
        }
        if vcpu >= dom.def.current_vcpus {
            return Err(invalid_arg(format!(
                "requested vcpu '{vcpu}' is not present in the domain"
            )));
        }
        let set = rules::from_cpumap(cpumap);
        let cpuset = rules::format_bitmap(&set);
        if dom.persistent && dom.next_def.is_none() {
            dom.next_def = Some(dom.def.clone());
        }
        let pins = &mut dom.def.cputune.vcpupins;
        match pins.iter_mut().find(|p| p.id == vcpu) {
            Some(p) => p.cpuset = cpuset,
            None => pins.push(crate::model::tuning::CpuPin { id: vcpu, cpuset }),
        }
        Ok(())
    }

    pub(super) fn tune_emulator_pin_info(
        &self,
        l: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<u8>> {
        self.read_def(
            l,
            flags,
            LIVE | CONFIG,
            "testDomainGetEmulatorPinInfo",
            |d| {
                let set = match &d.cputune.emulatorpin {
                    Some(s) => rules::parse_bitmap(s, rules::CPUMASK_LEN)?,
                    None => self.domain_cpuset(d)?,
                };
                Ok(rules::to_cpumap(&set, self.cpumap_len()))
            },
        )
    }

    pub(super) fn tune_pin_emulator(
        &self,
        l: &DomainLookup,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.change_def(l, flags, "testDomainPinEmulator", |d, _| {
            let set = rules::from_cpumap(cpumap);
            if set.is_empty() {
                return Err(invalid_arg("Empty cpu list for pinning"));
            }
            d.cputune.emulatorpin = Some(rules::format_bitmap(&set));
            Ok(())
        })
    }

    pub(super) fn tune_iothread_info(
        &self,
        l: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<IoThreadInfo>> {
        self.read_def(l, flags, LIVE | CONFIG, "testDomainGetIOThreadInfo", |d| {
            let len = self.cpumap_len().max(
                host_online_cpus()
                    .iter()
                    .next_back()
                    .map_or(1, |c| *c as usize / 8 + 1),
            );
            d.iothread_id_list()
                .into_iter()
                .map(|id| {
                    let set = match d.cputune.iothreadpins.iter().find(|p| p.id == id) {
                        Some(p) => rules::parse_bitmap(&p.cpuset, rules::CPUMASK_LEN)?,
                        None => match &d.vcpu_cpuset {
                            Some(s) => rules::parse_bitmap(s, rules::CPUMASK_LEN)?,
                            None => host_online_cpus(),
                        },
                    };
                    Ok(IoThreadInfo {
                        id,
                        cpumap: rules::to_cpumap(&set, len),
                    })
                })
                .collect()
        })
    }

    pub(super) fn tune_pin_iothread(
        &self,
        l: &DomainLookup,
        id: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.change_def(l, flags, "testDomainPinIOThread", |d, _| {
            if !d.iothread_id_list().contains(&id) {
                return Err(invalid_arg(format!("iothreadid {id} not found")));
            }
            let set = rules::from_cpumap(cpumap);
            if set.is_empty() {
                return Err(invalid_arg("Empty iothread cpumap list for pinning"));
            }
            let cpuset = rules::format_bitmap(&set);
            let pins = &mut d.cputune.iothreadpins;
            match pins.iter_mut().find(|p| p.id == id) {
                Some(p) => p.cpuset = cpuset,
                None => pins.push(crate::model::tuning::CpuPin { id, cpuset }),
            }
            Ok(())
        })
    }

    pub(super) fn tune_add_iothread(
        &self,
        l: &DomainLookup,
        id: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.change_def(l, flags, "testDomainAddIOThread", |d, _| {
            let mut ids = d.iothread_id_list();
            if ids.contains(&id) {
                return Err(invalid_arg(format!(
                    "an IOThread is already using iothread_id '{id}'"
                )));
            }
            ids.push(id);
            d.iothreads = ids.len() as u32;
            d.iothread_ids = ids;
            Ok(())
        })
    }

    pub(super) fn tune_del_iothread(
        &self,
        l: &DomainLookup,
        id: u32,
        flags: u32,
    ) -> DriverResult<()> {
        self.change_def(l, flags, "testDomainDelIOThread", |d, _| {
            let mut ids = d.iothread_id_list();
            let Some(pos) = ids.iter().position(|x| *x == id) else {
                return Err(invalid_arg(format!(
                    "cannot find IOThread '{id}' in iothreadids list"
                )));
            };
            ids.remove(pos);
            d.iothreads = ids.len() as u32;
            d.iothread_ids = ids;
            d.cputune.iothreadpins.retain(|p| p.id != id);
            Ok(())
        })
    }

    pub(super) fn tune_set_iothread_params(
        &self,
        l: &DomainLookup,
        id: u32,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE, "testDomainSetIOThreadParams")?;
        typed_params::validate(
            params,
            &[
                ("poll_max_ns", ParamType::ULLong),
                ("poll_grow", ParamType::UInt),
                ("poll_shrink", ParamType::UInt),
            ],
            ErrorDomain::Test,
        )?;
        let st = self.lock();
        let dom = st.get(l)?;
        let live = impact_read(&dom.facts(), flags)?;
        if !one_def(dom, live).iothread_id_list().contains(&id) {
            return Err(invalid_arg(format!(
                "cannot find IOThread '{id}' in iothreadids"
            )));
        }
        // Accepted and dropped: libvirt's test driver keeps no polling state.
        Ok(())
    }
}
