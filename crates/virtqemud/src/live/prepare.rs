//! Preparing a definition for a launch: everything [`crate::command::build`] needs besides the
//! definition ([`LaunchContext`]), made in one place for the two callers that must agree, a
//! start (`start.rs`) and its preview, domxml-to-native (`to_native.rs`).
//!
//! [`QemuDriver::prepare_launch`] takes the definition and [`PrepareFor`]. Both purposes make
//! the live definition (aliases, shared disks uncached, a free SPICE port, as libvirt's
//! preview shows one, channel socket paths, the firmware resolved from the descriptors, host
//! devices looked up, the DAC security label) and pick the emulator, and both refuse what the
//! host cannot give (a CPU vendor it is not, a host device it lacks, a security driver it does
//! not run); `Start` then does what a start needs done on the host (the private and channel
//! dirs created, the UEFI variable store made, swtpm started for an emulated TPM, tap devices
//! opened and attached, managed PCI devices moved to vfio-pci), while `Preview` touches
//! nothing and puts placeholders where a start would hand QEMU a resource (taps become `/dev/null` descriptors: the command line shows fd numbers, as
//! libvirt's preview does; channel and swtpm sockets are named where a start would make
//! them). A new preparation step (firmware selection, channel
//! socket paths, an swtpm socket) goes here, with its preview behaviour beside it, so the
//! previewed command line cannot drift from the one a start runs.

use std::path::PathBuf;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::model::enums::InterfaceType;
use virt_core::model::DomainDef;
use virt_core::VirtError;

use crate::command::LaunchContext;
use crate::host;
use crate::hostdev;
use crate::tap::TapDevice;
use crate::QemuDriver;

/// What a preparation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrepareFor {
    /// A real start as domain `id`: host resources are made.
    Start {
        /// The domain ID the run gets (names the private dir).
        id: u32,
        /// Recreate the UEFI variable store from its template (VIR_DOMAIN_START_RESET_NVRAM).
        reset_nvram: bool,
    },
    /// A preview of the command line (domxml-to-native): nothing on the host changes; the
    /// private dir is named for ID -1, as libvirt's preview names it.
    Preview,
}

/// The outcome of a preparation.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// What `command::build` needs.
    pub ctx: LaunchContext,
    /// The names of the taps in `ctx.taps`, in interface order.
    pub tap_names: Vec<String>,
    /// The swtpm a start launched for an emulated TPM (killed if dropped before the run
    /// records it); none for a preview.
    pub swtpm: Option<crate::tpm::swtpm::Running>,
    /// The virtiofsd of each virtiofs share (killed if dropped before the run records them).
    pub virtiofsd: crate::virtiofs::Started,
}

/// libvirt's short domain name, `ID-NAME` with the name cut to 20 characters: names the
/// private dir and the guest's memory dirs.
pub(crate) fn short_name(id: &str, name: &str) -> String {
    let short: String = name.chars().take(20).collect();
    format!("{id}-{short}")
}

/// The private dir's name: `domain-ID-SHORT`.
fn dir_name(id: &str, name: &str) -> String {
    format!("domain-{}", short_name(id, name))
}

/// Placeholder taps for a preview: one per bridge or ethernet interface, named as the start
/// would name them when `<target dev>` says so, each holding `/dev/null`.
fn placeholder_taps(def: &DomainDef) -> DriverResult<Vec<TapDevice>> {
    let tap_nics = def
        .devices
        .interfaces
        .iter()
        .filter(|n| crate::tap::uses_tap(n))
        .enumerate();
    let mut taps = Vec::new();
    for (i, n) in tap_nics {
        let fd = std::fs::File::open("/dev/null").map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::Qemu,
                format!("cannot open /dev/null: {e}"),
            )
        })?;
        taps.push(TapDevice {
            name: n.target_dev.clone().unwrap_or_else(|| format!("vnet{i}")),
            fd: fd.into(),
        });
    }
    Ok(taps)
}

