//! The QEMU command line of a domain: [`build`] turns a [`DomainDef`] plus what the caller has
//! prepared for this run ([`LaunchContext`]: emulator, private dir, monitor socket path, tap
//! devices) into a program, its argv, its environment and the descriptors the child inherits.
//!
//! # Shape
//!
//! Arguments come in the order libvirt 9.0 emits them for QEMU 7.2 (spec qemu-driver.md §1.2):
//! identity (`-name`, `-S`), machine and accelerator, CPU, memory, SMP, `-uuid`,
//! `-no-user-config -nodefaults`, the QMP monitor, clock, `-no-shutdown`, power management,
//! boot (`-boot strict=on`, kernel, initrd, append, dtb), then devices: controllers, disks
//! (`-blockdev` storage + format nodes and a frontend `-device`), NICs (`-netdev` +
//! `-device`), serial ports, channels (`-chardev` + `virtserialport`), the TPM, inputs,
//! graphics, video, balloon, rng; then `-sandbox`, the panic devices,
//! `-msg timestamp=on`, and last the definition's own `<qemu:commandline>` arguments.
//! `-device`, `-blockdev`, `-netdev`, `-object` and `-audiodev` take QEMU's JSON form;
//! `-machine`, `-smp`, `-chardev`, `-vnc` stay key=value, as libvirt writes them.
//!
//! Devices get libvirt's alias as their QOM `id` (`virtio-disk0`, `sata0-0-0`, `net0` with
//! netdev `hostnet0`, `serial0`/`charserial0`, `channel0`/`charchannel0`, `balloon0`,
//! `rng0`/`objrng0`, `video0`, `usb`, `scsi0`, `pci.N`), so QMP calls (device_del,
//! query-blockstats, balloon, query-chardev) can name them.
//! Block node names are `libvirt-N-storage` / `libvirt-N-format`, numbered from the last disk
//! to the first as libvirt numbers them (an empty cdrom or floppy uses its number up).
//!
//! # Behaviours worth knowing
//!
//! * `-no-shutdown` is always passed: a guest that powers off stops its vCPUs and QEMU stays
//!   up to report SHUTDOWN over QMP; the lifecycle code then quits it (`quit`, or SIGTERM) and
//!   records reason SHUTDOWN. Without it QEMU could exit before the daemon saw why.
//! * `-S` only when [`LaunchContext::start_paused`] asks: libvirt always starts paused and
//!   sends `cont` after setup; the caller decides here.
//! * The monitor is a listening UNIX socket QEMU creates at [`LaunchContext::monitor`]
//!   (`server=on,wait=off`), not a pre-bound descriptor.
//! * Tap devices are opened by the daemon ([`crate::tap`]); their descriptors are duplicated
//!   into [`QemuCommand::fds`] at child numbers 3, 4, ... in interface order, and named in
//!   `-netdev {"type":"tap","fd":"N"}`.
//! * VNC with `autoport` listens on the first free display from :0 (`to=99`): QEMU picks the
//!   port atomically and `query-vnc` reports it, which avoids libvirt's port reservation race.
//! * Custom CPU features are written `feat=on` / `feat=off` (libvirt 9.0's form; `+feat` is
//!   QEMU's legacy spelling of the same).
//! * A SCSI controller without a model is virtio-scsi (libvirt picks lsilogic); a NIC without
//!   a model is rtl8139, as libvirt's x86 default.
//!
//! What `build` cannot express is declared in [`honoured`], which define checks first, so a
//! defined domain never fails here for an unsupported element; `build` still returns
//! CONFIG_UNSUPPORTED for combinations the path list cannot describe (a virtio cdrom, KVM
//! asked where it is unusable).

use std::os::fd::{OwnedFd, RawFd};
use std::path::PathBuf;

use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::enums::{ClockOffset, CpuFeaturePolicy, CpuMode, TickPolicy, TimerName};
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::tap::TapDevice;

mod channel;
mod chardev;
mod devices;
mod disk;
mod features;
mod floppy;
mod fs;
mod graphics;
mod honour;
mod hostdev;
mod json;
mod memory;
mod pci;
mod serial;
mod smartcard;
mod smbios;
mod sound;
mod spice;
mod tpm;
mod usb;
mod video;

