//! Host facts: node info from /proc and /sys, the emulator binaries and their versions, KVM's
//! vCPU limit, display ports. The capabilities built from them are `capabilities.rs`'s.

use std::path::{Path, PathBuf};

use crate::probe::QemuCaps;

/// The domain types the driver accepts.
pub const VIRT_TYPES: [&str; 2] = ["qemu", "kvm"];

/// vCPUs libvirt allows a `qemu` (TCG) domain: qemuConnectGetMaxVcpus answers 16.
pub const TCG_MAX_VCPUS: u32 = 16;

/// Host facts every driver shares (libvirt's virNodeGetInfo and the architecture name).
pub use virt_core::hostinfo::{cpuinfo, host_arch, node_info, node_info_from};

/// `qemu-system-ARCH` on `PATH`, if installed.
pub fn find_emulator(arch: &str) -> Option<PathBuf> {
    let name = format!("qemu-system-{arch}");
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// A TCP port from 5900 up that nothing listens on at `addr` and that is not in `taken`, nor
/// handed out by this function in the last minute (a guest given a port may not have bound
/// it yet), as libvirt's port allocator picks display ports.
pub fn pick_display_port(addr: &str, taken: &[u16]) -> Option<u16> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static RECENT: Mutex<Option<HashMap<u16, Instant>>> = Mutex::new(None);
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    let recent = recent.get_or_insert_with(HashMap::new);
    recent.retain(|_, t| t.elapsed() < Duration::from_secs(60));
    let host = if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    };
    let port = (5900..=u16::MAX).find(|p| {
        !taken.contains(p)
            && !recent.contains_key(p)
            && std::net::TcpListener::bind(format!("{host}:{p}")).is_ok()
    })?;
    recent.insert(port, Instant::now());
    Some(port)
}

/// Whether KVM is usable: `/dev/kvm` opens read-write.
pub fn kvm_available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// KVM's vCPU limit as libvirt's virHostCPUGetKVMMaxVCPUs: KVM_CAP_MAX_VCPUS, else
/// KVM_CAP_NR_VCPUS, else 4; `None` when /dev/kvm cannot be opened.
pub fn kvm_max_vcpus() -> Option<u32> {
    use std::os::fd::AsRawFd;
    const KVM_CHECK_EXTENSION: u64 = 0xAE03;
    const KVM_CAP_NR_VCPUS: i32 = 9;
    const KVM_CAP_MAX_VCPUS: i32 = 66;
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .ok()?;
    for cap in [KVM_CAP_MAX_VCPUS, KVM_CAP_NR_VCPUS] {
        // SAFETY: KVM_CHECK_EXTENSION takes an integer argument and touches no memory of ours;
        // the descriptor is open for the duration of the call.
        let n = unsafe { nix::libc::ioctl(kvm.as_raw_fd(), KVM_CHECK_EXTENSION as _, cap) };
        if n > 0 {
            return u32::try_from(n).ok();
        }
    }
    Some(4)
}

/// The emulator's version as `major * 1_000_000 + minor * 1_000 + micro`, from
/// `EMULATOR --version` ("QEMU emulator version 7.2.22 (...)"); 0 when unknown.
pub fn emulator_version(emulator: &Path) -> u64 {
    std::process::Command::new(emulator)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or(0)
}

/// The number of "QEMU emulator version X.Y.Z" text.
pub fn parse_version(text: &str) -> Option<u64> {
    let rest = text.split("version ").nth(1)?;
    virt_core::hostinfo::version_number(rest.split_whitespace().next()?)
}

/// Every `qemu-system-ARCH` on `PATH`, first of each name.
pub fn installed_emulators() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // `qemu-system-ARCH` only, as libvirt looks for: variants such as
            // `qemu-system-x86_64-microvm` are not a second emulator of the architecture.
            .filter(|n| {
                n.strip_prefix("qemu-system-")
                    .is_some_and(|arch| !arch.is_empty() && !arch.contains('-'))
            })
            .collect();
        names.sort();
        for name in names {
            let p = dir.join(&name);
            if p.is_file() && seen.insert(name) {
                found.push(p);
            }
        }
    }
    found
}

