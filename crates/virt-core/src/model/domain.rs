//! A domain definition (the typed form of `<domain>` XML): identity, memory, vCPUs, boot,
//! features, CPU, clock, lifecycle actions, security labels and devices.
//!
//! Fields follow libvirt's domain XML one for one; `Option` means "not written" where libvirt
//! prints nothing for an unset value, and the XML layer fills libvirt's defaults on parse
//! (currentMemory = memory, one vCPU, `destroy`/`restart`/`destroy`), so a parsed definition
//! already says what `virsh dumpxml` would print.

use super::devices::Devices;
use super::enums::{
    BootDev, ClockBasis, ClockOffset, CpuCheck, CpuFallback, CpuFeaturePolicy, CpuMatch, CpuMode,
    LifecycleAction, LockFailureAction, SecLabelType, TickPolicy, TimerName, VcpuPlacement,
};
use super::tuning::{BlkioTune, CpuTune, IdMap, MemTune, MemoryBacking};
use super::xmlnode::XmlElement;
use crate::uuid::Uuid;

/// A domain definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainDef {
    /// `<domain type=...>`: `kvm`, `qemu`, `xen`, `lxc`, `test`.
    pub virt_type: String,
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; generated when the XML has none.
    pub uuid: Uuid,
    /// `<title>`.
    pub title: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<metadata>` children: one element per namespace, kept as written.
    pub metadata: Vec<XmlElement>,
    /// `<memory>` in KiB (maximum memory).
    pub memory_kib: u64,
    /// `<maxMemory>` in KiB: the ceiling for memory hotplug; set together with
    /// `memory_slots`.
    pub max_memory_kib: Option<u64>,
    /// `<maxMemory slots=...>`: hotplug slots.
    pub memory_slots: Option<u32>,
    /// `<currentMemory>` in KiB; equals `memory_kib` when absent.
    pub current_memory_kib: u64,
    /// `<blkiotune>`.
    pub blkiotune: BlkioTune,
    /// `<memtune>`.
    pub memtune: MemTune,
    /// `<memoryBacking>`.
    pub memory_backing: MemoryBacking,
    /// `<vcpu>`: maximum vCPUs.
    pub vcpus: u32,
    /// `<vcpu current=...>`; equals `vcpus` when absent.
    pub current_vcpus: u32,
    /// `<vcpu placement=...>`.
    pub vcpu_placement: VcpuPlacement,
    /// `<vcpu cpuset=...>`, as written (`1-4,^3,6`).
    pub vcpu_cpuset: Option<String>,
    /// `<iothreads>`: IOThread count (0 = none); their IDs are [`DomainDef::iothread_ids`]
    /// when given, else 1..=count.
    pub iothreads: u32,
    /// `<iothreadids>`: the IOThread IDs, in document order with the missing ones filled in
    /// (the lowest free numbers, as libvirt fills them); empty when the definition gave none.
    pub iothread_ids: Vec<u32>,
    /// `<cputune>`.
    pub cputune: CpuTune,
    /// `<numatune><memory>`: the host NUMA memory policy.
    pub numatune: Option<NumaTune>,
    /// `<resource><partition>`: the cgroup partition.
    pub resource_partition: Option<String>,
    /// `<sysinfo>` elements, in document order.
    pub sysinfo: Vec<super::sysinfo::Sysinfo>,
    /// `<bootloader>` (host-side bootloader, Xen PV / bhyve).
    pub bootloader: Option<String>,
    /// `<bootloader_args>`.
    pub bootloader_args: Option<String>,
    /// `<os>`.
    pub os: OsDef,
    /// `<idmap>` (containers).
    pub idmap: IdMap,
    /// `<features>`, in libvirt's canonical order.
    pub features: Vec<Feature>,
    /// `<cpu>`.
    pub cpu: Option<CpuDef>,
    /// `<clock>`.
    pub clock: ClockDef,
    /// `<on_poweroff>`; `None` is libvirt's default, `destroy`.
    pub on_poweroff: Option<LifecycleAction>,
    /// `<on_reboot>`; `None` is libvirt's default, `restart`.
    pub on_reboot: Option<LifecycleAction>,
    /// `<on_crash>`; `None` is libvirt's default, `destroy`.
    pub on_crash: Option<LifecycleAction>,
    /// `<perf><event name=... enabled=...>`: perf events enabled or disabled, in the order
    /// they were set (libvirt virDomainPerfDef; kept by the drivers that implement
    /// virDomainSetPerfEvents).
    pub perf_events: Vec<(String, bool)>,
    /// `<on_lockfailure>`.
    pub on_lockfailure: Option<LockFailureAction>,
    /// `<pm>`.
    pub pm: PmDef,
    /// `<devices>`.
    pub devices: Devices,
    /// `<seclabel>` elements, in document order.
    pub seclabels: Vec<SecLabel>,
    /// `<qemu:commandline>`: extra QEMU arguments and environment (QEMU namespace).
    pub qemu_commandline: Option<QemuCommandline>,
    /// `<xen:commandline>`: extra device-model arguments of a Xen HVM guest, `<xen:arg
    /// value=...>` in document order (Xen namespace `http://libvirt.org/schemas/domain/xen/1.0`).
    pub xen_commandline: Option<Vec<String>>,
    /// `<lxc:namespace>`: host namespaces a container shares instead of getting its own
    /// (LXC namespace `http://libvirt.org/schemas/domain/lxc/1.0`).
    pub lxc_namespace: Option<LxcNamespace>,
}