pub(crate) use channel::channel_id;
pub(crate) use disk::disk_index;
pub use honour::honoured;
use json::Json;
pub use memory::MemoryPlacement;
pub(crate) use memory::{backend as memory_backend, hugepage_request, Backend as MemoryBackend};

/// What the caller prepared for one start of a domain.
#[derive(Debug)]
pub struct LaunchContext {
    /// The qemu-system-* binary (from `<emulator>` or found on PATH).
    pub emulator: PathBuf,
    /// The domain's private run dir (HOME of QEMU; monitor socket and the like live here).
    pub domain_dir: PathBuf,
    /// The QMP socket path QEMU must listen on (server, nowait).
    pub monitor: PathBuf,
    /// Whether /dev/kvm is usable; `type='kvm'` is refused when false.
    pub kvm_usable: bool,
    /// One tap per bridge/ethernet interface, in interface order.
    pub taps: Vec<TapDevice>,
    /// Pass `-S`: vCPUs stay stopped until `cont`.
    pub start_paused: bool,
    /// The emulator's version, libvirt-encoded (7002022 for 7.2.22); resolves `pc`/`q35`.
    pub qemu_version: u64,
    /// The expansion of `host-model` as a `-cpu` value (model and features, from the probe's
    /// query-cpu-model-expansion); `None` falls back to `host` (KVM) or `max` (TCG).
    pub host_model_cpu: Option<String>,
    /// The TCP port picked for SPICE graphics with `autoport` (QEMU cannot pick its own).
    pub spice_port: Option<u16>,
    /// Where the guest's RAM lives on the host (hugetlbfs, memory backing files).
    pub memory: MemoryPlacement,
}

/// A process to spawn.
#[derive(Debug)]
pub struct QemuCommand {
    /// The binary.
    pub program: PathBuf,
    /// Its arguments, without argv\[0\].
    pub args: Vec<String>,
    /// The whole environment (the caller clears its own first).
    pub env: Vec<(String, String)>,
    /// File descriptors the child must inherit at the given numbers (tap fds).
    pub fds: Vec<(RawFd, OwnedFd)>,
}

impl QemuCommand {
    /// A `std::process::Command` that runs this: the environment replaced by
    /// [`QemuCommand::env`], and each of [`QemuCommand::fds`] at its number in the child
    /// (every other descriptor stays close-on-exec). `self` must outlive the spawn; stdio,
    /// session and the like are the caller's.
    pub fn command(&self) -> std::process::Command {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let map: Vec<(RawFd, RawFd)> = self
            .fds
            .iter()
            .map(|(num, fd)| (*num, fd.as_raw_fd()))
            .collect();
        if !map.is_empty() {
            // SAFETY: the closure runs in the forked child before exec and calls only fcntl
            // and dup2, which are async-signal-safe; it allocates nothing (the map was built
            // before the fork).
            unsafe {
                cmd.pre_exec(move || {
                    // First lift every source above the targets, so that no dup2 below
                    // overwrites a source another mapping still needs.
                    let mut lifted = [0 as RawFd; 64];
                    if map.len() > lifted.len() {
                        return Err(std::io::Error::from_raw_os_error(nix::libc::EMFILE));
                    }
                    for (i, (_, src)) in map.iter().enumerate() {
                        let fd = nix::libc::fcntl(*src, nix::libc::F_DUPFD_CLOEXEC, 1024);
                        if fd < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        lifted[i] = fd;
                    }
                    for (i, (num, _)) in map.iter().enumerate() {
                        // dup2 clears close-on-exec on the new descriptor.
                        if nix::libc::dup2(lifted[i], *num) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        cmd
    }

    /// The command as libvirt logs it: `VAR=value \` lines, the program, one argument per
    /// line, shell-quoted where needed.
    pub fn render(&self) -> String {
        let mut lines: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        lines.push(shell_quote(&self.program.to_string_lossy()));
        let mut args = self.args.iter().peekable();
        while let Some(a) = args.next() {
            match args.peek() {
                Some(v) if a.starts_with('-') && !v.starts_with('-') => {
                    lines.push(format!("{a} {}", shell_quote(v)));
                    args.next();
                }
                _ => lines.push(shell_quote(a)),
            }
        }
        lines.join(" \\\n")
    }

    /// The command on one line as libvirt's domxml-to-native prints it: `VAR=value` for each
    /// environment variable, the program, then each argument, space-separated and quoted as
    /// [`QemuCommand::render`] quotes them.
    pub fn render_line(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)));
        let program = std::iter::once(shell_quote(&self.program.to_string_lossy()));
        let args = self.args.iter().map(|a| shell_quote(a));
        env.chain(program).chain(args).collect::<Vec<_>>().join(" ")
    }
}

/// Quotes `s` for a POSIX shell as libvirt prints commands (virCommandToString): as it is
/// unless it is empty or holds a shell metacharacter, else in single quotes with each `'`
/// written `'\''`.
fn shell_quote(s: &str) -> String {
    const META: &str = "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~";
    if !s.is_empty() && !s.chars().any(|c| META.contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// CONFIG_UNSUPPORTED raised by the QEMU driver.
pub(crate) fn unsupported(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Qemu, detail)
}

/// Doubles commas, QEMU's escape inside a key=value option.
pub(crate) fn opt(s: &str) -> String {
    s.replace(',', ",,")
}

/// The accelerator a definition runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accel {
    Kvm,
    Tcg,
}

/// The machine family: where built-in buses are and what they are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Q35,
    I440fx,
    Other,
}

/// What device builders share: the definition and decisions made once.
pub(crate) struct Builder<'a> {
    pub def: &'a DomainDef,
    pub ctx: &'a LaunchContext,
    pub accel: Accel,
    pub family: Family,
    pub args: Vec<String>,
    pub fds: Vec<(RawFd, OwnedFd)>,
    pub pci: pci::PciPlan,
}

