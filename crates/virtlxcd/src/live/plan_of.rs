//! The plan of one run (`crate::plan::Plan`) from a container's live definition: libvirt's LXC
//! rules for the root, the mounts, init's environment, the namespaces and the capabilities.

use std::path::{Path, PathBuf};

use virt_core::model::hostdev::HostdevCaps;
use virt_core::model::DomainDef;

use crate::plan::{HostDevice, IdRange, Interface, Mount, MountKind, Plan};

/// Linux capability numbers by libvirt's names.
const CAP_NUMBERS: &[(&str, u32)] = &[
    ("chown", 0),
    ("dac_override", 1),
    ("dac_read_search", 2),
    ("fowner", 3),
    ("fsetid", 4),
    ("kill", 5),
    ("setgid", 6),
    ("setuid", 7),
    ("setpcap", 8),
    ("linux_immutable", 9),
    ("net_bind_service", 10),
    ("net_broadcast", 11),
    ("net_admin", 12),
    ("net_raw", 13),
    ("ipc_lock", 14),
    ("ipc_owner", 15),
    ("sys_module", 16),
    ("sys_rawio", 17),
    ("sys_chroot", 18),
    ("sys_ptrace", 19),
    ("sys_pacct", 20),
    ("sys_admin", 21),
    ("sys_boot", 22),
    ("sys_nice", 23),
    ("sys_resource", 24),
    ("sys_time", 25),
    ("sys_tty_config", 26),
    ("mknod", 27),
    ("lease", 28),
    ("audit_write", 29),
    ("audit_control", 30),
    ("setfcap", 31),
    ("mac_override", 32),
    ("mac_admin", 33),
    ("syslog", 34),
    ("wake_alarm", 35),
    ("block_suspend", 36),
];

/// What libvirt's default policy takes away: loading modules, setting the clock, making
/// device nodes, auditing control, LSM configuration. `sys_boot` stays: the kernel turns a
/// reboot(2) inside a PID namespace into the end of its init, which the driver sees.
const DEFAULT_DROPPED: &[&str] = &[
    "sys_module",
    "sys_time",
    "mknod",
    "audit_control",
    "mac_admin",
];

/// The capabilities init loses, by `<features><capabilities>`: the default policy drops
/// [`DEFAULT_DROPPED`] unless turned on, and whatever is turned off; `allow` drops only what
/// is turned off; `deny` drops everything not turned on.
pub(crate) fn dropped_caps(def: &DomainDef) -> Vec<u32> {
    let pc = def.process_caps();
    let state = |name: &str| pc.caps.iter().find(|(n, _)| n == name).map(|(_, on)| *on);
    CAP_NUMBERS
        .iter()
        .filter(|(name, _)| match pc.policy.as_str() {
            "allow" => state(name) == Some(false),
            "deny" => state(name) != Some(true),
            _ => match state(name) {
                Some(on) => !on,
                None => DEFAULT_DROPPED.contains(name),
            },
        })
        .map(|(_, n)| *n)
        .collect()
}

/// The container's interfaces as the controller sets them up: host ends and peers already
/// made (`pairs`, in interface order).
fn interfaces(def: &DomainDef, pairs: &[(String, String)]) -> Vec<Interface> {
    def.devices
        .interfaces
        .iter()
        .zip(pairs)
        .enumerate()
        .map(|(i, (n, (host, peer)))| Interface {
            host_end: host.clone(),
            container_end: peer.clone(),
            name: n.guest_dev.clone().unwrap_or_else(|| format!("eth{i}")),
            mac: n.mac.clone().unwrap_or_default(),
            addresses: n
                .guest_ip
                .ips
                .iter()
                .map(|ip| match ip.prefix {
                    Some(p) => format!("{}/{p}", ip.address),
                    None => ip.address.to_string(),
                })
                .collect(),
            routes: n
                .guest_ip
                .routes
                .iter()
                .map(|r| {
                    let dest = match (r.address.is_unspecified(), r.prefix) {
                        (true, None | Some(0)) => "default".to_string(),
                        (_, Some(p)) => format!("{}/{p}", r.address),
                        (_, None) => r.address.to_string(),
                    };
                    (dest, r.gateway.to_string())
                })
                .collect(),
            mtu: n.mtu,
        })
        .collect()
}

