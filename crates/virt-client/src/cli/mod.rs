//! The `virt` command line: global options, the subcommand table and the run loop that opens
//! the connection, runs the command (or each command of a virsh command string, see
//! [`script`]), prints errors (see [`report`]) and virsh's closing blank line, and yields the
//! exit status: that of the last command, as virsh's.

use clap::{Parser, Subcommand};
use virt_client::Connection;

pub mod attach_device;
pub mod autostart;
pub mod capabilities;
pub mod console;
pub mod create;
pub mod define;
pub mod destroy;
pub mod dom;
pub mod domblkstat;
pub mod domcapabilities;
pub mod domfsfreeze;
pub mod domfsinfo;
pub mod domfsthaw;
pub mod domfstrim;
pub mod domhostname;
pub mod domid;
pub mod domifaddr;
pub mod domifstat;
pub mod dominfo;
pub mod domname;
pub mod domstate;
pub mod domstats;
pub mod domtime;
pub mod domuuid;
pub mod domxml_from_native;
pub mod domxml_to_native;
pub mod dumpxml;
pub mod event;
pub mod event_text;
pub mod freecell;
pub mod guest_agent_timeout;
pub mod guestinfo;
pub mod help;
pub mod hostname;
pub mod impact;
pub mod list;
pub mod maxvcpus;
pub mod memtune;
pub mod net_common;
pub mod net_dhcp_leases;
pub mod net_event;
pub mod net_info;
pub mod net_lifecycle;
pub mod net_list;
pub mod net_port;
pub mod nodecpumap;
pub mod nodecpustats;
pub mod nodeinfo;
pub mod nodememstats;
pub mod output;
pub mod pool_define;
pub mod pool_ids;
pub mod pool_info;
pub mod pool_list;
pub mod pool_ops;
pub mod qemu_agent_command;
pub mod qemu_monitor_command;
pub mod qemu_monitor_event;
pub mod reboot;
pub mod report;
pub mod reset;
pub mod resume;
pub mod save;
pub mod schedinfo;
pub mod script;
pub mod set_user_password;
pub mod setmem;
pub mod setvcpus;
pub mod shutdown;
pub mod size;
pub mod start;
pub mod storage;
pub mod suspend;
pub mod sysinfo;
pub mod table;
pub mod undefine;
pub mod unsupported;
pub mod uri;
pub mod usage;
pub mod user_sshkeys;
pub mod validate;
pub mod version;
pub mod vol_create;
pub mod vol_ids;
pub mod vol_info;
pub mod vol_list;
pub mod vol_ops;
pub mod vol_stream;
// Tuning, vCPU and IOThread group (issue 15, "tune").
pub mod blkdeviotune;
pub mod blkiotune;
pub mod cpu_stats;
pub mod domiftune;
pub mod emulatorpin;
pub mod guestvcpus;
pub mod iothreadadd;
pub mod iothreaddel;
pub mod iothreadinfo;
pub mod iothreadpin;
pub mod iothreadset;
pub mod numatune;
pub mod perf;
pub mod set_lifecycle_action;
pub mod setmaxmem;
pub mod setvcpu;
pub mod tune_common;
pub mod vcpuinfo;
pub mod vcpupin;
// Snapshot group.
pub mod snapshot_create;
pub mod snapshot_edit;
pub mod snapshot_list;
pub mod snapshot_ops;
// Domain monitoring group (issue 15).
pub mod dom_doc;
pub mod domblkerror;
pub mod domblklist;
pub mod domblkthreshold;
// Block jobs (issue 15, qemu group).
pub mod blockcommit;
pub mod blockcopy;
pub mod blockjob;
pub mod blockpull;
pub mod blockresize;
pub mod domcontrol;
pub mod domif_getlink;
pub mod domiflist;
pub mod domjobabort;
pub mod domjobinfo;
pub mod domlaunchsecinfo;
pub mod dompmsuspend;
pub mod dompmwakeup;
pub mod job_progress;
pub mod vcpucount;
// Devices and consoles group (issue 15).
pub mod attach_disk;
pub mod attach_interface;
pub mod detach;
pub mod dev_common;
pub mod display;
pub mod screenshot;
pub mod send_key;
pub mod update_device;
// Host and Hypervisor group: CPU models and host memory (issue 15, cpu helper).
pub mod allocpages;
pub mod cpu_baseline;
pub mod cpu_compare;
pub mod cpu_models;
pub mod cpu_xml;
pub mod freepages;
pub mod hypervisor_cpu_baseline;
pub mod hypervisor_cpu_compare;
pub mod node_memory_tune;
pub mod nodesevinfo;
pub mod nodesuspend;
// Domain management group (issue 15): the rest.
pub mod desc;
pub mod domblkinfo;
pub mod dommemstat;
pub mod domrename;
pub mod dump;
pub mod edit;
pub mod editor;
pub mod managedsave_xml;

use output::Output;
use report::{exit_status, print_error, CliError};