impl Builder<'_> {
    /// The machine family as the address code names it.
    pub(crate) fn chipset(&self) -> crate::address::Chipset {
        match self.family {
            Family::Q35 => crate::address::Chipset::Q35,
            Family::I440fx => crate::address::Chipset::I440fx,
            Family::Other => crate::address::Chipset::Other,
        }
    }

    /// Whether the display is SPICE (SPICE channels and USB redirection need it).
    pub(crate) fn has_spice(&self) -> bool {
        self.def
            .devices
            .graphics
            .iter()
            .any(|g| g.graphics_type == virt_core::model::enums::GraphicsType::Spice)
    }

    pub(crate) fn arg(&mut self, flag: &str, value: impl Into<String>) {
        self.args.push(flag.to_string());
        self.args.push(value.into());
    }

    pub(crate) fn json(&mut self, flag: &str, value: Json) {
        self.arg(flag, value.to_string());
    }
}

/// Builds the command that starts `def` (see the module docs for its shape).
pub fn build(def: &DomainDef, ctx: &LaunchContext) -> Result<QemuCommand, VirtError> {
    let accel = accel(def, ctx)?;
    let machine = machine_type(def, ctx.qemu_version);
    let family = if machine.starts_with("pc-q35") {
        Family::Q35
    } else if machine.starts_with("pc-i440fx") || machine == "pc" {
        Family::I440fx
    } else {
        Family::Other
    };
    let mut b = Builder {
        def,
        ctx,
        accel,
        family,
        args: Vec::new(),
        fds: Vec::new(),
        pci: pci::PciPlan::of(def, family),
    };
    b.arg(
        "-name",
        format!("guest={},debug-threads=on", opt(&def.name)),
    );
    if ctx.start_paused {
        b.args.push("-S".into());
    }
    let pflash = firmware_args(&mut b);
    machine_args(&mut b, &machine, pflash);
    if let Some(cpu) = features::cpu(cpu_arg(def, ctx, accel)?, def, accel)? {
        b.arg("-cpu", format!("{cpu}{}", cpu_cache(def)));
    }
    if pflash.0 && def.os.loader.as_ref().and_then(|l| l.secure) == Some(true) {
        // Only SMM code may write the flash: what makes secure boot's variables tamper-proof.
        b.arg("-global", "driver=cfi.pflash01,property=secure,value=on");
    }
    memory::args(&mut b)?;
    b.arg("-smp", smp(def));
    for id in def.iothread_id_list() {
        b.json(
            "-object",
            Json::obj([
                ("qom-type", Json::str("iothread")),
                ("id", Json::str(format!("iothread{id}"))),
            ]),
        );
    }
    b.arg("-uuid", def.uuid.to_string());
    smbios::args(&mut b)?;
    b.args.push("-no-user-config".into());
    b.args.push("-nodefaults".into());
    b.arg(
        "-chardev",
        format!(
            "socket,id=charmonitor,path={},server=on,wait=off",
            opt(&ctx.monitor.to_string_lossy())
        ),
    );
    b.arg("-mon", "chardev=charmonitor,id=monitor,mode=control");
    clock_args(&mut b)?;
    // `<on_reboot>destroy` is set over the monitor (`set-action`), as libvirt 9.0 does.
    b.args.push("-no-shutdown".into());
    pm_args(&mut b);
    boot_args(&mut b);
    devices::all(&mut b)?;
    features::devices(&mut b);
    b.arg(
        "-sandbox",
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    );
    devices::panics(&mut b)?;
    b.arg("-msg", "timestamp=on");
    let mut env = environment(ctx);
    if let Some(extra) = &def.qemu_commandline {
        b.args.extend(extra.args.iter().cloned());
        for (k, v) in &extra.env {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone().unwrap_or_default()));
        }
    }
    Ok(QemuCommand {
        program: ctx.emulator.clone(),
        args: b.args,
        env,
        fds: b.fds,
    })
}