/// libvirt's environment of a container's init, then every `<initenv>`.
fn environment(def: &DomainDef) -> Vec<(String, String)> {
    let uuid = def.uuid.to_string();
    let mut env = vec![
        ("PATH".to_string(), "/bin:/usr/bin".to_string()),
        ("TERM".to_string(), "linux".to_string()),
        ("HOME".to_string(), "/".to_string()),
        ("container".to_string(), "lxc-libvirt".to_string()),
        ("container_uuid".to_string(), uuid.clone()),
        ("LIBVIRT_LXC_UUID".to_string(), uuid),
        ("LIBVIRT_LXC_NAME".to_string(), def.name.clone()),
    ];
    let cmdline = def.os.init_args.join(" ");
    if !cmdline.is_empty() {
        env.push(("LIBVIRT_LXC_CMDLINE".to_string(), cmdline));
    }
    for (k, v) in &def.os.init_env {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// The plan of `def`'s run.
pub(crate) struct Inputs<'a> {
    pub def: &'a DomainDef,
    /// Veth pairs made for its interfaces, `(host end, peer)`.
    pub pairs: &'a [(String, String)],
    pub cgroup_procs: Vec<PathBuf>,
    pub cgroup_dirs: Vec<PathBuf>,
    pub run_root: &'a Path,
}

/// The plan for `inputs`.
pub(crate) fn plan(inputs: Inputs<'_>) -> Plan {
    let def = inputs.def;
    let mut root = None;
    let mut root_readonly = false;
    let mut mounts = Vec::new();
    for fs in &def.devices.filesystems {
        let source = fs.source.clone().map(PathBuf::from);
        if fs.target == "/" && matches!(fs.fs_type.as_str(), "mount" | "bind" | "") {
            root = source;
            root_readonly = fs.readonly;
            continue;
        }
        let kind = match fs.fs_type.as_str() {
            "ram" => MountKind::Ram {
                size_kib: fs.usage_kib.unwrap_or(0),
            },
            "file" => MountKind::Image {
                source: source.unwrap_or_default(),
                loop_device: true,
            },
            "block" => MountKind::Image {
                source: source.unwrap_or_default(),
                loop_device: false,
            },
            _ => MountKind::Bind {
                source: source.unwrap_or_default(),
            },
        };
        mounts.push(Mount {
            kind,
            target: fs.target.clone(),
            readonly: fs.readonly,
        });
    }
    // Parents before children.
    mounts.sort_by_key(|m| m.target.matches('/').count());
    let hostdevs: Vec<HostDevice> = def
        .devices
        .hostdevs
        .iter()
        .filter_map(|h| match &h.caps {
            Some(HostdevCaps::Storage { block }) => Some(HostDevice::Block { path: block.into() }),
            Some(HostdevCaps::Misc { char_dev }) => Some(HostDevice::Char {
                path: char_dev.into(),
            }),
            Some(HostdevCaps::Net { interface, .. }) => Some(HostDevice::Net {
                name: interface.clone(),
            }),
            None => None,
        })
        .collect();
    let privnet = def.features.iter().any(|f| f.name == "privnet");
    let private_net = privnet
        || !def.devices.interfaces.is_empty()
        || hostdevs.iter().any(|h| matches!(h, HostDevice::Net { .. }));
    let map = |l: &[virt_core::model::tuning::IdMapEntry]| -> Vec<IdRange> {
        l.iter()
            .map(|e| IdRange {
                start: e.start,
                target: e.target,
                count: e.count,
            })
            .collect()
    };
    let mut init = vec![def.os.init.clone().unwrap_or_default()];
    init.extend(def.os.init_args.iter().cloned());
    Plan {
        name: def.name.clone(),
        uuid: def.uuid.to_string(),
        root,
        root_readonly,
        mounts,
        init,
        env: environment(def),
        init_dir: def.os.init_dir.clone(),
        init_user: def.os.init_user.clone(),
        init_group: def.os.init_group.clone(),
        private_net,
        uid_map: map(&def.idmap.uids),
        gid_map: map(&def.idmap.gids),
        interfaces: interfaces(def, inputs.pairs),
        hostdevs,
        cgroup_procs: inputs.cgroup_procs,
        cgroup_dirs: inputs.cgroup_dirs,
        drop_caps: dropped_caps(def),
        control_socket: inputs.run_root.join(format!("{}.sock", def.name)),
        exit_record: inputs.run_root.join(format!("{}.exit", def.name)),
    }
}

/// `b|c MAJ:MIN rw[m]` device-cgroup lines for the host devices and block filesystems of
/// `def` (read-only ones without `w`).
pub(crate) fn device_rules(def: &DomainDef) -> Vec<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut paths: Vec<(String, bool)> = def
        .devices
        .hostdevs
        .iter()
        .filter_map(|h| match &h.caps {
            Some(HostdevCaps::Storage { block }) => Some((block.clone(), false)),
            Some(HostdevCaps::Misc { char_dev }) => Some((char_dev.clone(), false)),
            _ => None,
        })
        .collect();
    paths.extend(
        def.devices
            .filesystems
            .iter()
            .filter(|f| f.fs_type == "block")
            .filter_map(|f| f.source.clone().map(|s| (s, f.readonly))),
    );
    paths
        .into_iter()
        .filter_map(|(p, ro)| {
            let m = std::fs::metadata(&p).ok()?;
            let kind = if m.file_type().is_block_device() {
                'b'
            } else if m.file_type().is_char_device() {
                'c'
            } else {
                return None;
            };
            let rdev = m.rdev();
            let (major, minor) = (libc::major(rdev), libc::minor(rdev));
            Some(format!(
                "{kind} {major}:{minor} {}",
                if ro { "r" } else { "rwm" }
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_drops_libvirts_set_and_what_is_turned_off() {
        let def = DomainDef::default();
        assert_eq!(dropped_caps(&def), vec![16, 25, 27, 30, 33]);
    }

    #[test]
    fn initenv_replaces_a_default_and_adds_the_rest() {
        let mut def = DomainDef {
            name: "c1".into(),
            ..DomainDef::default()
        };
        def.os.init_env = vec![("PATH".into(), "/sbin".into()), ("FOO".into(), "1".into())];
        let env = environment(&def);
        assert!(env.contains(&("PATH".into(), "/sbin".into())));
        assert!(env.contains(&("LIBVIRT_LXC_NAME".into(), "c1".into())));
        assert_eq!(env.last(), Some(&("FOO".to_string(), "1".to_string())));
    }
}
