//! vCPU and emulator affinity and CPU statistics of running guests (issue 15, group "tune";
//! libvirt: virDomainGetVcpus, virDomainGetVcpuPinInfo, virDomainPinVcpuFlags,
//! virDomainGetEmulatorPinInfo, virDomainPinEmulator, virDomainGetCPUStats).
//!
//! The vCPU threads are the ones `query-cpus-fast` named at start; their CPU time and last
//! host CPU come from `/proc/PID/task/TID/stat`, their affinity from `sched_getaffinity`.
//! Pinning a running guest is `sched_setaffinity` on the threads (`crate::cputune`), and the
//! pin is recorded in the live definition (and the persistent one for CONFIG). The domain's
//! CPU statistics are QEMU's process times from `/proc/PID/stat`; per host CPU they come from
//! the guest's cpuacct group (`cpuacct.usage_percpu`), as libvirt's do.

use std::collections::BTreeSet;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact_read};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune::{format_bitmap, from_cpumap, parse_bitmap, to_cpumap, CPUMASK_LEN};
use virt_core::model::tuning::CpuPin;
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, TypedParam, TypedValue, VcpuInfo};
use virt_core::VirtError;

use crate::QemuDriver;

fn invalid_arg(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InvalidArg, ErrorDomain::Qemu, detail.into())
}

/// The online host CPUs.
pub(super) fn host_set() -> BTreeSet<u32> {
    crate::cputune::host_cpus()
        .into_iter()
        .map(|c| c as u32)
        .collect()
}

/// Bytes of a cpumap covering every host CPU.
pub(super) fn map_len() -> usize {
    host_set()
        .iter()
        .next_back()
        .map_or(1, |c| *c as usize / 8 + 1)
}

/// Fields of a `/proc/.../stat` line after the command name: index 0 is the state (field 3).
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Nanoseconds per clock tick.
fn tick_ns() -> u64 {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|v| *v > 0)
        .unwrap_or(100) as u64;
    1_000_000_000 / hz
}

/// (user ns, system ns, last CPU) of a process or thread stat file.
fn times(path: &str) -> Option<(u64, u64, i32)> {
    let f = stat_fields(path)?;
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let cpu = f.get(36).and_then(|v| v.parse::<i32>().ok()).unwrap_or(-1);
    Some((ticks(11)? * tick_ns(), ticks(12)? * tick_ns(), cpu))
}

/// The affinity of thread `tid`.
pub(super) fn affinity(tid: i32) -> BTreeSet<u32> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(tid)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|c| set.is_set(*c).unwrap_or(false))
            .map(|c| c as u32)
            .collect(),
        Err(_) => host_set(),
    }
}

/// The affinity a definition gives `vcpu`: its pin, the `<vcpu cpuset>`, or every host CPU.
fn vcpu_set(def: &DomainDef, vcpu: u32) -> DriverResult<BTreeSet<u32>> {
    if let Some(p) = def.cputune.vcpupins.iter().find(|p| p.id == vcpu) {
        return parse_bitmap(&p.cpuset, CPUMASK_LEN);
    }
    domain_set(def)
}

pub(super) fn domain_set(def: &DomainDef) -> DriverResult<BTreeSet<u32>> {
    match &def.vcpu_cpuset {
        Some(s) => parse_bitmap(s, CPUMASK_LEN),
        None => Ok(host_set()),
    }
}

pub(super) fn set_pin(pins: &mut Vec<CpuPin>, id: u32, cpuset: &str) {
    match pins.iter_mut().find(|p| p.id == id) {
        Some(p) => p.cpuset = cpuset.to_string(),
        None => pins.push(CpuPin {
            id,
            cpuset: cpuset.to_string(),
        }),
    }
}

impl QemuDriver {
    /// The definition a read concerns: the live one or the persistent one.
    fn read_one<T>(
        &self,
        lookup: &DomainLookup,
        flags: u32,
        f: impl FnOnce(&DomainDef) -> DriverResult<T>,
    ) -> DriverResult<T> {
        affect_exclusive(flags)?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        match (&d.run, live) {
            (Some(r), true) => f(&r.live),
            _ => f(&d.def),
        }
    }