/// libvirt's scrubbed environment (spec §1.1), HOME and XDG dirs in the private dir.
fn environment(ctx: &LaunchContext) -> Vec<(String, String)> {
    let dir = ctx.domain_dir.to_string_lossy();
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    vec![
        ("LC_ALL".into(), "C".into()),
        ("PATH".into(), path),
        ("HOME".into(), dir.to_string()),
        ("XDG_DATA_HOME".into(), format!("{dir}/.local/share")),
        ("XDG_CACHE_HOME".into(), format!("{dir}/.cache")),
        ("XDG_CONFIG_HOME".into(), format!("{dir}/.config")),
    ]
}

fn accel(def: &DomainDef, ctx: &LaunchContext) -> Result<Accel, VirtError> {
    match def.virt_type.as_str() {
        "kvm" if ctx.kvm_usable => Ok(Accel::Kvm),
        "kvm" => Err(unsupported(
            "domain requires KVM, but it is not available: /dev/kvm is missing or not \
             usable; use <domain type='qemu'> for TCG emulation",
        )),
        "qemu" => Ok(Accel::Tcg),
        other => Err(unsupported(format!(
            "the QEMU driver cannot run domain type '{other}'"
        ))),
    }
}

/// The canonical machine type: `pc` and `q35` resolve to this QEMU's versioned names, as
/// query-machines' aliases do; others pass through.
pub(crate) fn machine_type(def: &DomainDef, qemu_version: u64) -> String {
    let requested = def.os.machine.as_deref().unwrap_or("pc");
    let (major, minor) = (qemu_version / 1_000_000, (qemu_version / 1_000) % 1_000);
    let versioned = |family: &str| {
        if qemu_version == 0 {
            requested.to_string()
        } else {
            format!("{family}-{major}.{minor}")
        }
    };
    match requested {
        "pc" => versioned("pc-i440fx"),
        "q35" => versioned("pc-q35"),
        other => other.to_string(),
    }
}

fn feature<'a>(def: &'a DomainDef, name: &str) -> Option<&'a virt_core::model::domain::Feature> {
    def.features.iter().find(|f| f.name == name)
}

/// UEFI firmware and its variable store as pflash block nodes (given to `-machine`), or a
/// ROM loader as `-bios`; answers whether pflash nodes were made (code, variables). The
/// definition is the resolved one ([`crate::firmware::resolve`]): auto-selection has become
/// an explicit loader by now.
fn firmware_args(b: &mut Builder<'_>) -> (bool, bool) {
    let os = &b.def.os;
    let Some(loader) = os.loader.as_ref() else {
        return (false, false);
    };
    let Some(path) = loader.path.clone() else {
        return (false, false);
    };
    if loader.loader_type.as_deref() != Some("pflash") {
        b.arg("-bios", path);
        return (false, false);
    }
    let node = |b: &mut Builder<'_>, n: u32, file: String, readonly: bool| {
        let storage = format!("libvirt-pflash{n}-storage");
        b.json(
            "-blockdev",
            Json::obj([
                ("driver", Json::str("file")),
                ("filename", Json::str(file)),
                ("node-name", Json::str(storage.clone())),
                ("auto-read-only", Json::Bool(true)),
                ("discard", Json::str("unmap")),
            ]),
        );
        b.json(
            "-blockdev",
            Json::obj([
                ("node-name", Json::str(format!("libvirt-pflash{n}-format"))),
                ("read-only", Json::Bool(readonly)),
                ("driver", Json::str("raw")),
                ("file", Json::str(storage)),
            ]),
        );
    };
    node(b, 0, path, loader.readonly.unwrap_or(false));
    let vars = os.nvram.as_ref().and_then(|n| n.path.clone());
    let has_vars = vars.is_some();
    if let Some(vars) = vars {
        node(b, 1, vars, false);
    }
    (true, has_vars)
}