/// Probes (or reads from the cache in `cache_dir`, `STATE/qemu/capabilities`) every
/// installed emulator; one that fails to probe is logged and left out.
pub async fn probe_installed(cache_dir: &Path) -> Vec<QemuCaps> {
    let mut all = Vec::new();
    for bin in installed_emulators() {
        match crate::probe::probe(&bin, cache_dir).await {
            Ok(c) => all.push(c),
            Err(e) => {
                tracing::warn!(binary = %bin.display(), error = %e.message(), "skipping emulator")
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::{capabilities_from, domain_capabilities_from};
    use crate::probe::Machine;
    use virt_core::error::ErrorCode;
    use virt_core::model::DomainCapabilities;
    use virt_core::types::NodeInfo;

    #[test]
    fn qemu_version_text_becomes_libvirts_number() {
        assert_eq!(
            parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright"),
            Some(7_002_022)
        );
        assert_eq!(
            parse_version("QEMU emulator version 8.1\n"),
            Some(8_001_000)
        );
        assert_eq!(parse_version("nothing here"), None);
    }

    #[test]
    fn node_info_reads_topology_memory_and_speed() {
        let mut cpuinfo = String::new();
        for i in 0..8 {
            cpuinfo.push_str(&format!(
                "processor\t: {i}\ncpu MHz\t\t: 2445.404\nphysical id\t: {}\nsiblings\t: 4\ncpu cores\t: 2\n\n",
                i / 4
            ));
        }
        let info = node_info_from("x86_64", &cpuinfo, "MemTotal:       16318412 kB\n", 1);
        assert_eq!(
            info,
            NodeInfo {
                model: "x86_64".into(),
                memory_kib: 16_318_412,
                cpus: 8,
                mhz: 2445,
                nodes: 1,
                sockets: 2,
                cores: 2,
                threads: 2,
            }
        );
    }

    #[test]
    fn node_info_without_topology_fields_still_counts_cpus() {
        let info = node_info_from("aarch64", "processor : 0\n\nprocessor : 1\n", "", 0);
        assert_eq!(
            (info.cpus, info.sockets, info.cores, info.threads),
            (2, 1, 2, 1)
        );
        assert_eq!(info.nodes, 1);
    }

    fn probed_fixture() -> QemuCaps {
        use crate::probe::{AccelCaps, CpuExpansion, CpuModel};
        let machine = |name: &str, alias: Option<&str>, default: bool, max: u32| Machine {
            name: name.into(),
            alias: alias.map(str::to_string),
            is_default: default,
            cpu_max: max,
            deprecated: false,
            hotpluggable_cpus: true,
            default_cpu_type: None,
        };
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        QemuCaps {
            binary: "/usr/bin/qemu-system-x86_64".into(),
            version: (7, 2, 22),
            package: String::new(),
            arch: "x86_64".into(),
            machines: vec![
                machine("pc-q35-7.2", Some("q35"), false, 288),
                machine("pc-i440fx-7.2", Some("pc"), true, 255),
            ],
            devices: names(&[
                "virtio-blk-pci",
                "ide-hd",
                "ide-cd",
                "ich9-ahci",
                "VGA",
                "virtio-rng-pci",
            ]),
            types: names(&["rng-random", "rng-builtin"]),
            vnc: true,
            kvm: None,
            tcg: Some(AccelCaps {
                cpu_models: vec![CpuModel {
                    name: "qemu64".into(),
                    unavailable_features: Vec::new(),
                    deprecated: false,
                    alias_of: None,
                }],
                host_model: Some(CpuExpansion {
                    model: "max".into(),
                    base: "base".into(),
                    features: vec![("sse2".into(), true)],
                }),
            }),
        }
    }

    #[test]
    fn probed_guest_lists_default_machine_first_with_aliases_and_tcg_only() {
        let caps = capabilities_from(&[probed_fixture()]);
        let g = &caps.guests[0];
        assert_eq!(g.domain_types, ["qemu"], "no kvm when KVM was not usable");
        let names: Vec<(&str, Option<&str>)> = g
            .machine_entries
            .iter()
            .map(|m| (m.name.as_str(), m.canonical.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("pc-i440fx-7.2", None),
                ("pc", Some("pc-i440fx-7.2")),
                ("pc-q35-7.2", None),
                ("q35", Some("pc-q35-7.2")),
            ]
        );
        assert_eq!(g.machine_entries[2].max_cpus, Some(288));
    }

    #[test]
    fn probed_domain_caps_follow_machine_type_and_accelerator() {
        let caps = probed_fixture();
        let dc = domain_capabilities_from(&caps, None, "qemu", &[]).expect("default machine");
        assert_eq!(dc.machine.as_deref(), Some("pc-i440fx-7.2"));
        assert_eq!(dc.vcpu_max, 255);
        let modes: Vec<(&str, bool)> = dc.cpu_modes.iter().map(|(m, s)| (m.as_str(), *s)).collect();
        assert_eq!(
            modes,
            [
                ("host-passthrough", false),
                ("maximum", true),
                ("host-model", true),
                ("custom", true)
            ]
        );
        let enums = |dc: &DomainCapabilities, block: &str, name: &str| -> Vec<String> {
            dc.devices
                .iter()
                .find(|b| b.name == block)
                .and_then(|b| b.enums.iter().find(|(n, _)| n == name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(enums(&dc, "disk", "bus"), ["virtio", "sata", "ide"]);
        assert_eq!(enums(&dc, "disk", "diskDevice"), ["disk", "cdrom"]);
        assert_eq!(enums(&dc, "rng", "backendModel"), ["random", "builtin"]);
        assert_eq!(enums(&dc, "graphics", "type"), ["vnc"]);
        // q35 has no IDE controller: the alias resolves and ide is gone.
        let q35 = domain_capabilities_from(&caps, Some("q35"), "qemu", &[]).expect("q35");
        assert_eq!(q35.machine.as_deref(), Some("pc-q35-7.2"));
        assert_eq!(q35.vcpu_max, 288);
        assert_eq!(enums(&q35, "disk", "bus"), ["virtio", "sata"]);
        // What the accelerator can run: the custom list and the host-model expansion.
        assert_eq!(dc.custom_models.len(), 1);
        assert_eq!(
            (
                dc.custom_models[0].name.as_str(),
                dc.custom_models[0].usable
            ),
            ("qemu64", Some(true))
        );
        let hm = dc.host_model.as_ref().expect("host-model expansion");
        assert_eq!(hm.model, "max");
        assert_eq!(hm.features, [("require".to_string(), "sse2".to_string())]);
        // Without VGA nor virtio GPU devices only `none` is left.
        assert_eq!(enums(&dc, "video", "modelType"), ["vga", "none"]);
        let err = domain_capabilities_from(&caps, Some("virt"), "qemu", &[]).expect_err("machine");
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message().contains("'virt'"), "{}", err.message());
        let err = domain_capabilities_from(&caps, None, "kvm", &[]).expect_err("kvm");
        assert_eq!(err.code, ErrorCode::InvalidArg);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn probed_capabilities_format_as_libvirt_xml() {
        use virt_core::xml::DomainXmlCodec;
        let dir = tempfile::tempdir().expect("dir");
        let probed = probe_installed(dir.path()).await;
        let x86 = probed
            .iter()
            .find(|c| c.arch() == "x86_64")
            .expect("qemu-system-x86_64 probed");
        let xml = virt_xml::LibvirtXml.format_capabilities(&capabilities_from(&probed));
        assert!(xml.contains("<domain type='qemu'/>"), "{xml}");
        assert_eq!(
            xml.contains("<domain type='kvm'/>"),
            x86.kvm_usable(),
            "{xml}"
        );
        let pc = x86.machine("pc").expect("pc alias");
        let entry = format!(
            "<machine canonical='{}' maxCpus='{}'>pc</machine>",
            pc.name, pc.cpu_max
        );
        assert!(xml.contains(&entry), "{entry} in {xml}");
        let dc = domain_capabilities_from(x86, Some("q35"), "qemu", &[]).expect("domcaps");
        let xml = virt_xml::LibvirtXml.format_domain_capabilities(&dc);
        assert!(xml.contains("<machine>pc-q35-"), "{xml}");
        assert!(
            xml.contains("<mode name='maximum' supported='yes'/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<mode name='host-passthrough' supported='no'/>"),
            "{xml}"
        );
        assert!(xml.contains("<value>virtio</value>"), "{xml}");
        assert!(xml.contains("<value>vnc</value>"), "{xml}");
    }

    /// A definition whose only device uses `value` of enum `name` of device block `block`.
    fn definition_using(block: &str, name: &str, value: &str) -> Option<String> {
        let dev = match (block, name) {
            ("disk", "bus") if value == "fdc" => "<disk type='file' device='floppy'>\
                <source file='/var/lib/x.img'/><target dev='fda' bus='fdc'/></disk>"
                .to_string(),
            ("disk", "bus") => {
                let target = match value {
                    "virtio" => "vda",
                    "ide" => "hda",
                    _ => "sda",
                };
                format!(
                    "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
                     <source file='/var/lib/x.img'/><target dev='{target}' bus='{value}'/></disk>"
                )
            }
            ("disk", "diskDevice") if value == "floppy" => "<disk type='file' device='floppy'>\
                <source file='/var/lib/x.img'/><target dev='fda' bus='fdc'/></disk>"
                .to_string(),
            ("disk", "diskDevice") => format!(
                "<disk type='file' device='{value}'><driver name='qemu' type='raw'/>\
                 <source file='/var/lib/x.img'/><target dev='sda' bus='sata'/></disk>"
            ),
            ("hostdev", "mode") => format!(
                "<hostdev mode='{value}' type='usb'><source><address bus='1' device='2'/>\
                 </source></hostdev>"
            ),
            ("hostdev", "subsysType") if value == "pci" => "<hostdev mode='subsystem' \
                type='pci' managed='yes'><source><address domain='0x0000' bus='0x06' \
                slot='0x12' function='0x5'/></source></hostdev>"
                .to_string(),
            ("hostdev", "subsysType") => format!(
                "<hostdev mode='subsystem' type='{value}'><source>\
                 <address bus='1' device='2'/></source></hostdev>"
            ),
            ("graphics", "type") => format!("<graphics type='{value}'/>"),
            ("redirdev", "bus") => {
                format!("<graphics type='spice'/><redirdev bus='{value}' type='spicevmc'/>")
            }
            ("video", "modelType") => format!("<video><model type='{value}'/></video>"),
            ("rng", "model") => {
                format!("<rng model='{value}'><backend model='random'>/dev/urandom</backend></rng>")
            }
            ("tpm", "model") => {
                format!("<tpm model='{value}'><backend type='emulator' version='2.0'/></tpm>")
            }
            ("tpm", "backendModel") => match value {
                "external" => "<tpm model='tpm-tis'><backend type='external'>\
                               <source type='unix' mode='connect' path='/run/x.sock'/>\
                               </backend></tpm>"
                    .to_string(),
                "passthrough" => "<tpm model='tpm-tis'><backend type='passthrough'>\
                                  <device path='/dev/tpm0'/></backend></tpm>"
                    .to_string(),
                _ => format!("<tpm model='tpm-tis'><backend type='{value}'/></tpm>"),
            },
            ("tpm", "backendVersion") => {
                format!("<tpm model='tpm-tis'><backend type='emulator' version='{value}'/></tpm>")
            }
            ("rng", "backendModel") => match value {
                "random" => "<rng model='virtio'><backend model='random'>/dev/urandom</backend>\
                             </rng>"
                    .to_string(),
                "egd" => "<rng model='virtio'><backend model='egd' type='tcp'>\
                          <source mode='connect' host='127.0.0.1' service='708'/></backend></rng>"
                    .to_string(),
                _ => format!("<rng model='virtio'><backend model='{value}'/></rng>"),
            },
            _ => return None,
        };
        Some(format!(
            "<domain type='qemu'><name>tie</name><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{dev}</devices></domain>"
        ))
    }

    /// Values libvirt knows for the same enums that the driver neither publishes nor accepts.
    const NOT_OFFERED: &[(&str, &str, &str)] = &[
        ("disk", "bus", "usb"),
        ("disk", "bus", "xen"),
        ("disk", "diskDevice", "lun"),
        ("graphics", "type", "sdl"),
        ("video", "modelType", "vmvga"),
        ("rng", "backendModel", "egd"),
        ("tpm", "model", "tpm-spapr"),
        ("tpm", "backendModel", "passthrough"),
    ];

    /// The stored definition of `name` turns into a QEMU command line for `dc`'s emulator.
    async fn builds(d: &crate::QemuDriver, name: &str, dc: &DomainCapabilities) {
        use virt_core::driver::prelude::*;
        use virt_core::xml::DomainXmlCodec;
        let lookup = virt_core::types::DomainLookup::Name(name.into());
        let xml = d.domain_xml(&lookup, 0).await.expect("stored definition");
        let def = virt_xml::LibvirtXml.parse_domain(&xml).expect("parse");
        let ctx = crate::command::LaunchContext {
            emulator: dc.path.clone().into(),
            domain_dir: "/run/virt/qemu/domain-1-tie".into(),
            monitor: "/run/virt/qemu/domain-1-tie/monitor.sock".into(),
            kvm_usable: dc.domain == "kvm",
            taps: Vec::new(),
            start_paused: false,
            qemu_version: 7_002_000,
            host_model_cpu: None,
            spice_port: Some(5900),
            memory: Default::default(),
        };
        crate::command::build(&def, &ctx)
            .unwrap_or_else(|e| panic!("{name} defines but does not build: {e:?}\n{xml}"));
    }

    /// Every enum value, CPU mode and usable CPU model `dc` publishes is accepted by define
    /// and builds into a command line on `dc`'s machine, and each of [`NOT_OFFERED`] is absent
    /// from `dc` and refused by define naming the value.
    async fn published_values_are_exactly_what_define_accepts(dc: &DomainCapabilities) {
        use std::sync::Arc;
        use virt_core::driver::prelude::*;
        use virt_core::runtime::{Mode, Paths};
        let root = tempfile::tempdir().expect("root");
        let d = crate::QemuDriver::open(
            &Paths::resolve(Some(root.path()), Mode::System),
            Arc::new(virt_xml::LibvirtXml),
        );
        let machine = dc.machine.as_deref().unwrap_or("pc");
        let mut accepted = 0;
        for b in &dc.devices {
            for (name, values) in &b.enums {
                for v in values {
                    let xml = definition_using(&b.name, name, v)
                        .unwrap_or_else(|| panic!("no test definition for {}/{name}", b.name))
                        .replace("<name>tie</name>", &format!("<name>tie{accepted}</name>"))
                        .replace("machine='pc'", &format!("machine='{machine}'"))
                        .replace(
                            "type='qemu'><name>",
                            &format!("type='{}'><name>", dc.domain),
                        );
                    let h = d
                        .define_domain(&xml, 0)
                        .await
                        .unwrap_or_else(|e| panic!("{}/{name}={v} published but {e:?}", b.name));
                    builds(&d, &h.name, dc).await;
                    accepted += 1;
                }
            }
        }
        assert!(accepted >= 8, "only {accepted} values published");
        // The CPU side: each supported mode, the host-model CPU as published, and every
        // usable custom model define and build as written.
        let cpu_domain = |n: usize, cpu: &str| {
            format!(
                "<domain type='{}'><name>cpu{n}</name><memory unit='MiB'>64</memory>\
                 <os><type arch='x86_64' machine='{machine}'>hvm</type></os>{cpu}</domain>",
                dc.domain
            )
        };
        let mut n = 0;
        for (mode, supported) in &dc.cpu_modes {
            if !supported {
                continue;
            }
            let cpu = match (mode.as_str(), &dc.host_model) {
                ("host-model", Some(hm)) => {
                    let mut cpu = format!(
                        "<cpu mode='host-model'><model fallback='forbid'>{}</model>",
                        hm.model
                    );
                    for (policy, name) in &hm.features {
                        cpu.push_str(&format!("<feature policy='{policy}' name='{name}'/>"));
                    }
                    cpu + "</cpu>"
                }
                ("custom", _) => continue,
                (mode, _) => format!("<cpu mode='{mode}'/>"),
            };
            n += 1;
            let h = d
                .define_domain(&cpu_domain(n, &cpu), 0)
                .await
                .unwrap_or_else(|e| panic!("cpu mode {mode} published but {e:?}"));
            builds(&d, &h.name, dc).await;
        }
        for m in dc.custom_models.iter().filter(|m| m.usable == Some(true)) {
            n += 1;
            let cpu = format!(
                "<cpu mode='custom' match='exact'><model>{}</model></cpu>",
                m.name
            );
            let h = d
                .define_domain(&cpu_domain(n, &cpu), 0)
                .await
                .unwrap_or_else(|e| panic!("cpu model {} published but {e:?}", m.name));
            builds(&d, &h.name, dc).await;
        }
        for (block, name, v) in NOT_OFFERED {
            let listed = dc
                .devices
                .iter()
                .filter(|b| b.name == *block)
                .flat_map(|b| b.enums.iter())
                .any(|(n, vals)| n == name && vals.iter().any(|x| x == v));
            assert!(!listed, "{block}/{name}={v} is published");
            let xml = definition_using(block, name, v).expect("definition");
            let e = d
                .define_domain(&xml, 0)
                .await
                .expect_err(&format!("{block}/{name}={v} accepted"));
            assert!(
                matches!(
                    e.code,
                    ErrorCode::ConfigUnsupported | ErrorCode::XmlError | ErrorCode::XmlDetail
                ),
                "{block}/{name}={v}: {e:?}"
            );
            assert!(
                e.message().contains(v),
                "{block}/{name}={v}: {}",
                e.message()
            );
        }
    }

    #[tokio::test]
    async fn probed_domain_caps_publish_exactly_what_define_accepts() {
        let mut caps = probed_fixture();
        for d in [
            "cirrus-vga",
            "bochs-display",
            "virtio-vga",
            "virtio-gpu-pci",
            "virtio-scsi-pci",
            "scsi-hd",
            "scsi-cd",
            "virtio-rng-pci-transitional",
            "virtio-rng-pci-non-transitional",
            "qxl-vga",
            "qxl",
            "ramfb",
            "usb-redir",
            "tpm-tis",
            "tpm-crb",
            "floppy",
            "usb-host",
            "vfio-pci",
        ] {
            caps.devices.insert(d.into());
        }
        caps.types.insert("tpm-emulator".into());
        let dc = domain_capabilities_from(&caps, Some("pc"), "qemu", &[]).expect("pc");
        // Every value the builder honours is published when the binary has its device...
        let honoured = crate::command::honoured();
        for hb in &honoured.caps.devices {
            let b = dc
                .devices
                .iter()
                .find(|b| b.name == hb.name)
                .expect("block");
            assert_eq!(b.enums, hb.enums, "{}", hb.name);
            assert!(b.supported);
        }
        published_values_are_exactly_what_define_accepts(&dc).await;
        // ...and a value is gone when its device is.
        caps.devices.remove("cirrus-vga");
        let dc = domain_capabilities_from(&caps, Some("pc"), "qemu", &[]).expect("pc");
        let video = dc
            .devices
            .iter()
            .find(|b| b.name == "video")
            .expect("video");
        assert!(!video.enums[0].1.iter().any(|v| v == "cirrus"), "{video:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(feature = "qemu-tests"), ignore = "needs qemu; feature qemu-tests")]
    async fn driver_domain_caps_of_real_qemu_tie_to_define() {
        use std::sync::Arc;
        use virt_core::driver::prelude::*;
        use virt_core::runtime::{Mode, Paths};
        let root = tempfile::tempdir().expect("root");
        let d = crate::QemuDriver::open(
            &Paths::resolve(Some(root.path()), Mode::System),
            Arc::new(virt_xml::LibvirtXml),
        );
        let bin = find_emulator("x86_64").expect("x86_64 emulator");
        let probed = crate::probe::probe(&bin, &root.path().join("probe"))
            .await
            .expect("probe");
        let mut cases = vec![("pc", "qemu"), ("q35", "qemu")];
        if probed.kvm_usable() {
            cases.push(("q35", "kvm"));
        }
        // No virt type: KVM when the binary can use it, as libvirt.
        let xml = d
            .domain_capabilities("", "", "", "", 0)
            .await
            .expect("defaults");
        let want = if probed.kvm_usable() { "kvm" } else { "qemu" };
        assert!(xml.contains(&format!("<domain>{want}</domain>")), "{xml}");
        for (machine, virt_type) in cases {
            let xml = d
                .domain_capabilities("", "", machine, virt_type, 0)
                .await
                .expect("domain capabilities");
            let dc = virt_xml::caps::parse_domain_capabilities(&xml).expect("read back");
            assert!(dc.vcpu_max >= 255, "{machine}: {xml}");
            // TCG runs qemu64; under KVM what is usable depends on the host CPU (on these
            // hosts qemu64 is not), but `max` always is.
            let usable = if virt_type == "qemu" { "qemu64" } else { "max" };
            assert!(
                dc.custom_models
                    .iter()
                    .any(|m| m.name == usable && m.usable == Some(true)),
                "{xml}"
            );
            let hm = dc.host_model.as_ref().expect("host-model");
            assert!(
                hm.features
                    .iter()
                    .any(|(p, f)| p == "require" && f == "sse2"),
                "{xml}"
            );
            let passthrough = dc
                .cpu_modes
                .iter()
                .any(|(m, s)| m == "host-passthrough" && *s);
            assert_eq!(passthrough, virt_type == "kvm", "{xml}");
            published_values_are_exactly_what_define_accepts(&dc).await;
        }
        // The argument rules of virConnectGetDomainCapabilities, each naming what it refuses.
        let err = |r: virt_core::driver::DriverResult<String>| r.expect_err("refused");
        let e = err(d.domain_capabilities("", "", "no-such", "qemu", 0).await);
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message().contains("'no-such'"), "{}", e.message());
        let e = err(d
            .domain_capabilities("/usr/bin/nope", "", "", "qemu", 0)
            .await);
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message().contains("/usr/bin/nope"), "{}", e.message());
        let e = err(d.domain_capabilities("", "sparc", "", "qemu", 0).await);
        assert!(e.message().contains("'sparc'"), "{}", e.message());
        let e = err(d.domain_capabilities("", "", "", "xen", 0).await);
        assert!(e.message().contains("xen"), "{}", e.message());
        let bin = find_emulator("x86_64").expect("x86_64 emulator");
        let e = err(d
            .domain_capabilities(&bin.display().to_string(), "aarch64", "", "qemu", 0)
            .await);
        assert!(e.message().contains("'aarch64'"), "{}", e.message());
        // The default machine is the emulator's.
        let xml = d
            .domain_capabilities(&bin.display().to_string(), "x86_64", "", "qemu", 0)
            .await
            .expect("defaults");
        assert!(xml.contains("<machine>pc-i440fx-"), "{xml}");
        // GetMaxVcpus answers the default machine's limit.
        let dc = virt_xml::caps::parse_domain_capabilities(&xml).expect("read back");
        assert_eq!(d.max_vcpus("qemu").await.expect("max"), dc.vcpu_max);
    }
}
