//! What [`super::build`] can express, as the [`Honoured`] set define checks definitions
//! against: anything outside it is refused at define time with CONFIG_UNSUPPORTED naming the
//! element or attribute, instead of being dropped at start.

use virt_core::honour::Honoured;
use virt_core::model::{DomainCapabilities, DomainCapsBlock};

/// Elements and attributes the command line acts on (see `virt_core::honour` for the pattern
/// language). Identity and metadata are honoured as the definition's own data.
const PATHS: &[&str] = &[
    "/domain/@type",
    "/domain/name",
    "/domain/uuid",
    "/domain/title",
    "/domain/description",
    "/domain/metadata/**",
    "/domain/memory/**",
    "/domain/maxMemory/**",
    "/domain/currentMemory/**",
    "/domain/memoryBacking",
    "/domain/memoryBacking/locked",
    "/domain/vcpu",
    "/domain/vcpu/@placement",
    "/domain/vcpu/@current",
    // `<resource><partition>`: the cgroup partition (crate::cgroup).
    "/domain/resource",
    "/domain/resource/partition",
    // SMBIOS tables and fw_cfg entries (command/smbios.rs).
    "/domain/sysinfo/**",
    "/domain/os/smbios/**",
    "/domain/os",
    "/domain/os/type/**",
    "/domain/os/boot/**",
    "/domain/os/bootmenu/**",
    "/domain/os/loader",
    "/domain/os/loader/@readonly",
    "/domain/os/loader/@type",
    "/domain/os/nvram/**",
    "/domain/os/kernel",
    "/domain/os/initrd",
    "/domain/os/cmdline",
    "/domain/os/dtb",
    "/domain/features",
    "/domain/features/acpi",
    "/domain/features/apic",
    "/domain/features/pae",
    "/domain/features/vmport/**",
    // Hyper-V, KVM and machine features (command/features.rs); not <msrs>, which QEMU has
    // no per-guest control for (libvirt's QEMU driver stores it and does nothing).
    "/domain/features/hyperv/**",
    "/domain/features/kvm/**",
    "/domain/features/pvspinlock/**",
    "/domain/features/pmu/**",
    "/domain/features/smm/**",
    "/domain/features/ioapic/**",
    "/domain/features/vmcoreinfo/**",
    "/domain/cpu",
    "/domain/cpu/@mode",
    "/domain/cpu/@match",
    "/domain/cpu/@check",
    "/domain/cpu/@migratable",
    "/domain/cpu/model/**",
    "/domain/cpu/topology/**",
    "/domain/cpu/feature/**",
    "/domain/clock",
    "/domain/clock/@offset",
    "/domain/clock/timer",
    "/domain/clock/timer/@name",
    "/domain/clock/timer/@tickpolicy",
    "/domain/clock/timer/@present",
    "/domain/on_poweroff",
    "/domain/on_reboot",
    "/domain/on_crash",
    "/domain/pm/**",
    "/domain/devices",
    "/domain/devices/emulator",
    "/domain/devices/disk",
    "/domain/devices/disk/@type",
    "/domain/devices/disk/@device",
    "/domain/devices/disk/driver",
    "/domain/devices/disk/driver/@name",
    "/domain/devices/disk/driver/@type",
    "/domain/devices/disk/driver/@cache",
    "/domain/devices/disk/driver/@discard",
    "/domain/devices/disk/source",
    "/domain/devices/disk/source/@file",
    "/domain/devices/disk/source/@dev",
    "/domain/devices/disk/backingStore",
    "/domain/devices/disk/target",
    "/domain/devices/disk/target/@dev",
    "/domain/devices/disk/target/@bus",
    "/domain/devices/disk/readonly",
    "/domain/devices/disk/serial",
    "/domain/devices/disk/boot/**",
    "/domain/devices/disk/address/**",
    "/domain/devices/controller",
    "/domain/devices/controller/@type",
    "/domain/devices/controller/@index",
    "/domain/devices/controller/@model",
    "/domain/devices/controller/@ports",
    "/domain/devices/controller/model/**",
    "/domain/devices/controller/target/**",
    "/domain/devices/controller/address/**",
    "/domain/devices/interface",
    "/domain/devices/interface/@type",
    "/domain/devices/interface/mac/**",
    "/domain/devices/interface/source",
    "/domain/devices/interface/source/@bridge",
    "/domain/devices/interface/target/**",
    "/domain/devices/interface/model/**",
    "/domain/devices/interface/boot/**",
    "/domain/devices/interface/address/**",
    "/domain/devices/serial",
    "/domain/devices/serial/@type",
    "/domain/devices/serial/source/**",
    "/domain/devices/serial/target/**",
    "/domain/devices/console/**",
    "/domain/devices/input/**",
    "/domain/devices/graphics",
    "/domain/devices/graphics/@type",
    "/domain/devices/graphics/@port",
    "/domain/devices/graphics/@autoport",
    "/domain/devices/graphics/@listen",
    "/domain/devices/graphics/listen",
    "/domain/devices/graphics/listen/@type",
    "/domain/devices/graphics/listen/@address",
    "/domain/devices/audio/**",
    "/domain/devices/video",
    "/domain/devices/video/model",
    "/domain/devices/video/model/@type",
    "/domain/devices/video/model/@vram",
    "/domain/devices/video/model/@heads",
    "/domain/devices/video/model/@primary",
    "/domain/devices/video/address/**",
    "/domain/devices/memballoon/**",
    "/domain/devices/rng/**",
    "/domain/qemu:commandline/**",
];