fn machine_args(b: &mut Builder<'_>, machine: &str, pflash: (bool, bool)) {
    let mut m = format!("{},usb=off", opt(machine));
    for name in ["vmport", "smm"] {
        if let Some(state) = feature(b.def, name).and_then(|f| f.state) {
            m.push_str(&format!(",{name}={}", if state { "on" } else { "off" }));
        }
    }
    m.push_str(&features::machine_props(b.def));
    m.push_str(",dump-guest-core=off");
    m.push_str(memory::mem_merge(b.def));
    let pc = b.family != Family::Other;
    if pc {
        m.push_str(",memory-backend=pc.ram");
    }
    if pflash.0 {
        m.push_str(",pflash0=libvirt-pflash0-format");
    }
    if pflash.1 {
        m.push_str(",pflash1=libvirt-pflash1-format");
    }
    // `<bios useserial='yes'>`: SeaBIOS talks on the serial port (QEMU's sgabios is gone).
    if b.def.os.bios.and_then(|bios| bios.useserial) == Some(true) {
        m.push_str(",graphics=off");
    }
    // x86 PC machines have ACPI unless the definition asks for it (`<features><acpi/>`).
    if pc && feature(b.def, "acpi").is_none() {
        m.push_str(",acpi=off");
    }
    b.arg("-machine", m);
    let accel = match b.accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
    };
    b.arg(
        "-accel",
        format!("{accel}{}", features::accel_props(b.def, b.accel)),
    );
}

/// QEMU's spelling of a libvirt CPU feature name (QEMU's own feat2prop rule: `_` → `-`).
fn qemu_feature(name: &str) -> String {
    name.replace('_', "-")
}

fn cpu_arg(
    def: &DomainDef,
    ctx: &LaunchContext,
    accel: Accel,
) -> Result<Option<String>, VirtError> {
    let Some(cpu) = &def.cpu else {
        return Ok(None);
    };
    let mode = cpu.mode.unwrap_or(CpuMode::Custom);
    let mut out = match mode {
        CpuMode::HostPassthrough => {
            if accel != Accel::Kvm {
                return Err(unsupported(
                    "CPU mode 'host-passthrough' needs KVM (domain type 'kvm'); use \
                     'maximum' or 'host-model' with TCG",
                ));
            }
            let migratable = if cpu.migratable.unwrap_or(true) {
                "on"
            } else {
                "off"
            };
            format!("host,migratable={migratable}")
        }
        CpuMode::Maximum => match cpu.migratable {
            Some(false) => "max,migratable=off".to_string(),
            _ => "max".to_string(),
        },
        CpuMode::HostModel => match (&ctx.host_model_cpu, accel) {
            (Some(expanded), _) => expanded.clone(),
            (None, Accel::Kvm) => "host".to_string(),
            (None, Accel::Tcg) => "max".to_string(),
        },
        CpuMode::Custom => match &cpu.model {
            Some(m) => opt(m),
            None if cpu.features.is_empty() => return Ok(None),
            None => {
                return Err(unsupported(
                    "CPU features without a <model> need mode 'host-model', \
                     'host-passthrough' or 'maximum'",
                ))
            }
        },
    };
    for f in &cpu.features {
        let state = match f.policy.unwrap_or(CpuFeaturePolicy::Require) {
            CpuFeaturePolicy::Require | CpuFeaturePolicy::Force => "on",
            CpuFeaturePolicy::Disable | CpuFeaturePolicy::Forbid => "off",
            CpuFeaturePolicy::Optional => continue,
        };
        out.push_str(&format!(",{}={state}", opt(&qemu_feature(&f.name))));
    }
    Ok(Some(out))
}

