//! What the LXC driver accepts at define, and what it fills in: the honoured set (everything
//! else is refused by name with CONFIG_UNSUPPORTED, never dropped), libvirt's LXC post-parse
//! defaults (a pty console, `/sbin/init`, the controller as emulator) and the checks libvirt
//! makes before a container can start that we make at define instead.

use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::honour::Honoured;
use virt_core::model::chardev::{CharDev, CharSource, CharTarget};
use virt_core::model::enums::CharType;
use virt_core::model::{DomainCapabilities, DomainCapsBlock, DomainDef};
use virt_core::VirtError;

/// libvirt's own controller, as definitions written for libvirt name it.
pub const LIBVIRT_LXC: &str = "/usr/lib/libvirt/libvirt_lxc";

/// The elements and attributes the LXC driver acts on.
const PATHS: &[&str] = &[
    "/domain/@type",
    "/domain/@id",
    "/domain/name",
    "/domain/uuid",
    "/domain/title",
    "/domain/description",
    "/domain/metadata/**",
    "/domain/memory/**",
    "/domain/currentMemory/**",
    "/domain/vcpu",
    "/domain/vcpu/@placement",
    // The cgroup limits (live/cgroups.rs).
    "/domain/memtune",
    "/domain/memtune/hard_limit/**",
    "/domain/memtune/soft_limit/**",
    "/domain/memtune/swap_hard_limit/**",
    "/domain/cputune",
    "/domain/cputune/shares",
    "/domain/cputune/period",
    "/domain/cputune/quota",
    "/domain/blkiotune",
    "/domain/blkiotune/weight",
    "/domain/resource",
    "/domain/resource/partition",
    // The container's PID 1 (the plan: init, argv, environment, directory, user).
    "/domain/os",
    "/domain/os/type/**",
    "/domain/os/init",
    "/domain/os/initarg",
    "/domain/os/initenv/**",
    "/domain/os/initdir",
    "/domain/os/inituser",
    "/domain/os/initgroup",
    "/domain/idmap/**",
    "/domain/features",
    "/domain/features/privnet",
    "/domain/features/capabilities/**",
    "/domain/clock",
    "/domain/clock/@offset",
    "/domain/on_poweroff",
    "/domain/on_reboot",
    "/domain/on_crash",
    "/domain/devices",
    "/domain/devices/emulator",
    // Mounts: bind, tmpfs, raw images on loop devices, block devices.
    "/domain/devices/filesystem",
    "/domain/devices/filesystem/@type",
    "/domain/devices/filesystem/@accessmode",
    "/domain/devices/filesystem/driver",
    "/domain/devices/filesystem/driver/@type",
    "/domain/devices/filesystem/driver/@format",
    "/domain/devices/filesystem/source/**",
    "/domain/devices/filesystem/target/**",
    "/domain/devices/filesystem/readonly",
    "/domain/devices/filesystem/alias/**",
    // veth pairs on a bridge or a virtnetworkd network.
    "/domain/devices/interface",
    "/domain/devices/interface/@type",
    "/domain/devices/interface/mac/**",
    "/domain/devices/interface/source",
    "/domain/devices/interface/source/@bridge",
    "/domain/devices/interface/source/@network",
    "/domain/devices/interface/source/@portid",
    "/domain/devices/interface/target/**",
    "/domain/devices/interface/guest/**",
    "/domain/devices/interface/ip/**",
    "/domain/devices/interface/route/**",
    "/domain/devices/interface/mtu/**",
    "/domain/devices/interface/alias/**",
    "/domain/devices/console",
    "/domain/devices/console/@type",
    "/domain/devices/console/@tty",
    "/domain/devices/console/source",
    "/domain/devices/console/source/@path",
    "/domain/devices/console/target/**",
    "/domain/devices/console/alias/**",
    "/domain/devices/hostdev/**",
];

/// Value constraints beyond the capabilities' enums.
const VALUES: &[(&str, &[&str])] = &[
    ("/domain/@type", &["lxc"]),
    ("/domain/os/type", &["exe"]),
    ("/domain/vcpu/@placement", &["static"]),
    ("/domain/clock/@offset", &["utc", "localtime"]),
    ("/domain/on_poweroff", &["destroy"]),
    ("/domain/on_reboot", &["restart", "destroy"]),
    ("/domain/on_crash", &["destroy"]),
    (
        "/domain/devices/filesystem/@type",
        &["mount", "ram", "block", "file"],
    ),
    ("/domain/devices/filesystem/@accessmode", &["passthrough"]),
    ("/domain/devices/filesystem/driver/@type", &["path", "loop"]),
    ("/domain/devices/filesystem/driver/@format", &["raw"]),
    ("/domain/devices/interface/@type", &["bridge", "network"]),
    ("/domain/devices/console/@type", &["pty"]),
    ("/domain/devices/console/target/@type", &["lxc"]),
    ("/domain/devices/hostdev/@mode", &["capabilities"]),
    ("/domain/devices/hostdev/@type", &["storage", "misc", "net"]),
];