/// `<lxc:namespace>`: `<lxc:sharenet>`, `<lxc:shareipc>`, `<lxc:shareuts>`, each naming the
/// namespace to join; `None` where the container gets its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LxcNamespace {
    /// `<lxc:sharenet type=... value=...>`: the network namespace.
    pub sharenet: Option<LxcShare>,
    /// `<lxc:shareipc type=... value=...>`: the IPC namespace.
    pub shareipc: Option<LxcShare>,
    /// `<lxc:shareuts type=... value=...>`: the UTS namespace.
    pub shareuts: Option<LxcShare>,
}

/// One `<lxc:shareXXX type=... value=...>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LxcShare {
    /// `type=...`: `name` (another container's, by domain name), `pid` (a process's, by
    /// pid), `netns` (a named network namespace, `ip netns`; sharenet only in practice).
    pub source_type: String,
    /// `value=...`: the domain name, pid or netns name.
    pub value: String,
}

/// `<numatune><memory>`: where the guest's memory is allocated on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumaTune {
    /// `mode=...`: `strict` (the default, always printed), `preferred`, `interleave`,
    /// `restrictive`.
    pub mode: String,
    /// `placement='auto'`: nodes chosen by numad; otherwise the placement is static.
    pub placement_auto: bool,
    /// `nodeset=...` (static placement), in libvirt's canonical form (`1-2,4`).
    pub nodeset: Option<String>,
}

/// `<qemu:commandline>` in the namespace `http://libvirt.org/schemas/domain/qemu/1.0`:
/// pass-through arguments and environment variables for the QEMU process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QemuCommandline {
    /// `<qemu:arg value=...>`, in document order.
    pub args: Vec<String>,
    /// `<qemu:env name=... value=...>`, in document order; the value may be absent.
    pub env: Vec<(String, Option<String>)>,
}

impl DomainDef {
    /// `<features><capabilities>`: the policy (`default` when not written) and the
    /// capabilities turned on or off.
    pub fn process_caps(&self) -> ProcessCaps {
        let Some(f) = self.features.iter().find(|f| f.name == "capabilities") else {
            return ProcessCaps {
                policy: "default".into(),
                caps: Vec::new(),
            };
        };
        ProcessCaps {
            policy: f
                .attributes
                .iter()
                .find(|(k, _)| k == "policy")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "default".into()),
            caps: f
                .children
                .iter()
                .map(|c| (c.name.clone(), c.state.unwrap_or(true)))
                .collect(),
        }
    }

    /// The IOThread IDs: `<iothreadids>` when given, else 1 to `<iothreads>`.
    pub fn iothread_id_list(&self) -> Vec<u32> {
        if self.iothread_ids.is_empty() {
            (1..=self.iothreads).collect()
        } else {
            self.iothread_ids.clone()
        }
    }

    /// The effective `<on_poweroff>` action.
    pub fn poweroff_action(&self) -> LifecycleAction {
        self.on_poweroff.unwrap_or(LifecycleAction::Destroy)
    }

    /// The effective `<on_reboot>` action.
    pub fn reboot_action(&self) -> LifecycleAction {
        self.on_reboot.unwrap_or(LifecycleAction::Restart)
    }

    /// The effective `<on_crash>` action.
    pub fn crash_action(&self) -> LifecycleAction {
        self.on_crash.unwrap_or(LifecycleAction::Destroy)
    }
}