/// virt: manage virtual machines, as virsh does.
#[derive(Parser, Debug)]
#[command(
    name = "virt",
    about = "virt: the virtualization interactive terminal (virsh-compatible)"
)]
pub struct Cli {
    /// Hypervisor connection URI.
    #[arg(short = 'c', long = "connect", value_name = "URI")]
    pub connect: Option<String>,
    /// Connect read-only.
    #[arg(short = 'r', long = "readonly")]
    pub readonly: bool,
    /// Quiet mode: no table headers and no informational messages.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print how long each command took, as virsh's `-t` (`(Time: 1.234 ms)`).
    #[arg(short = 't', long = "timing")]
    pub timing: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands. Each command's options are defined when that command is parsed (`defer`):
/// a run builds one of some 230 definitions, not all, which keeps a one-shot `virt`'s memory
/// and start-up small (BENCHMARKS.md, "The CLI as a process").
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Show library, hypervisor and daemon versions.
    Version(version::Args),
    /// Print the hypervisor canonical URI.
    Uri,
    /// Print the hypervisor hostname.
    Hostname,
    /// Node information.
    Nodeinfo,
    /// Capabilities.
    Capabilities,
    /// Domain capabilities.
    Domcapabilities(domcapabilities::Args),
    /// List domains.
    List(list::Args),
    /// Domain information.
    Dominfo(dominfo::Args),
    /// Domain state.
    Domstate(domstate::Args),
    /// Convert a domain name or UUID to domain id.
    Domid(domid::Args),
    /// Convert a domain id or UUID to domain name.
    Domname(domname::Args),
    /// Convert a domain name or id to domain UUID.
    Domuuid(domuuid::Args),
    /// Define (but don't start) a domain from an XML file.
    Define(define::Args),
    /// Validate a domain XML file as define would, defining nothing.
    Validate(validate::Args),
    /// Undefine a domain.
    Undefine(undefine::Args),
    /// Create a domain from an XML file.
    Create(create::Args),
    /// Start a (previously defined) inactive domain.
    Start(start::Args),
    /// Gracefully shutdown a domain.
    Shutdown(shutdown::Args),
    /// Destroy (stop) a domain.
    Destroy(destroy::Args),
    /// Reboot a domain.
    Reboot(reboot::Args),
    /// Reset a domain.
    Reset(reset::Args),
    /// Suspend a domain.
    Suspend(suspend::Args),
    /// Resume a domain.
    Resume(resume::Args),
    /// Domain information in XML.
    Dumpxml(dumpxml::Args),
    /// Convert native config to domain XML.
    DomxmlFromNative(domxml_from_native::Args),
    /// Convert domain XML to native config.
    DomxmlToNative(domxml_to_native::Args),
    /// Change memory allocation.
    Setmem(setmem::Args),
    /// Change number of virtual CPUs.
    Setvcpus(setvcpus::Args),
    /// Get or set memory parameters.
    Memtune(memtune::Args),
    /// Show/set scheduler parameters.
    Schedinfo(schedinfo::Args),
    /// Get network interface stats for a running domain.
    Domifstat(domifstat::Args),
    /// Get device block stats for a running domain.
    Domblkstat(domblkstat::Args),
    /// Autostart a domain.
    Autostart(autostart::Args),
    /// Get statistics about one or multiple domains.
    Domstats(domstats::Args),
    /// Domain events.
    Event(event::Args),
    /// Connect to the guest console.
    Console(console::Args),
    /// Attach a device from an XML file.
    AttachDevice(attach_device::Args),
    /// Detach a device described by an XML file.
    DetachDevice(attach_device::Args),
    /// Get network interfaces' addresses for a running domain.
    Domifaddr(domifaddr::Args),
    /// Freeze domain's mounted filesystems.
    Domfsfreeze(domfsfreeze::Args),
    /// Thaw domain's mounted filesystems.
    Domfsthaw(domfsfreeze::Args),
    /// Get information of domain's mounted filesystems.
    Domfsinfo(domfsinfo::Args),
    /// Invoke fstrim on domain's mounted filesystems.
    Domfstrim(domfstrim::Args),
    /// Set the user password inside the domain.
    #[command(
        name = "set-user-password",
        long_about = "changes the password of the specified user inside the domain"
    )]
    SetUserPassword(set_user_password::Args),
    /// Domain time.
    Domtime(domtime::Args),
    /// Query information about the guest (via agent).
    Guestinfo(guestinfo::Args),
    /// Print the domain's hostname.
    Domhostname(domhostname::Args),
    /// QEMU Guest Agent Command.
    #[command(name = "qemu-agent-command")]
    QemuAgent(qemu_agent_command::Args),
    /// Set the guest agent timeout.
    GuestAgentTimeout(guest_agent_timeout::Args),
    /// List networks.
    NetList(net_list::Args),
    /// Network information.
    NetInfo(net_info::Args),
    /// Convert a network name to network UUID.
    NetUuid(net_info::Args),
    /// Convert a network UUID to network name.
    NetName(net_info::Args),
    /// Network information in XML.
    NetDumpxml(net_info::DumpArgs),
    /// Define an inactive persistent virtual network from an XML file.
    NetDefine(net_lifecycle::FileArgs),
    /// Create a network from an XML file.
    NetCreate(net_lifecycle::FileArgs),
    /// Undefine a persistent network.
    NetUndefine(net_lifecycle::Args),
    /// Start a (previously defined) inactive network.
    NetStart(net_lifecycle::Args),
    /// Destroy (stop) a network.
    NetDestroy(net_lifecycle::Args),
    /// Autostart a network.
    NetAutostart(net_lifecycle::AutostartArgs),
    /// Print lease info for a given network.
    NetDhcpLeases(net_dhcp_leases::Args),
    /// List network ports.
    NetPortList(net_port::ListArgs),
    /// Create a network port from an XML file.
    NetPortCreate(net_port::CreateArgs),
    /// Network port information in XML.
    NetPortDumpxml(net_port::PortArgs),
    /// Delete the specified network port.
    NetPortDelete(net_port::PortArgs),
    /// Network events.
    NetEvent(net_event::Args),
    // Storage pools and volumes (virsh-pool.c, virsh-volume.c).
    /// List pools.
    PoolList(pool_list::Args),
    /// Storage pool information.
    PoolInfo(pool_info::Args),
    /// Pool information in XML.
    PoolDumpxml(pool_ids::DumpArgs),
    /// Convert a pool name to pool UUID.
    PoolUuid(pool_ids::IdArgs),
    /// Convert a pool UUID to pool name.
    PoolName(pool_ids::IdArgs),
    /// Define an inactive persistent storage pool from an XML file.
    PoolDefine(pool_define::FileArgs),
    /// Define a pool from a set of args.
    PoolDefineAs(pool_define::AsArgs),
    /// Create a pool from an XML file.
    PoolCreate(pool_define::FileArgs),
    /// Create a pool from a set of args.
    PoolCreateAs(pool_define::AsArgs),
    /// Build a pool.
    PoolBuild(pool_ops::BuildArgs),
    /// Start a (previously defined) inactive pool.
    PoolStart(pool_ops::StartArgs),
    /// Refresh a pool.
    PoolRefresh(pool_ops::Args),
    /// Destroy (stop) a pool.
    PoolDestroy(pool_ops::Args),
    /// Delete a pool.
    PoolDelete(pool_ops::Args),
    /// Undefine an inactive pool.
    PoolUndefine(pool_ops::Args),
    /// Autostart a pool.
    PoolAutostart(pool_ops::AutostartArgs),
    /// List vols.
    VolList(vol_list::Args),
    /// Storage vol information.
    VolInfo(vol_info::Args),
    /// Vol information in XML.
    VolDumpxml(vol_ids::Args),
    /// Create a vol from an XML file.
    VolCreate(vol_create::CreateArgs),
    /// Create a volume from a set of args.
    VolCreateAs(vol_create::CreateAsArgs),
    /// Create a vol, using another volume as input.
    VolCreateFrom(vol_create::CreateFromArgs),
    /// Clone a volume.
    VolClone(vol_create::CloneArgs),
    /// Delete a vol.
    VolDelete(vol_ops::DeleteArgs),
    /// Resize a vol.
    VolResize(vol_ops::ResizeArgs),
    /// Wipe a vol.
    VolWipe(vol_ops::WipeArgs),
    /// Upload file contents to a volume.
    VolUpload(vol_stream::Args),
    /// Download volume contents to a file.
    VolDownload(vol_stream::Args),
    /// Returns the volume path for a given volume name or key.
    VolPath(vol_ids::Args),
    /// Returns the volume key for a given volume name or path.
    VolKey(vol_ids::Args),
    /// Returns the volume name for a given volume key or path.
    VolName(vol_ids::KeyArgs),
    /// Returns the storage pool for a given volume key or path.
    VolPool(vol_ids::PoolArgs),
    // Commands whose API no driver here serves yet (issue 15): virsh's option checks, then
    // its unsupported-function error.
    /// Migrate domain to another host.
    Migrate(Box<unsupported::MigrateArgs>),
    /// Set maximum tolerable downtime.
    #[command(name = "migrate-setmaxdowntime")]
    MigrateSetmaxdowntime(unsupported::DowntimeArgs),
    /// Get maximum tolerable downtime.
    #[command(name = "migrate-getmaxdowntime")]
    MigrateGetmaxdowntime(unsupported::DomOnly),
    /// Get/set compression cache size.
    #[command(name = "migrate-compcache")]
    MigrateCompcache(unsupported::CompcacheArgs),
    /// Set the maximum migration bandwidth.
    #[command(name = "migrate-setspeed")]
    MigrateSetspeed(unsupported::SetSpeedArgs),
    /// Get the maximum migration bandwidth.
    #[command(name = "migrate-getspeed")]
    MigrateGetspeed(unsupported::SpeedArgs),
    /// Switch running migration from pre-copy to post-copy.
    #[command(name = "migrate-postcopy")]
    MigratePostcopy(unsupported::DomOnly),
    /// QEMU Attach.
    #[command(name = "qemu-attach")]
    QemuAttach(unsupported::QemuAttachArgs),
    /// LXC Guest Enter Namespace.
    #[command(name = "lxc-enter-namespace")]
    LxcEnterNamespace(unsupported::LxcEnterArgs),
    // Jobs and guest power management (issue 15, helper "job"): real rpcs now.
    /// Suspend a domain gracefully using power management functions.
    Dompmsuspend(dompmsuspend::Args),
    /// Wakeup a domain from pmsuspended state.
    Dompmwakeup(unsupported::DomOnly),
    /// Domain job information.
    Domjobinfo(domjobinfo::Args),
    /// List authorized SSH keys for given user (via agent).
    #[command(name = "get-user-sshkeys")]
    GetUserSshkeys(user_sshkeys::GetKeysArgs),
    /// Manipulate authorized SSH keys file for given user (via agent).
    #[command(name = "set-user-sshkeys")]
    SetUserSshkeys(user_sshkeys::SetKeysArgs),
    // libvirt-qemu monitor group (issue 15): real rpcs, served by virtqemud.
    /// QEMU Monitor Command.
    #[command(name = "qemu-monitor-command")]
    QemuMonitorCmd(qemu_monitor_command::Args),
    /// QEMU Monitor Events.
    #[command(name = "qemu-monitor-event")]
    QemuMonitorEvent(qemu_monitor_event::Args),
    /// Get domain launch security info.
    Domlaunchsecinfo(domlaunchsecinfo::Args),
    /// Set domain launch security state.
    Domsetlaunchsecstate(unsupported::SetLaunchSecArgs),
    /// Calculate a vm's memory dirty rate.
    #[command(name = "domdirtyrate-calc")]
    DomdirtyrateCalc(unsupported::DirtyRateArgs),
    /// Associate a FD with a domain.
    #[command(name = "dom-fd-associate")]
    DomFdAssociate(unsupported::FdAssociateArgs),
    // Snapshot group (issue 15).
    /// Create a snapshot from XML.
    SnapshotCreate(snapshot_create::CreateArgs),
    /// Create a snapshot from a set of args.
    SnapshotCreateAs(snapshot_create::CreateAsArgs),
    /// Get or set the current snapshot.
    SnapshotCurrent(snapshot_ops::CurrentArgs),
    /// Delete a domain snapshot.
    SnapshotDelete(snapshot_ops::DeleteArgs),
    /// Dump XML for a domain snapshot.
    SnapshotDumpxml(snapshot_ops::DumpxmlArgs),
    /// Edit XML for a snapshot.
    SnapshotEdit(snapshot_edit::Args),
    /// Snapshot information.
    SnapshotInfo(snapshot_ops::InfoArgs),
    /// List snapshots for a domain.
    SnapshotList(snapshot_list::Args),
    /// Get the name of the parent of a snapshot.
    SnapshotParent(snapshot_ops::InfoArgs),
    /// Revert a domain to a snapshot.
    SnapshotRevert(snapshot_ops::RevertArgs),
    // Domain monitoring group (issue 15).
    /// List all domain blocks.
    Domblklist(domblklist::Args),
    /// List all domain virtual interfaces.
    Domiflist(domiflist::Args),
    /// Get link state of a virtual interface.
    #[command(name = "domif-getlink")]
    DomifGetlink(domif_getlink::Args),
    /// Domain control interface state.
    Domcontrol(domcontrol::Args),
    /// Show errors on block devices.
    Domblkerror(domcontrol::Args),
    /// Domain vcpu counts.
    Vcpucount(vcpucount::Args),
    /// Abort active domain job.
    Domjobabort(domjobabort::Args),
    /// Set the threshold for block-threshold event for a given block device or it's backing chain element.
    Domblkthreshold(domblkthreshold::Args),
    // Block jobs (issue 15, qemu group).
    /// Start a block commit operation.
    Blockcommit(blockcommit::Args),
    /// Start a block copy operation.
    Blockcopy(blockcopy::Args),
    /// Manage active block operations
    Blockjob(blockjob::Args),
    /// Populate a disk from its backing image.
    Blockpull(blockpull::Args),
    /// Resize block device of domain.
    Blockresize(blockresize::Args),
    // Host and Hypervisor group (issue 15).
    /// Print the hypervisor sysinfo.
    Sysinfo,
    /// NUMA free memory.
    Freecell(freecell::Args),
    /// Connection vcpu maximum.
    Maxvcpus(maxvcpus::Args),
    /// Prints cpu stats of the node.
    Nodecpustats(nodecpustats::Args),
    /// Node cpu map.
    Nodecpumap(nodecpumap::Args),
    /// Prints memory stats of the node.
    Nodememstats(nodememstats::Args),
    // Domain management group (issue 15): save images and managed save.
    /// Save a domain state to a file.
    Save(save::SaveArgs),
    /// Restore a domain from a saved state in a file.
    Restore(save::RestoreArgs),
    /// Managed save of a domain state.
    Managedsave(save::ManagedSaveArgs),
    // Devices and consoles group (issue 15).
    /// Attach disk device.
    AttachDisk(Box<attach_disk::Args>),
    /// Detach disk device.
    DetachDisk(detach::DiskArgs),
    /// Attach network interface.
    AttachInterface(Box<attach_interface::Args>),
    /// Detach network interface.
    DetachInterface(detach::InterfaceArgs),
    /// Detach device from an alias.
    DetachDeviceAlias(detach::AliasArgs),
    /// Update device from an XML file.
    UpdateDevice(update_device::DeviceArgs),
    /// Update memory device of a domain.
    UpdateMemoryDevice(update_device::MemoryArgs),
    /// Change media of CD or floppy drive.
    ChangeMedia(update_device::MediaArgs),
    /// Set link state of a virtual interface.
    DomifSetlink(update_device::LinkArgs),
    /// Domain display connection URI.
    Domdisplay(display::DisplayArgs),
    /// Vnc display.
    Vncdisplay(display::DomOnly),
    /// Tty console.
    Ttyconsole(display::DomOnly),
    /// Take a screenshot of a current domain console and store it into a file.
    Screenshot(screenshot::Args),
    /// Send keycodes to the guest.
    SendKey(send_key::KeyArgs),
    /// Inject NMI to the guest.
    InjectNmi(send_key::NmiArgs),
    /// Send signals to processes.
    SendProcessSignal(send_key::SignalArgs),
    // Host and Hypervisor group, CPU models and host memory (issue 15, cpu helper).
    /// CPU models.
    CpuModels(cpu_models::Args),
    /// Compare host CPU with a CPU described by an XML file.
    CpuCompare(cpu_compare::Args),
    /// Compute baseline CPU.
    CpuBaseline(cpu_baseline::Args),
    /// Compare a CPU with the CPU created by a hypervisor on the host.
    HypervisorCpuCompare(hypervisor_cpu_compare::Args),
    /// Compute baseline CPU usable by a specific hypervisor.
    HypervisorCpuBaseline(hypervisor_cpu_baseline::Args),
    /// NUMA free pages.
    Freepages(freepages::Args),
    /// Manipulate pages pool size.
    Allocpages(allocpages::Args),
    /// Get or set node memory parameters.
    NodeMemoryTune(node_memory_tune::Args),
    /// Suspend the host node for a given time duration.
    Nodesuspend(nodesuspend::Args),
    /// Node SEV information.
    Nodesevinfo,
    // Tuning, vCPU and IOThread group (issue 15, "tune").
    /// Set or query a block device I/O tuning parameters.
    Blkdeviotune(Box<blkdeviotune::Args>),
    /// Get or set blkio parameters.
    Blkiotune(blkiotune::Args),
    /// Get or set numa parameters.
    Numatune(numatune::Args),
    /// Get/set parameters of a virtual interface.
    Domiftune(domiftune::Args),
    /// Get/set perf event.
    Perf(perf::Args),
    /// Change maximum memory limit.
    Setmaxmem(setmaxmem::Args),
    /// Change lifecycle actions.
    #[command(name = "set-lifecycle-action")]
    SetLifecycleAction(set_lifecycle_action::Args),
    /// Show domain cpu statistics.
    #[command(name = "cpu-stats")]
    CpuStats(cpu_stats::Args),
    /// Detailed domain vcpu information.
    Vcpuinfo(vcpuinfo::Args),
    /// Control or query domain vcpu affinity.
    Vcpupin(vcpupin::Args),
    /// Control or query domain emulator affinity.
    Emulatorpin(emulatorpin::Args),
    /// View domain IOThreads.
    Iothreadinfo(iothreadinfo::Args),
    /// Control domain IOThread affinity.
    Iothreadpin(iothreadpin::Args),
    /// Add an IOThread to the guest domain.
    Iothreadadd(iothreadadd::Args),
    /// Modifies an existing IOThread of the guest domain.
    Iothreadset(iothreadset::Args),
    /// Delete an IOThread from the guest domain.
    Iothreaddel(iothreaddel::Args),
    /// Query or modify state of vcpu in the guest (via agent).
    Guestvcpus(guestvcpus::Args),
    /// Attach/detach vcpu or groups of threads.
    Setvcpu(setvcpu::Args),
    // Domain management group (issue 15): the rest (mgmt helper).
    /// Show or set domain's description or title.
    Desc(desc::DescArgs),
    /// Show or set domain's custom XML metadata.
    Metadata(desc::MetadataArgs),
    /// Rename a domain.
    Domrename(domrename::Args),
    /// Edit XML configuration for a domain.
    Edit(edit::Args),
    /// Remove managed save of a domain.
    ManagedsaveRemove(managedsave_xml::RemoveArgs),
    /// Domain information of managed save state file in XML.
    ManagedsaveDumpxml(managedsave_xml::DumpArgs),
    /// Redefine the XML for a domain's managed save state file.
    ManagedsaveDefine(managedsave_xml::DefineArgs),
    /// Edit XML for a domain's managed save state file.
    ManagedsaveEdit(managedsave_xml::EditArgs),
    /// Saved state domain information in XML.
    SaveImageDumpxml(managedsave_xml::ImageDumpArgs),
    /// Redefine the XML for a domain's saved state file.
    SaveImageDefine(managedsave_xml::ImageDefineArgs),
    /// Edit XML for a domain's saved state file.
    SaveImageEdit(managedsave_xml::ImageEditArgs),
    /// Core dump a domain.
    Dump(dump::Args),
    /// Domain block device size information.
    Domblkinfo(domblkinfo::Args),
    /// Get memory statistics for a domain.
    Dommemstat(dommemstat::Args),
}