/// The domain capabilities the LXC driver publishes.
pub fn domain_capabilities() -> DomainCapabilities {
    let block = |name: &str, enums: &[(&str, &[&str])]| DomainCapsBlock {
        name: name.into(),
        supported: true,
        enums: enums
            .iter()
            .map(|(e, v)| (e.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
    };
    DomainCapabilities {
        domain: "lxc".into(),
        devices: vec![
            block("hostdev", &[("mode", &["capabilities"])]),
            block("console", &[("type", &["pty"])]),
        ],
        ..DomainCapabilities::default()
    }
}

/// What the LXC driver acts on.
pub fn honoured() -> Honoured {
    Honoured {
        driver: "LXC".into(),
        caps: domain_capabilities(),
        paths: PATHS.iter().map(|p| p.to_string()).collect(),
        values: VALUES
            .iter()
            .map(|(p, v)| (p.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
    }
}

fn unsupported(path: &str, detail: String) -> VirtError {
    let mut e = VirtError::new(ErrorCode::ConfigUnsupported, ErrorDomain::Lxc, detail);
    e.violations.push(Violation {
        path: path.into(),
        description: e.detail.clone(),
    });
    e
}

fn invalid(path: &str, detail: String) -> VirtError {
    let mut e = VirtError::new(ErrorCode::XmlError, ErrorDomain::Lxc, detail);
    e.violations.push(Violation {
        path: path.into(),
        description: e.detail.clone(),
    });
    e
}

/// libvirt's LXC post-parse: the host's architecture when none is named, the controller as
/// emulator when none is named, one pty console (target type `lxc`, port 0) when there is
/// none; console targets without a type become `lxc`.
pub fn post_parse(def: &mut DomainDef, controller: &str) {
    if def.os.arch.is_none() {
        def.os.arch = Some(virt_core::hostinfo::host_arch());
    }
    if def.devices.emulator.is_none() {
        def.devices.emulator = Some(controller.to_string());
    }
    if def.devices.consoles.is_empty() {
        def.devices.consoles.push(CharDev {
            source: CharSource {
                char_type: CharType::Pty,
                ..CharSource::default()
            },
            target: CharTarget {
                target_type: Some("lxc".into()),
                port: Some(0),
                ..CharTarget::default()
            },
            alias: None,
            address: None,
        });
    }
    for (i, c) in def.devices.consoles.iter_mut().enumerate() {
        if c.target.target_type.is_none() {
            c.target.target_type = Some("lxc".into());
        }
        if c.target.port.is_none() {
            c.target.port = Some(i as u32);
        }
    }
}

/// The rules a container definition must follow beyond the honoured set, each refusal naming
/// its element: the emulator is a controller (ours or libvirt's, which ours stands in for),
/// one console, filesystems with absolute targets and a usable source, the ID maps complete.
pub fn check(def: &DomainDef, controller: &str) -> Result<(), VirtError> {
    if let Some(e) = def.devices.emulator.as_deref() {
        let ours = e == controller || e.ends_with(crate::CONTROLLER_NAME);
        if !(ours || e == LIBVIRT_LXC || e.ends_with("/libvirt_lxc")) {
            return Err(unsupported(
                "/domain/devices/emulator",
                format!(
                    "emulator '{e}' is not supported: virtlxcd runs each container under its \
                     own controller ({controller}), standing in for libvirt's {LIBVIRT_LXC}"
                ),
            ));
        }
    }
    if def.devices.consoles.len() > 1 {
        return Err(unsupported(
            "/domain/devices/console",
            format!(
                "{} consoles: virtlxcd gives a container one console",
                def.devices.consoles.len()
            ),
        ));
    }
    let mut has_root = false;
    for (i, fs) in def.devices.filesystems.iter().enumerate() {
        let at = format!("/domain/devices/filesystem[{}]", i + 1);
        if !fs.target.starts_with('/') {
            return Err(invalid(
                &format!("{at}/target/@dir"),
                format!("filesystem target '{}' is not an absolute path", fs.target),
            ));
        }
        if fs.target == "/" {
            if has_root {
                return Err(invalid(
                    &format!("{at}/target/@dir"),
                    "more than one filesystem has target '/'".into(),
                ));
            }
            has_root = true;
        }
        let source_needed = fs.fs_type != "ram";
        match fs.source.as_deref() {
            Some(s) if source_needed && !s.starts_with('/') => {
                return Err(invalid(
                    &format!("{at}/source"),
                    format!("filesystem source '{s}' is not an absolute path"),
                ))
            }
            None if source_needed => {
                return Err(invalid(
                    &format!("{at}/source"),
                    format!("filesystem with target '{}' has no source", fs.target),
                ))
            }
            _ => {}
        }
        if fs.fs_type == "ram" && fs.usage_kib.unwrap_or(0) == 0 {
            return Err(invalid(
                &format!("{at}/source/@usage"),
                format!("ram filesystem '{}' needs a usage (its size)", fs.target),
            ));
        }
        if fs.fs_type == "ram" && fs.target == "/" {
            return Err(unsupported(
                &format!("{at}/@type"),
                "a ram filesystem cannot be the root".into(),
            ));
        }
    }
    if def.idmap.uids.is_empty() != def.idmap.gids.is_empty() {
        return Err(invalid(
            "/domain/idmap",
            "both uid and gid maps are needed for a user namespace".into(),
        ));
    }
    Ok(())
}