/// A shared writable disk without a cache mode gets `cache='none'` (libvirt's start does the
/// same): two guests writing one image must not each keep writes in their own page cache.
fn shared_disks_uncached(def: &mut DomainDef) {
    for d in &mut def.devices.disks {
        if !d.shareable || d.readonly {
            continue;
        }
        let driver = d.driver.get_or_insert_with(Default::default);
        if matches!(driver.cache.as_deref(), None | Some("default")) {
            driver.cache = Some("none".into());
        }
    }
}

/// Creates the private dir (0750), emptying a stale one.
fn make_private_dir(dir: &std::path::Path) -> DriverResult<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
        })
        .map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                ErrorDomain::Qemu,
                format!("cannot create the domain dir {}: {e}", dir.display()),
            )
        })
}

impl QemuDriver {
    /// Prepares `def` for a launch, or for its preview (see the module docs): `def` becomes the
    /// live definition (every device named, a SPICE autoport picked), and what
    /// `command::build` needs besides is returned. On a start, a failure after the private dir
    /// was made removes it again.
    pub(crate) async fn prepare_launch(
        &self,
        def: &mut DomainDef,
        purpose: PrepareFor,
    ) -> DriverResult<Prepared> {
        crate::aliases::assign(def);
        self.attach_sibling_devices(def, purpose).await?;
        let prepared = self.prepare_host(def, purpose).await;
        if prepared.is_err() {
            self.detach_sibling_devices(def).await;
        }
        prepared
    }