/// Runs one command on an open connection.
pub async fn dispatch(conn: &Connection, cmd: &Command, out: &mut Output) -> Result<(), CliError> {
    match cmd {
        Command::Version(a) => version::run(conn, a, out).await,
        Command::Uri => uri::run(conn, out).await,
        Command::Hostname => hostname::run(conn, out).await,
        Command::Nodeinfo => nodeinfo::run(conn, out).await,
        // Host and Hypervisor group (issue 15).
        Command::Sysinfo => sysinfo::run(conn, out).await,
        Command::Freecell(a) => freecell::run(conn, a, out).await,
        Command::Maxvcpus(a) => maxvcpus::run(conn, a, out).await,
        Command::Nodecpustats(a) => nodecpustats::run(conn, a, out).await,
        Command::Nodecpumap(a) => nodecpumap::run(conn, a, out).await,
        Command::Nodememstats(a) => nodememstats::run(conn, a, out).await,
        // CPU models and host memory (issue 15, cpu helper).
        Command::CpuModels(a) => cpu_models::run(conn, a, out).await,
        Command::CpuCompare(a) => cpu_compare::run(conn, a, out).await,
        Command::CpuBaseline(a) => cpu_baseline::run(conn, a, out).await,
        Command::HypervisorCpuCompare(a) => hypervisor_cpu_compare::run(conn, a, out).await,
        Command::HypervisorCpuBaseline(a) => hypervisor_cpu_baseline::run(conn, a, out).await,
        Command::Freepages(a) => freepages::run(conn, a, out).await,
        Command::Allocpages(a) => allocpages::run(conn, a, out).await,
        Command::NodeMemoryTune(a) => node_memory_tune::run(conn, a, out).await,
        Command::Nodesuspend(a) => nodesuspend::run(conn, a, out).await,
        Command::Nodesevinfo => nodesevinfo::run(conn, out).await,
        Command::Capabilities => capabilities::run(conn, out).await,
        Command::Domcapabilities(a) => domcapabilities::run(conn, a, out).await,
        Command::List(a) => list::run(conn, a, out).await,
        Command::Dominfo(a) => dominfo::run(conn, a, out).await,
        Command::Domstate(a) => domstate::run(conn, a, out).await,
        Command::Domid(a) => domid::run(conn, a, out).await,
        Command::Domname(a) => domname::run(conn, a, out).await,
        Command::Domuuid(a) => domuuid::run(conn, a, out).await,
        Command::Define(a) => define::run(conn, a, out).await,
        Command::Validate(a) => validate::run(conn, a, out).await,
        Command::Undefine(a) => undefine::run(conn, a, out).await,
        Command::Create(a) => create::run(conn, a, out).await,
        Command::Start(a) => start::run(conn, a, out).await,
        Command::Shutdown(a) => shutdown::run(conn, a, out).await,
        Command::Destroy(a) => destroy::run(conn, a, out).await,
        Command::Reboot(a) => reboot::run(conn, a, out).await,
        Command::Reset(a) => reset::run(conn, a, out).await,
        Command::AttachDevice(a) => attach_device::attach(conn, a, out).await,
        Command::DetachDevice(a) => attach_device::detach(conn, a, out).await,
        Command::Suspend(a) => suspend::run(conn, a, out).await,
        Command::Resume(a) => resume::run(conn, a, out).await,
        Command::Dumpxml(a) => dumpxml::run(conn, a, out).await,
        Command::DomxmlFromNative(a) => domxml_from_native::run(conn, a, out).await,
        Command::DomxmlToNative(a) => domxml_to_native::run(conn, a, out).await,
        Command::Setmem(a) => setmem::run(conn, a, out).await,
        Command::Setvcpus(a) => setvcpus::run(conn, a, out).await,
        Command::Memtune(a) => memtune::run(conn, a, out).await,
        Command::Schedinfo(a) => schedinfo::run(conn, a, out).await,
        Command::Domifstat(a) => domifstat::run(conn, a, out).await,
        Command::Domblkstat(a) => domblkstat::run(conn, a, out).await,
        Command::Autostart(a) => autostart::run(conn, a, out).await,
        Command::Domstats(a) => domstats::run(conn, a, out).await,
        Command::Event(a) => event::run(conn, a, out).await,
        Command::Console(a) => console::run(conn, a, out).await,
        Command::Domifaddr(a) => domifaddr::run(conn, a, out).await,
        Command::Domfsfreeze(a) => domfsfreeze::run(conn, a, out).await,
        Command::Domfsthaw(a) => domfsthaw::run(conn, a, out).await,
        Command::Domfsinfo(a) => domfsinfo::run(conn, a, out).await,
        Command::Domfstrim(a) => domfstrim::run(conn, a, out).await,
        Command::SetUserPassword(a) => set_user_password::run(conn, a, out).await,
        Command::Domtime(a) => domtime::run(conn, a, out).await,
        Command::Guestinfo(a) => guestinfo::run(conn, a, out).await,
        Command::Domhostname(a) => domhostname::run(conn, a, out).await,
        Command::QemuAgent(a) => qemu_agent_command::run(conn, a, out).await,
        Command::GuestAgentTimeout(a) => guest_agent_timeout::run(conn, a, out).await,
        Command::NetList(a) => net_list::run(conn, a, out).await,
        Command::NetInfo(a) => net_info::info(conn, a, out).await,
        Command::NetUuid(a) => net_info::uuid(conn, a, out).await,
        Command::NetName(a) => net_info::name(conn, a, out).await,
        Command::NetDumpxml(a) => net_info::dumpxml(conn, a, out).await,
        Command::NetDefine(a) => net_lifecycle::define(conn, a, out).await,
        Command::NetCreate(a) => net_lifecycle::create(conn, a, out).await,
        Command::NetUndefine(a) => net_lifecycle::undefine(conn, a, out).await,
        Command::NetStart(a) => net_lifecycle::start(conn, a, out).await,
        Command::NetDestroy(a) => net_lifecycle::destroy(conn, a, out).await,
        Command::NetAutostart(a) => net_lifecycle::autostart(conn, a, out).await,
        Command::NetDhcpLeases(a) => net_dhcp_leases::run(conn, a, out).await,
        Command::NetPortList(a) => net_port::list(conn, a, out).await,
        Command::NetPortCreate(a) => net_port::create(conn, a, out).await,
        Command::NetPortDumpxml(a) => net_port::dumpxml(conn, a, out).await,
        Command::NetPortDelete(a) => net_port::delete(conn, a, out).await,
        Command::NetEvent(a) => net_event::run(conn, a, out).await,
        Command::PoolList(a) => pool_list::run(conn, a, out).await,
        Command::PoolInfo(a) => pool_info::run(conn, a, out).await,
        Command::PoolDumpxml(a) => pool_ids::dumpxml(conn, a, out).await,
        Command::PoolUuid(a) => pool_ids::uuid(conn, a, out).await,
        Command::PoolName(a) => pool_ids::name(conn, a, out).await,
        Command::PoolDefine(a) => pool_define::define(conn, a, out).await,
        Command::PoolDefineAs(a) => pool_define::define_as(conn, a, out).await,
        Command::PoolCreate(a) => pool_define::create(conn, a, out).await,
        Command::PoolCreateAs(a) => pool_define::create_as(conn, a, out).await,
        Command::PoolBuild(a) => pool_ops::build(conn, a, out).await,
        Command::PoolStart(a) => pool_ops::start(conn, a, out).await,
        Command::PoolRefresh(a) => pool_ops::refresh(conn, a, out).await,
        Command::PoolDestroy(a) => pool_ops::destroy(conn, a, out).await,
        Command::PoolDelete(a) => pool_ops::delete(conn, a, out).await,
        Command::PoolUndefine(a) => pool_ops::undefine(conn, a, out).await,
        Command::PoolAutostart(a) => pool_ops::autostart(conn, a, out).await,
        Command::VolList(a) => vol_list::run(conn, a, out).await,
        Command::VolInfo(a) => vol_info::run(conn, a, out).await,
        Command::VolDumpxml(a) => vol_ids::dumpxml(conn, a, out).await,
        Command::VolCreate(a) => vol_create::run_create(conn, a, out).await,
        Command::VolCreateAs(a) => vol_create::run_create_as(conn, a, out).await,
        Command::VolCreateFrom(a) => vol_create::run_create_from(conn, a, out).await,
        Command::VolClone(a) => vol_create::run_clone(conn, a, out).await,
        Command::VolDelete(a) => vol_ops::delete(conn, a, out).await,
        Command::VolResize(a) => vol_ops::resize(conn, a, out).await,
        Command::VolWipe(a) => vol_ops::wipe(conn, a, out).await,
        Command::VolUpload(a) => vol_stream::upload(conn, a, out).await,
        Command::VolDownload(a) => vol_stream::download(conn, a, out).await,
        Command::VolPath(a) => vol_ids::path(conn, a, out).await,
        // Domain monitoring group (issue 15).
        Command::Domblklist(a) => domblklist::run(conn, a, out).await,
        Command::Domiflist(a) => domiflist::run(conn, a, out).await,
        Command::DomifGetlink(a) => domif_getlink::run(conn, a, out).await,
        Command::Domcontrol(a) => domcontrol::run(conn, a, out).await,
        Command::Domblkerror(a) => domblkerror::run(conn, a, out).await,
        Command::Vcpucount(a) => vcpucount::run(conn, a, out).await,
        Command::Domjobabort(a) => domjobabort::run(conn, a, out).await,
        Command::Domblkthreshold(a) => domblkthreshold::run(conn, a, out).await,
        // Block jobs (issue 15, qemu group).
        Command::Blockcommit(a) => blockcommit::run(conn, a, out).await,
        Command::Blockcopy(a) => blockcopy::run(conn, a, out).await,
        Command::Blockjob(a) => blockjob::run(conn, a, out).await,
        Command::Blockpull(a) => blockpull::run(conn, a, out).await,
        Command::Blockresize(a) => blockresize::run(conn, a, out).await,
        Command::VolKey(a) => vol_ids::key(conn, a, out).await,
        Command::VolName(a) => vol_ids::name(conn, a, out).await,
        Command::VolPool(a) => vol_ids::pool(conn, a, out).await,
        Command::Migrate(a) => unsupported::migrate(conn, a, out).await,
        Command::MigrateSetmaxdowntime(a) => unsupported::set_max_downtime(conn, a, out).await,
        Command::MigrateGetmaxdowntime(a) => unsupported::get_max_downtime(conn, a, out).await,
        Command::MigrateCompcache(a) => unsupported::compcache(conn, a, out).await,
        Command::MigrateSetspeed(a) => unsupported::set_speed(conn, a, out).await,
        Command::MigrateGetspeed(a) => unsupported::get_speed(conn, a, out).await,
        Command::MigratePostcopy(a) => unsupported::postcopy(conn, a, out).await,
        Command::QemuAttach(a) => unsupported::qemu_attach(conn, a, out).await,
        Command::LxcEnterNamespace(a) => unsupported::lxc_enter_namespace(conn, a, out).await,
        Command::Dompmsuspend(a) => dompmsuspend::run(conn, a, out).await,
        Command::Dompmwakeup(a) => dompmwakeup::run(conn, a, out).await,
        Command::Domjobinfo(a) => domjobinfo::run(conn, a, out).await,
        Command::GetUserSshkeys(a) => user_sshkeys::get_user_sshkeys(conn, a, out).await,
        Command::SetUserSshkeys(a) => user_sshkeys::set_user_sshkeys(conn, a, out).await,
        Command::QemuMonitorCmd(a) => qemu_monitor_command::run(conn, a, out).await,
        Command::QemuMonitorEvent(a) => qemu_monitor_event::run(conn, a, out).await,
        Command::Domlaunchsecinfo(a) => domlaunchsecinfo::run(conn, a, out).await,
        Command::Domsetlaunchsecstate(a) => unsupported::set_launch_sec_state(conn, a, out).await,
        Command::DomdirtyrateCalc(a) => unsupported::dirty_rate_calc(conn, a, out).await,
        Command::DomFdAssociate(a) => unsupported::fd_associate(conn, a, out).await,
        // Snapshot group (issue 15).
        Command::SnapshotCreate(a) => snapshot_create::run_create(conn, a, out).await,
        Command::SnapshotCreateAs(a) => snapshot_create::run_create_as(conn, a, out).await,
        Command::SnapshotCurrent(a) => snapshot_ops::current(conn, a, out).await,
        Command::SnapshotDelete(a) => snapshot_ops::delete(conn, a, out).await,
        Command::SnapshotDumpxml(a) => snapshot_ops::dumpxml(conn, a, out).await,
        Command::SnapshotEdit(a) => snapshot_edit::run(conn, a, out).await,
        Command::SnapshotInfo(a) => snapshot_ops::info(conn, a, out).await,
        Command::SnapshotList(a) => snapshot_list::run(conn, a, out).await,
        Command::SnapshotParent(a) => snapshot_ops::parent(conn, a, out).await,
        Command::SnapshotRevert(a) => snapshot_ops::revert(conn, a, out).await,
        // Domain management group (issue 15).
        Command::Save(a) => save::save(conn, a, out).await,
        Command::Restore(a) => save::restore(conn, a, out).await,
        Command::Managedsave(a) => save::managed_save(conn, a, out).await,
        // Devices and consoles group (issue 15).
        Command::AttachDisk(a) => attach_disk::run(conn, a, out).await,
        Command::DetachDisk(a) => detach::disk(conn, a, out).await,
        Command::AttachInterface(a) => attach_interface::run(conn, a, out).await,
        Command::DetachInterface(a) => detach::interface(conn, a, out).await,
        Command::DetachDeviceAlias(a) => detach::alias(conn, a, out).await,
        Command::UpdateDevice(a) => update_device::device(conn, a, out).await,
        Command::UpdateMemoryDevice(a) => update_device::memory(conn, a, out).await,
        Command::ChangeMedia(a) => update_device::media(conn, a, out).await,
        Command::DomifSetlink(a) => update_device::link(conn, a, out).await,
        Command::Domdisplay(a) => display::domdisplay(conn, a, out).await,
        Command::Vncdisplay(a) => display::vncdisplay(conn, a, out).await,
        Command::Ttyconsole(a) => display::ttyconsole(conn, a, out).await,
        Command::Screenshot(a) => screenshot::run(conn, a, out).await,
        Command::SendKey(a) => send_key::send_key(conn, a, out).await,
        Command::InjectNmi(a) => send_key::inject_nmi(conn, a, out).await,
        Command::SendProcessSignal(a) => send_key::send_process_signal(conn, a, out).await,
        // Tuning, vCPU and IOThread group (issue 15, "tune").
        Command::Blkdeviotune(a) => blkdeviotune::run(conn, a, out).await,
        Command::Blkiotune(a) => blkiotune::run(conn, a, out).await,
        Command::Numatune(a) => numatune::run(conn, a, out).await,
        Command::Domiftune(a) => domiftune::run(conn, a, out).await,
        Command::Perf(a) => perf::run(conn, a, out).await,
        Command::Setmaxmem(a) => setmaxmem::run(conn, a, out).await,
        Command::SetLifecycleAction(a) => set_lifecycle_action::run(conn, a, out).await,
        Command::CpuStats(a) => cpu_stats::run(conn, a, out).await,
        Command::Vcpuinfo(a) => vcpuinfo::run(conn, a, out).await,
        Command::Vcpupin(a) => vcpupin::run(conn, a, out).await,
        Command::Emulatorpin(a) => emulatorpin::run(conn, a, out).await,
        Command::Iothreadinfo(a) => iothreadinfo::run(conn, a, out).await,
        Command::Iothreadpin(a) => iothreadpin::run(conn, a, out).await,
        Command::Iothreadadd(a) => iothreadadd::run(conn, a, out).await,
        Command::Iothreadset(a) => iothreadset::run(conn, a, out).await,
        Command::Iothreaddel(a) => iothreaddel::run(conn, a, out).await,
        Command::Guestvcpus(a) => guestvcpus::run(conn, a, out).await,
        Command::Setvcpu(a) => setvcpu::run(conn, a, out).await,
        // Domain management group (issue 15): the rest.
        Command::Desc(a) => desc::desc(conn, a, out).await,
        Command::Metadata(a) => desc::metadata(conn, a, out).await,
        Command::Domrename(a) => domrename::run(conn, a, out).await,
        Command::Edit(a) => edit::run(conn, a, out).await,
        Command::ManagedsaveRemove(a) => managedsave_xml::remove(conn, a, out).await,
        Command::ManagedsaveDumpxml(a) => managedsave_xml::dumpxml(conn, a, out).await,
        Command::ManagedsaveDefine(a) => managedsave_xml::define(conn, a, out).await,
        Command::ManagedsaveEdit(a) => managedsave_xml::edit(conn, a, out).await,
        Command::SaveImageDumpxml(a) => managedsave_xml::image_dumpxml(conn, a, out).await,
        Command::SaveImageDefine(a) => managedsave_xml::image_define(conn, a, out).await,
        Command::SaveImageEdit(a) => managedsave_xml::image_edit(conn, a, out).await,
        Command::Dump(a) => dump::run(conn, a, out).await,
        Command::Domblkinfo(a) => domblkinfo::run(conn, a, out).await,
        Command::Dommemstat(a) => dommemstat::run(conn, a, out).await,
    }
}