/// `<cpu><cache>` as the last `-cpu` properties: `passthrough` shows the host's caches
/// (`host-cache-info=on`, with QEMU's own L3 off), `emulate` (level 3) adds QEMU's made-up
/// L3, `disable` removes it. Define checks the mode against the CPU mode and level.
fn cpu_cache(def: &DomainDef) -> &'static str {
    match def
        .cpu
        .as_ref()
        .and_then(|c| c.cache.as_ref())
        .map(|c| c.mode.as_str())
    {
        Some("passthrough") => ",host-cache-info=on,l3-cache=off",
        Some("emulate") => ",l3-cache=on",
        Some("disable") => ",l3-cache=off",
        _ => "",
    }
}

/// `-smp`: libvirt's form; without `<topology>` every vCPU is its own socket.
pub(crate) fn smp(def: &DomainDef) -> String {
    let max = def.vcpus.max(1);
    let current = if def.current_vcpus == 0 {
        max
    } else {
        def.current_vcpus
    };
    let mut s = current.to_string();
    if current < max {
        s.push_str(&format!(",maxcpus={max}"));
    }
    match def.cpu.as_ref().and_then(|c| c.topology) {
        Some(t) => s.push_str(&format!(
            ",sockets={},dies={},cores={},threads={}",
            t.sockets,
            t.dies.max(1),
            t.cores,
            t.threads
        )),
        None => s.push_str(&format!(",sockets={max},cores=1,threads=1")),
    }
    s
}

fn clock_args(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let clock = &b.def.clock;
    let mut rtc = match clock.offset {
        ClockOffset::Utc => "base=utc".to_string(),
        ClockOffset::Localtime => "base=localtime".to_string(),
        other => {
            return Err(unsupported(format!(
                "clock offset '{other}' is not supported by the QEMU driver"
            )))
        }
    };
    let policy = |name: TimerName| {
        clock
            .timers
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.tickpolicy)
    };
    if policy(TimerName::Rtc) == Some(TickPolicy::Catchup) {
        rtc.push_str(",driftfix=slew");
    }
    b.arg("-rtc", rtc);
    // The PIT's lost-tick policy exists only in KVM's in-kernel PIT.
    if b.accel == Accel::Kvm && policy(TimerName::Pit) == Some(TickPolicy::Delay) {
        b.arg("-global", "kvm-pit.lost_tick_policy=delay");
    }
    let hpet_off = clock
        .timers
        .iter()
        .any(|t| t.name == TimerName::Hpet && t.present == Some(false));
    if hpet_off {
        b.args.push("-no-hpet".into());
    }
    Ok(())
}

fn pm_args(b: &mut Builder<'_>) {
    let dev = match b.family {
        Family::Q35 => "ICH9-LPC",
        Family::I440fx => "PIIX4_PM",
        Family::Other => return,
    };
    for (state, prop) in [
        (b.def.pm.suspend_to_mem, "disable_s3"),
        (b.def.pm.suspend_to_disk, "disable_s4"),
    ] {
        if let Some(enabled) = state {
            let v = if enabled { 0 } else { 1 };
            b.arg("-global", format!("{dev}.{prop}={v}"));
        }
    }
}

fn boot_args(b: &mut Builder<'_>) {
    let os = &b.def.os;
    // libvirt's order: the menu, the BIOS's reboot timeout, the menu's splash time, strict.
    let mut boot: Vec<String> = Vec::new();
    if let Some(menu) = os.bootmenu {
        boot.push(if menu.enable { "menu=on" } else { "menu=off" }.into());
    }
    if let Some(t) = os.bios.and_then(|bios| bios.reboot_timeout) {
        boot.push(format!("reboot-timeout={t}"));
    }
    if let Some(t) = os.bootmenu.filter(|m| m.enable).and_then(|m| m.timeout_ms) {
        boot.push(format!("splash-time={t}"));
    }
    boot.push("strict=on".into());
    b.arg("-boot", boot.join(","));
    for (flag, value) in [
        ("-kernel", &os.kernel),
        ("-initrd", &os.initrd),
        ("-append", &os.cmdline),
        ("-dtb", &os.dtb),
    ] {
        if let Some(v) = value {
            b.arg(flag, v.clone());
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tuning_tests;