    /// Network interfaces and volume disks, through virtnetworkd and virtstoraged (libvirt's
    /// networkAllocatePort and virStorageTranslateDiskSourcePool): a start creates a port per
    /// `type='network'` interface and notes its UUID and bridge in the live definition; a
    /// preview only asks for the bridge. Each volume disk gets its path and file or block type
    /// (and the volume's format when the disk names none). On an error the ports made so far
    /// are deleted.
    pub(crate) async fn attach_sibling_devices(
        &self,
        def: &mut DomainDef,
        purpose: PrepareFor,
    ) -> DriverResult<()> {
        if !virt_client::siblings::needs_siblings(def) {
            return Ok(());
        }
        let owner = (def.name.clone(), def.uuid.to_string());
        for i in 0..def.devices.interfaces.len() {
            let n = &def.devices.interfaces[i];
            if n.interface_type != InterfaceType::Network {
                continue;
            }
            let network = n.source_network.clone().unwrap_or_default();
            let mac = n.mac.clone().unwrap_or_default();
            let plugged = match purpose {
                PrepareFor::Start { .. } => self
                    .siblings
                    .create_port(&network, (&owner.0, &owner.1), &mac)
                    .await
                    .map(|(port, bridge)| (Some(port), bridge)),
                PrepareFor::Preview => self
                    .siblings
                    .bridge_of(&network)
                    .await
                    .map(|bridge| (None, bridge)),
            };
            match plugged {
                Ok((port, bridge)) => {
                    let n = &mut def.devices.interfaces[i];
                    n.source_portid = port;
                    n.source_bridge = Some(bridge);
                }
                Err(e) => {
                    self.detach_sibling_devices(def).await;
                    return Err(e);
                }
            }
        }
        for i in 0..def.devices.disks.len() {
            if let Err(e) = self.resolve_volume(&mut def.devices.disks[i]).await {
                self.detach_sibling_devices(def).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// A volume disk's path and file or block type from virtstoraged (and the volume's format
    /// when the disk names none); other disks are left as they are.
    pub(crate) async fn resolve_volume(
        &self,
        d: &mut virt_core::model::devices::Disk,
    ) -> DriverResult<()> {
        if d.disk_type != virt_core::model::enums::DiskType::Volume {
            return Ok(());
        }
        let Some(src) = d.source.as_mut() else {
            return Ok(());
        };
        let resolved = self
            .siblings
            .volume(
                src.pool.as_deref().unwrap_or_default(),
                src.volume.as_deref().unwrap_or_default(),
            )
            .await?;
        src.path = Some(resolved.path);
        src.resolved_type = Some(resolved.disk_type);
        let driver = d.driver.get_or_insert_with(Default::default);
        if driver.format.is_none() {
            driver.format = Some(resolved.format);
        }
        Ok(())
    }

    /// Deletes the network ports of `def`'s interfaces (a stopped or failed start's).
    pub(crate) async fn detach_sibling_devices(&self, def: &DomainDef) {
        for n in &def.devices.interfaces {
            if let (InterfaceType::Network, Some(network), Some(port)) = (
                n.interface_type,
                n.source_network.as_deref(),
                n.source_portid.as_deref(),
            ) {
                self.siblings.delete_port(network, port).await;
            }
        }
    }

    /// [`QemuDriver::prepare_launch`] once network ports and volumes are resolved.
    async fn prepare_host(
        &self,
        def: &mut DomainDef,
        purpose: PrepareFor,
    ) -> DriverResult<Prepared> {
        shared_disks_uncached(def);
        let kvm = def.virt_type == "kvm";
        crate::cpu_vendor::check(def, kvm, &host::cpuinfo())?;
        super::check_numatune_start(def)?;
        let ids = crate::seclabel::qemu_ids();
        crate::seclabel::check_start(def, ids)?;
        crate::seclabel::label_live(def, ids);
        let spice_port = self.pick_spice_port(def)?;
        let emulator = self.emulator_of(def)?;
        let qemu_version = self.version_of(&emulator);
        let id = match purpose {
            PrepareFor::Start { id, .. } => id.to_string(),
            PrepareFor::Preview => "-1".to_string(),
        };
        let domain_dir = self.domain_dir(&id, &def.name);
        let memory = self.memory_placement(def, &id)?;
        // Host devices last of the checks: a start moves managed PCI devices to vfio-pci, which
        // every failure from here on undoes.
        let roots = hostdev::HostRoots::default();
        let hostdev_mode = match purpose {
            PrepareFor::Start { .. } => hostdev::Mode::Start,
            PrepareFor::Preview => hostdev::Mode::Preview,
        };
        if let PrepareFor::Start { .. } = purpose {
            crate::cputune::check_pins(def, &crate::cputune::host_cpus())?;
        }
        hostdev::prepare(def, &roots, hostdev_mode).inspect_err(|_| {
            if hostdev_mode == hostdev::Mode::Start {
                hostdev::reattach_pci(def, &roots);
            }
        })?;
        let (taps, swtpm, virtiofsd) = match purpose {
            PrepareFor::Start { reset_nvram, .. } => {
                let undo = |def: &DomainDef| hostdev::reattach_pci(def, &roots);
                crate::memory::prepare(def, &memory).inspect_err(|_| undo(def))?;
                make_private_dir(&domain_dir).inspect_err(|_| {
                    crate::memory::cleanup(&memory);
                    undo(def);
                })?;
                let made = self.make_host_resources(def, qemu_version, &domain_dir, reset_nvram);
                made.await
                    .inspect_err(|_| super::start::undo_prepare(def, &domain_dir, &memory))?
            }
            PrepareFor::Preview => {
                super::channels::name_paths(def, &domain_dir)?;
                *def = self.live_firmware(def, qemu_version)?;
                (placeholder_taps(def)?, None, Default::default())
            }
        };
        let tap_names = taps.iter().map(|t| t.name.clone()).collect();
        let ctx = LaunchContext {
            qemu_version,
            emulator,
            monitor: domain_dir.join("monitor.sock"),
            domain_dir,
            kvm_usable: host::kvm_available(),
            taps,
            start_paused: true,
            host_model_cpu: None,
            spice_port,
            memory,
        };
        Ok(Prepared {
            ctx,
            tap_names,
            swtpm,
            virtiofsd,
        })
    }
}

impl QemuDriver {
    /// The private dir of domain `name` running as `id`: `RUN/qemu/domain-ID-SHORT`.
    pub(crate) fn domain_dir(&self, id: &str, name: &str) -> PathBuf {
        self.run_root.join(dir_name(id, name))
    }

    /// Where the RAM of `def` running as domain `id` goes on the host (`crate::memory`).
    pub(crate) fn memory_placement(
        &self,
        def: &DomainDef,
        id: &str,
    ) -> DriverResult<crate::command::MemoryPlacement> {
        crate::memory::placement(
            def,
            &short_name(id, &def.name),
            &self.hugepage_prefix,
            &self.ram_dir,
            &crate::memory::HostMemory::detect(),
        )
    }

    /// A start's host resources, in the private dir `domain_dir`: the channel sockets' dir and
    /// paths (`channels.rs`), the firmware resolved into `def` with its variable store and
    /// swtpm (`external.rs`), the virtiofsd of each virtiofs share, then the taps.
    async fn make_host_resources(
        &self,
        def: &mut DomainDef,
        qemu_version: u64,
        domain_dir: &std::path::Path,
        reset_nvram: bool,
    ) -> DriverResult<(
        Vec<TapDevice>,
        Option<crate::tpm::swtpm::Running>,
        crate::virtiofs::Started,
    )> {
        super::channels::assign_paths(def, domain_dir)?;
        let log = self.log_dir.join(format!("{}.log", def.name));
        let external = self
            .start_external(def, qemu_version, domain_dir, &log, reset_nvram)
            .await?;
        *def = external.live;
        // A failure from here on drops the swtpm and the virtiofsd processes, which kills them.
        let virtiofsd = crate::virtiofs::start_all(&crate::virtiofs::Launch {
            def,
            domain_dir,
            log_dir: &self.log_dir,
        })?;
        let taps = crate::tap::taps_for(def)?;
        Ok((taps, external.swtpm, virtiofsd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dirs_are_named_by_id_and_a_short_name() {
        assert_eq!(dir_name("3", "web"), "domain-3-web");
        assert_eq!(
            dir_name("-1", "a-rather-long-domain-name-indeed"),
            "domain--1-a-rather-long-domain"
        );
    }

    #[test]
    fn shared_writable_disks_run_uncached() {
        use virt_core::xml::DomainXmlCodec;
        let mut def = virt_xml::LibvirtXml
            .parse_domain(
                "<domain type='qemu'><name>p</name><memory>65536</memory>\
                 <os><type>hvm</type></os><devices>\
                 <disk type='file'><source file='/a.img'/><target dev='vda'/><shareable/></disk>\
                 <disk type='file'><source file='/b.img'/><target dev='vdb'/><shareable/>\
                 <readonly/></disk>\
                 <disk type='file'><driver name='qemu' cache='writeback'/><source file='/c.img'/>\
                 <target dev='vdc'/><shareable/></disk></devices></domain>",
            )
            .expect("parse");
        shared_disks_uncached(&mut def);
        let caches: Vec<Option<&str>> = def
            .devices
            .disks
            .iter()
            .map(|d| d.driver.as_ref().and_then(|x| x.cache.as_deref()))
            .collect();
        assert_eq!(caches, [Some("none"), None, Some("writeback")]);
    }

    #[test]
    fn a_preview_holds_a_placeholder_per_tap_interface() {
        use virt_core::xml::DomainXmlCodec;
        let def = virt_xml::LibvirtXml
            .parse_domain(
                "<domain type='qemu'><name>p</name><memory>65536</memory>\
                 <os><type>hvm</type></os><devices>\
                 <interface type='user'><mac address='52:54:00:00:00:01'/></interface>\
                 <interface type='bridge'><source bridge='br0'/>\
                 <mac address='52:54:00:00:00:02'/></interface>\
                 <interface type='ethernet'><target dev='tap7'/>\
                 <mac address='52:54:00:00:00:03'/></interface></devices></domain>",
            )
            .expect("parse");
        let taps = placeholder_taps(&def).expect("placeholders");
        let names: Vec<&str> = taps.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["vnet0", "tap7"]);
    }
}