/// Global options alone, to find a command string after them.
#[derive(Parser, Debug)]
#[command(name = "virt", disable_help_flag = true, disable_version_flag = true)]
struct Globals {
    #[arg(short = 'c', long = "connect")]
    connect: Option<String>,
    #[arg(short = 'r', long = "readonly")]
    readonly: bool,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(short = 't', long = "timing")]
    timing: bool,
    /// `-v`, `--version` (`short`) or `--version=long`.
    #[arg(short = 'v', long = "version", num_args = 0..=1, require_equals = true, default_missing_value = "short")]
    version: Option<String>,
    /// `-V`: the long version.
    #[arg(short = 'V')]
    version_long: bool,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// One command of a command string.
#[derive(Parser, Debug)]
#[command(name = "virt", no_binary_name = true)]
struct OneCommand {
    #[command(subcommand)]
    command: Command,
}

/// What to run: the global options and one or more commands.
#[derive(Debug)]
pub struct Invocation {
    /// `-c URI`.
    pub connect: Option<String>,
    /// `-r`.
    pub readonly: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-t`: each command's time after its output.
    pub timing: bool,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// A command line clap refused, and the command it was parsing (when it got that far).
#[derive(Debug)]
pub struct UsageError {
    /// clap's error.
    pub error: clap::Error,
    /// The subcommand's name as typed.
    pub command: Option<String>,
}

impl UsageError {
    /// Prints it as virsh would (see [`usage`]) and returns the exit status.
    pub fn report(&self) -> i32 {
        match usage::virsh_lines(&self.error, self.command.as_deref()) {
            Some(lines) => {
                use std::io::Write as _;
                let mut err = std::io::stderr();
                for l in lines {
                    let _ = writeln!(err, "error: {l}");
                }
                1
            }
            None => {
                let _ = self.error.print();
                if self.error.use_stderr() {
                    1
                } else {
                    0
                }
            }
        }
    }
}

/// Parses `argv` (program name first): `virt [OPTIONS] COMMAND [ARGS]`, or
/// `virt [OPTIONS] "CMD ARGS; CMD ARGS"` as virsh accepts.
pub fn parse(argv: &[String]) -> Result<Invocation, UsageError> {
    let command = Globals::try_parse_from(argv)
        .ok()
        .and_then(|g| g.rest.first().cloned());
    parse_clap(argv).map_err(|(error, named)| UsageError {
        error,
        command: named.or(command),
    })
}

/// [`parse`] with clap's error and, in a command string, the command that failed.
fn parse_clap(argv: &[String]) -> Result<Invocation, (clap::Error, Option<String>)> {
    if let Ok(g) = Globals::try_parse_from(argv) {
        if let [only] = g.rest.as_slice() {
            if script::is_command_string(only) {
                let groups = script::split_commands(only).map_err(|e| {
                    (
                        clap::Error::raw(clap::error::ErrorKind::InvalidValue, e),
                        None,
                    )
                })?;
                let commands = groups
                    .iter()
                    .map(|words| {
                        OneCommand::try_parse_from(words)
                            .map(|c| c.command)
                            .map_err(|e| (e, words.first().cloned()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(Invocation {
                    connect: g.connect,
                    readonly: g.readonly,
                    quiet: g.quiet,
                    timing: g.timing,
                    commands,
                });
            }
        }
    }
    let cli = Cli::try_parse_from(argv).map_err(|e| (e, None))?;
    Ok(Invocation {
        connect: cli.connect,
        readonly: cli.readonly,
        quiet: cli.quiet,
        timing: cli.timing,
        commands: vec![cli.command],
    })
}

/// Opens the connection, runs the commands and reports as virsh does; returns the exit status
/// of the last command.
pub async fn run(inv: Invocation) -> i32 {
    let mut out = Output::stdout(inv.quiet);
    let conn = match Connection::open(inv.connect.as_deref(), inv.readonly).await {
        Ok(conn) => conn,
        Err(e) => {
            let result = Err(CliError::Connect(Box::new(e)));
            if let Err(e) = &result {
                print_error(&mut std::io::stderr(), e);
            }
            return exit_status(&result);
        }
    };
    let mut status = 0;
    for cmd in &inv.commands {
        let started = std::time::Instant::now();
        let result = dispatch(&conn, cmd, &mut out).await;
        let took = started.elapsed();
        out.flush();
        if let Err(e) = &result {
            print_error(&mut std::io::stderr(), e);
        }
        // virsh ends every command, successful or not, with a newline unless quiet; a few
        // commands' successful paths end without it (see `Output::no_closing_line`).
        let closing = out.take_closing_line();
        if result.is_err() || closing {
            out.extra("");
        }
        if inv.timing {
            out.line(&format!("(Time: {:.3} ms)", took.as_secs_f64() * 1000.0));
            out.line("");
        }
        out.flush();
        status = exit_status(&result);
    }
    status
}

/// Parses the command line, runs it on a Tokio runtime and returns the exit status. Usage
/// errors exit with 1 as virsh's do; `--help` exits with 0.
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    if let Ok(g) = Globals::try_parse_from(&argv) {
        let version = if g.version_long {
            Some(true)
        } else {
            g.version.as_deref().map(|v| v == "long")
        };
        if let Some((stdout, stderr, status)) = help::intercept(&g.rest, version) {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(stdout.as_bytes());
            let _ = std::io::stderr().write_all(stderr.as_bytes());
            return status;
        }
    }
    let inv = match parse(&argv) {
        Ok(inv) => inv,
        Err(e) => return e.report(),
    };
    // One thread: a `virt` run is one short conversation (or a console session), and
    // worker threads would only add their stacks and allocator arenas to its memory.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let err = CliError::msg(format!("failed to start the async runtime: {e}"));
            print_error(&mut std::io::stderr(), &err);
            return 1;
        }
    };
    runtime.block_on(run(inv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_and_domain_forms_parse() {
        let cli = Cli::try_parse_from([
            "virt",
            "-c",
            "test:///default",
            "-r",
            "-q",
            "dominfo",
            "test",
        ])
        .expect("valid");
        assert_eq!(cli.connect.as_deref(), Some("test:///default"));
        assert!(cli.readonly && cli.quiet);
        let Command::Dominfo(a) = cli.command else {
            panic!("dominfo expected")
        };
        assert_eq!(a.domain.get(), "test");
        let cli =
            Cli::try_parse_from(["virt", "domstate", "--domain", "1", "--reason"]).expect("valid");
        let Command::Domstate(a) = cli.command else {
            panic!("domstate expected")
        };
        assert_eq!(a.domain.get(), "1");
        assert!(a.reason);
        assert!(Cli::try_parse_from(["virt", "dominfo"]).is_err());
    }

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_strings_run_several_commands() {
        let inv = parse(&argv(&[
            "virt",
            "-c",
            "test:///default",
            "-q",
            "define /x.xml; start small",
        ]))
        .expect("valid");
        assert_eq!(inv.connect.as_deref(), Some("test:///default"));
        assert!(inv.quiet);
        assert!(matches!(
            inv.commands.as_slice(),
            [Command::Define(_), Command::Start(_)]
        ));
        let inv = parse(&argv(&["virt", "list", "--all"])).expect("valid");
        assert!(matches!(inv.commands.as_slice(), [Command::List(a)] if a.all));
        assert!(parse(&argv(&["virt", "uri; bogus"])).is_err());
    }

    #[test]
    fn setmem_accepts_negative_looking_sizes_for_virsh_errors() {
        let cli = Cli::try_parse_from(["virt", "setmem", "test", "-5", "--live"]).expect("valid");
        let Command::Setmem(a) = cli.command else {
            panic!("setmem expected")
        };
        assert_eq!(a.size, "-5");
        assert!(a.impact.live);
    }
}