    pub(crate) fn qemu_vcpu_info(&self, lookup: &DomainLookup) -> DriverResult<Vec<VcpuInfo>> {
        let (pid, vcpus) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let Some(r) = &d.run else {
                return Err(VirtError::operation_invalid(
                    "cannot retrieve vcpu information for inactive domain",
                ));
            };
            (r.proc.pid().pid, r.vcpus.clone())
        };
        let len = map_len();
        Ok(vcpus
            .iter()
            .map(|(idx, tid)| {
                let (u, s, cpu) =
                    times(&format!("/proc/{pid}/task/{tid}/stat")).unwrap_or((0, 0, -1));
                VcpuInfo {
                    number: *idx,
                    state: 1,
                    cpu_time: u + s,
                    cpu,
                    cpumap: to_cpumap(&affinity(*tid), len),
                }
            })
            .collect())
    }

    pub(crate) fn qemu_vcpu_pin_info(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<Vec<u8>>> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainGetVcpuPinInfo")?;
        let len = map_len();
        self.read_one(lookup, flags, |def| {
            (0..def.vcpus.max(1))
                .map(|i| Ok(to_cpumap(&vcpu_set(def, i)?, len)))
                .collect()
        })
    }

    pub(crate) async fn qemu_pin_vcpu(
        &self,
        lookup: &DomainLookup,
        vcpu: u32,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainPinVcpuFlags")?;
        let (_job, uuid) = self.job(lookup, "virDomainPinVcpuFlags").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        let set = from_cpumap(cpumap);
        if set.is_empty() {
            return Err(invalid_arg("Empty cpu list for pinning"));
        }
        let cpuset = format_bitmap(&set);
        if live {
            let a = self.active(&uuid)?;
            let vcpus = self
                .with_run(&uuid, a.gen, |r| r.vcpus.clone())
                .unwrap_or_default();
            let Some((_, tid)) = vcpus.iter().find(|(i, _)| *i == vcpu) else {
                return Err(invalid_arg(format!(
                    "vcpu {vcpu} is out of range of live cpu count {}",
                    vcpus.len()
                )));
            };
            crate::cputune::set_affinity(*tid, &cpuset)?;
            self.update_run(&uuid, a.gen, |r| {
                set_pin(&mut r.live.cputune.vcpupins, vcpu, &cpuset)
            });
        }
        if config {
            self.edit_config(&lookup, |def| {
                if vcpu >= def.vcpus.max(1) {
                    return Err(invalid_arg(format!(
                        "vcpu {vcpu} is out of range of persistent cpu count {}",
                        def.vcpus.max(1)
                    )));
                }
                set_pin(&mut def.cputune.vcpupins, vcpu, &cpuset);
                Ok(())
            })?;
        }
        Ok(())
    }

    pub(crate) fn qemu_emulator_pin_info(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<Vec<u8>> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainGetEmulatorPinInfo")?;
        let len = map_len();
        self.read_one(lookup, flags, |def| {
            let set = match &def.cputune.emulatorpin {
                Some(s) => parse_bitmap(s, CPUMASK_LEN)?,
                None => domain_set(def)?,
            };
            Ok(to_cpumap(&set, len))
        })
    }

    pub(crate) async fn qemu_pin_emulator(
        &self,
        lookup: &DomainLookup,
        cpumap: &[u8],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainPinEmulator")?;
        let (_job, uuid) = self.job(lookup, "virDomainPinEmulator").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        let set = from_cpumap(cpumap);
        if set.is_empty() {
            return Err(invalid_arg("Empty cpu list for pinning"));
        }
        let cpuset = format_bitmap(&set);
        if live {
            let a = self.active(&uuid)?;
            let (pid, vcpus, has_iothreads) = self
                .with_run(&uuid, a.gen, |r| {
                    (r.proc.pid().pid, r.vcpus.clone(), r.live.iothreads > 0)
                })
                .ok_or_else(|| VirtError::operation_invalid("domain is not running"))?;
            let iothreads = if has_iothreads {
                let v = a
                    .qmp
                    .execute("query-iothreads", None)
                    .await
                    .map_err(|e| e.to_virt("query-iothreads"))?;
                crate::cputune::iothreads_of(&v)
            } else {
                Vec::new()
            };
            let t = crate::cputune::Threads {
                pid,
                vcpus,
                iothreads,
            };
            for tid in t.emulator() {
                crate::cputune::set_affinity(tid, &cpuset)?;
            }
            self.update_run(&uuid, a.gen, |r| {
                r.live.cputune.emulatorpin = Some(cpuset.clone())
            });
        }
        if config {
            self.edit_config(&lookup, |def| {
                def.cputune.emulatorpin = Some(cpuset.clone());
                Ok(())
            })?;
        }
        Ok(())
    }

    pub(crate) fn qemu_cpu_stats(
        &self,
        lookup: &DomainLookup,
        start_cpu: i32,
        ncpus: u32,
        flags: u32,
    ) -> DriverResult<(u32, Vec<Vec<TypedParam>>)> {
        self.check_flags(flags, STRING_OKAY, "qemuDomainGetCPUStats")?;
        let (pid, id, live) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let Some(r) = &d.run else {
                return Err(super::not_running(d));
            };
            (r.proc.pid().pid, r.id, r.live.clone())
        };
        let u = |f: &str, v: u64| TypedParam::new(f, TypedValue::ULLong(v));
        let total = host_set().iter().next_back().map_or(1, |c| c + 1);
        if start_cpu < 0 {
            let (user, system, _) = times(&format!("/proc/{pid}/stat")).ok_or_else(|| {
                VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Qemu,
                    format!("cannot read /proc/{pid}/stat"),
                )
            })?;
            return Ok((
                total,
                vec![vec![
                    u("cpu_time", user + system),
                    u("user_time", user),
                    u("system_time", system),
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
        let group = self.cgroup_of_run(id, &live).ok_or_else(|| {
            VirtError::operation_invalid("cgroup CPUACCT controller is not mounted")
        })?;
        let percpu: Vec<u64> = std::fs::read_to_string(group.join("cpuacct.usage_percpu"))
            .map_err(|_| VirtError::operation_invalid("cgroup CPUACCT controller is not mounted"))?
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let end = total.min(start_cpu as u32 + ncpus);
        Ok((
            total,
            (start_cpu as u32..end)
                .map(|c| vec![u("cpu_time", percpu.get(c as usize).copied().unwrap_or(0))])
                .collect(),
        ))
    }
}