/// Value constraints the capabilities below do not express.
const VALUES: &[(&str, &[&str])] = &[
    ("/domain/@type", &["qemu", "kvm"]),
    ("/domain/vcpu/@placement", &["static"]),
    ("/domain/clock/@offset", &["utc", "localtime"]),
    (
        "/domain/clock/timer/@name",
        &["rtc", "pit", "hpet", "kvmclock", "hypervclock"],
    ),
    ("/domain/clock/timer/@tickpolicy", &["catchup", "delay"]),
    ("/domain/on_poweroff", &["destroy"]),
    ("/domain/on_reboot", &["restart", "destroy"]),
    ("/domain/on_crash", &["destroy"]),
    ("/domain/devices/disk/@type", &["file", "block"]),
    ("/domain/devices/disk/driver/@name", &["qemu"]),
    ("/domain/devices/disk/driver/@type", &["raw", "qcow2"]),
    (
        "/domain/devices/disk/driver/@cache",
        &[
            "default",
            "none",
            "writethrough",
            "writeback",
            "directsync",
            "unsafe",
        ],
    ),
    ("/domain/devices/disk/driver/@discard", &["unmap", "ignore"]),
    (
        "/domain/devices/controller/@type",
        &["pci", "usb", "scsi", "sata", "ide", "virtio-serial"],
    ),
    (
        "/domain/devices/controller/@model",
        &[
            "pci-root",
            "pcie-root",
            "pcie-root-port",
            "pci-bridge",
            "qemu-xhci",
            "piix3-uhci",
            "none",
            "virtio-scsi",
        ],
    ),
    (
        "/domain/devices/interface/@type",
        &["user", "bridge", "ethernet"],
    ),
    (
        "/domain/devices/interface/model/@type",
        &["virtio", "e1000", "e1000e", "rtl8139"],
    ),
    (
        "/domain/devices/serial/@type",
        &["pty", "null", "file", "unix"],
    ),
    ("/domain/devices/serial/target/@type", &["isa-serial"]),
    ("/domain/devices/serial/target/model/@name", &["isa-serial"]),
    ("/domain/devices/console/target/@type", &["serial"]),
    (
        "/domain/devices/input/@type",
        &["mouse", "keyboard", "tablet"],
    ),
    ("/domain/devices/input/@bus", &["ps2", "usb"]),
    ("/domain/devices/graphics/listen/@type", &["address"]),
    ("/domain/devices/audio/@type", &["none"]),
    (
        "/domain/devices/memballoon/@model",
        &[
            "virtio",
            "virtio-transitional",
            "virtio-non-transitional",
            "none",
        ],
    ),
];

fn block(name: &str, enums: &[(&str, &[&str])]) -> DomainCapsBlock {
    DomainCapsBlock {
        name: name.into(),
        supported: true,
        enums: enums
            .iter()
            .map(|(e, vals)| (e.to_string(), vals.iter().map(|v| v.to_string()).collect()))
            .collect(),
    }
}

/// What [`super::build`] supports: the elements it acts on, and the values it knows, with
/// the device enums published the way domain capabilities publish them.
pub fn honoured() -> Honoured {
    let caps = DomainCapabilities {
        devices: vec![
            block(
                "disk",
                &[
                    ("diskDevice", &["disk", "cdrom"]),
                    ("bus", &["virtio", "sata", "ide", "scsi"]),
                ],
            ),
            block("graphics", &[("type", &["vnc"])]),
            block(
                "video",
                &[("modelType", &["vga", "cirrus", "bochs", "virtio", "none"])],
            ),
            block(
                "rng",
                &[
                    (
                        "model",
                        &["virtio", "virtio-transitional", "virtio-non-transitional"],
                    ),
                    ("backendModel", &["random", "builtin"]),
                ],
            ),
        ],
        ..DomainCapabilities::default()
    };
    Honoured {
        driver: "QEMU".into(),
        caps,
        paths: PATHS.iter().map(|p| p.to_string()).collect(),
        values: VALUES
            .iter()
            .map(|(p, v)| (p.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
    }
}