/// The `<os>` element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OsDef {
    /// `<type>` text: `hvm`, `xen`, `linux`, `xenpvh`, `exe`.
    pub os_type: String,
    /// `<type arch=...>`.
    pub arch: Option<String>,
    /// `<type machine=...>`.
    pub machine: Option<String>,
    /// `<os firmware=...>`: `bios` or `efi` (firmware auto-selection).
    pub firmware: Option<String>,
    /// `<firmware><feature enabled=... name=.../></firmware>`: `(name, enabled)` of each
    /// feature the auto-selected firmware must have (`true`) or lack (`false`); names are
    /// `secure-boot` and `enrolled-keys`.
    pub firmware_features: Vec<(String, bool)>,
    /// `<init>` (containers).
    pub init: Option<String>,
    /// `<initarg>` elements (containers).
    pub init_args: Vec<String>,
    /// `<initenv name=...>value</initenv>` elements (containers).
    pub init_env: Vec<(String, String)>,
    /// `<initdir>` (containers).
    pub init_dir: Option<String>,
    /// `<inituser>` (containers).
    pub init_user: Option<String>,
    /// `<initgroup>` (containers).
    pub init_group: Option<String>,
    /// `<loader>`.
    pub loader: Option<Loader>,
    /// `<nvram>`.
    pub nvram: Option<Nvram>,
    /// `<kernel>`.
    pub kernel: Option<String>,
    /// `<initrd>`.
    pub initrd: Option<String>,
    /// `<cmdline>`.
    pub cmdline: Option<String>,
    /// `<dtb>`.
    pub dtb: Option<String>,
    /// `<boot dev=...>` elements, in order.
    pub boot_devs: Vec<BootDev>,
    /// `<bootmenu>`.
    pub bootmenu: Option<BootMenu>,
    /// `<bios>`.
    pub bios: Option<Bios>,
    /// `<smbios mode='emulate|host|sysinfo'>`.
    pub smbios_mode: Option<String>,
}

/// `<loader>`: explicit firmware.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loader {
    /// The firmware path (element text).
    pub path: Option<String>,
    /// `readonly='yes|no'`.
    pub readonly: Option<bool>,
    /// `secure='yes|no'`.
    pub secure: Option<bool>,
    /// `type='rom|pflash'`; `rom` is filled when a path is given without a type.
    pub loader_type: Option<String>,
    /// `stateless='yes|no'`: a firmware image without a variable store.
    pub stateless: Option<bool>,
}

/// `<nvram>`: the UEFI variable store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvram {
    /// The store's path (element text).
    pub path: Option<String>,
    /// `template=...`: the file it is created from.
    pub template: Option<String>,
}

/// `<bootmenu>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BootMenu {
    /// `enable='yes|no'`.
    pub enable: bool,
    /// `timeout=...` in milliseconds (printed only when enabled).
    pub timeout_ms: Option<u32>,
}

/// `<bios>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bios {
    /// `useserial='yes|no'`.
    pub useserial: Option<bool>,
    /// `rebootTimeout=...` in milliseconds, -1 to 65535.
    pub reboot_timeout: Option<i32>,
}

/// One `<features>` child.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Feature {
    /// Element name: `acpi`, `apic`, `pae`, `hap`, `vmport`, ...
    pub name: String,
    /// `state='on|off'` (tristate features).
    pub state: Option<bool>,
    /// Other attributes the feature has (`apic eoi=`, `ioapic driver=`, `hyperv mode=`,
    /// `spinlocks retries=`), `(name, value)`.
    pub attributes: Vec<(String, String)>,
    /// Sub-features (`<hyperv><relaxed state='on'/></hyperv>`), in libvirt's order.
    pub children: Vec<Feature>,
}

/// The Linux capabilities `<features><capabilities>` names, in libvirt's order
/// (`virDomainProcessCapsFeature`), which is also the order they are printed in.
pub const PROCESS_CAPS: &[&str] = &[
    "audit_control",
    "audit_write",
    "block_suspend",
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "ipc_lock",
    "ipc_owner",
    "kill",
    "lease",
    "linux_immutable",
    "mac_admin",
    "mac_override",
    "mknod",
    "net_admin",
    "net_bind_service",
    "net_broadcast",
    "net_raw",
    "setgid",
    "setfcap",
    "setpcap",
    "setuid",
    "sys_admin",
    "sys_boot",
    "sys_chroot",
    "sys_module",
    "sys_nice",
    "sys_pacct",
    "sys_ptrace",
    "sys_rawio",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "syslog",
    "wake_alarm",
];

/// `<features><capabilities policy=...>`: which Linux capabilities a container keeps.
///
/// In [`DomainDef::features`] it is the [`Feature`] named `capabilities` with the attribute
/// `policy` and one child per capability (`name`, `state`), in [`PROCESS_CAPS`] order;
/// [`DomainDef::process_caps`] reads it in this typed form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessCaps {
    /// `policy=...`: `default` (libvirt's default drop list), `allow` (keep all but the
    /// ones turned off), `deny` (drop all but the ones turned on).
    pub policy: String,
    /// `(name, on)` per capability written, in [`PROCESS_CAPS`] order.
    pub caps: Vec<(String, bool)>,
}

/// `<cpu>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuDef {
    /// `mode=...`; absent means custom.
    pub mode: Option<CpuMode>,
    /// `match=...` (custom only).
    pub match_: Option<CpuMatch>,
    /// `check=...`.
    pub check: Option<CpuCheck>,
    /// `migratable='on|off'` (host-passthrough, maximum).
    pub migratable: Option<bool>,
    /// `<model>` text.
    pub model: Option<String>,
    /// `<model fallback=...>`.
    pub fallback: Option<CpuFallback>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology>`.
    pub topology: Option<CpuTopology>,
    /// `<cache>`: the guest's view of the CPU caches.
    pub cache: Option<CpuCache>,
    /// `<feature>` elements.
    pub features: Vec<CpuFeature>,
    /// `<numa><cell>`: the guest's NUMA nodes.
    pub numa: Vec<NumaCell>,
}

/// `<cpu><numa><cell>`: one guest NUMA node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumaCell {
    /// `id=...`.
    pub id: u32,
    /// `cpus=...`: the node's vCPUs, as libvirt formats a CPU list (`0-1,4`).
    pub cpus: String,
    /// `memory=...` in KiB.
    pub memory_kib: u64,
    /// `<distances><sibling id= value=>`: `(node, distance)` in order.
    pub distances: Vec<(u32, u32)>,
}

/// `<cpu><cache level= mode=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuCache {
    /// `level=...`: the cache level it describes (3 for L3); `None` for every level.
    pub level: Option<u32>,
    /// `mode=...`: `emulate`, `passthrough` or `disable`.
    pub mode: String,
}

/// `<cpu><topology>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTopology {
    /// `sockets`.
    pub sockets: u32,
    /// `dies` (1 when absent, always printed).
    pub dies: u32,
    /// `cores`.
    pub cores: u32,
    /// `threads`.
    pub threads: u32,
}

/// `<cpu><feature>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuFeature {
    /// `policy=...`; `None` inside host-model/custom means `require`.
    pub policy: Option<CpuFeaturePolicy>,
    /// `name=...`.
    pub name: String,
}

/// `<clock>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClockDef {
    /// `offset=...`.
    pub offset: ClockOffset,
    /// `adjustment=...`: seconds, or `reset` (utc/localtime).
    pub adjustment: Option<String>,
    /// `basis=...` (variable).
    pub basis: Option<ClockBasis>,
    /// `timezone=...` (timezone).
    pub timezone: Option<String>,
    /// `start=...` epoch seconds (absolute).
    pub start: Option<u64>,
    /// `<timer>` elements.
    pub timers: Vec<Timer>,
}

/// `<clock><timer>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timer {
    /// `name=...`.
    pub name: TimerName,
    /// `present='yes|no'`.
    pub present: Option<bool>,
    /// `tickpolicy=...`.
    pub tickpolicy: Option<TickPolicy>,
    /// `track=...` (rtc, platform).
    pub track: Option<String>,
    /// `frequency=...` (tsc).
    pub frequency: Option<u64>,
    /// `mode=...` (tsc).
    pub mode: Option<String>,
}

/// `<pm>`: S3/S4 advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PmDef {
    /// `<suspend-to-mem enabled=...>`.
    pub suspend_to_mem: Option<bool>,
    /// `<suspend-to-disk enabled=...>`.
    pub suspend_to_disk: Option<bool>,
}

/// `<seclabel>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecLabel {
    /// `type=...`; `dynamic` when absent.
    pub label_type: SecLabelType,
    /// `model=...`: `selinux`, `apparmor`, `dac`, `none`.
    pub model: Option<String>,
    /// `relabel='yes|no'`.
    pub relabel: Option<bool>,
    /// `<label>`.
    pub label: Option<String>,
    /// `<imagelabel>`.
    pub imagelabel: Option<String>,
    /// `<baselabel>`.
    pub baselabel: Option<String>,
}
