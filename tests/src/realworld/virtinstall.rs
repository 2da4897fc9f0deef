//! Domain XML written at test time by Debian's `virt-install` (virtinst), the way people make
//! their guests: [`SETS`] is a matrix of option sets for x86_64 Linux and Windows guests, and
//! [`generate`] runs `virt-install --connect qemu:///system --print-xml 1` for each, against the
//! real libvirt (its capabilities and domain capabilities decide machine, firmware and device
//! defaults, as on a user's machine).
//!
//! Nothing touches the network and nothing is defined: `--print-xml` only prints. Disks,
//! install media, kernels and shared directories are files the generator creates first in the
//! output directory (`{D}` in [`Set::args`]): `*.qcow2` and `*.img` with `qemu-img create`,
//! anything else empty; a path ending in `/` is a directory. virt-install looks every disk up
//! in a storage pool and, when no pool holds its directory, defines an autostarted one; to
//! leave nothing behind the generator creates a transient pool for the directory first and
//! destroys it (and any pool found targeting the directory) when it is done.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One virt-install invocation.
#[derive(Debug, Clone, Copy)]
pub struct Set {
    /// Names the output file (`virt-install-LABEL.xml`) and the guest (`rw-LABEL`).
    pub label: &'static str,
    /// `--virt-type`: `qemu` (TCG) or `kvm`.
    pub virt_type: &'static str,
    /// The other options; `{D}` stands for the output directory.
    pub args: &'static [&'static str],
}

const fn q(label: &'static str, args: &'static [&'static str]) -> Set {
    Set {
        label,
        virt_type: "qemu",
        args,
    }
}

const fn k(label: &'static str, args: &'static [&'static str]) -> Set {
    Set {
        label,
        virt_type: "kvm",
        args,
    }
}

/// The matrix: what people run for x86_64 guests, one concern varied per set on top of a
/// plausible base (an OS, a disk, a network choice, a display choice).
#[rustfmt::skip]
pub const SETS: &[Set] = &[
    // Linux, the common shapes.
    q("linux2022-q35-virtio", &["--osinfo", "linux2022", "--import", "--disk", "{D}/l2022.qcow2,bus=virtio", "--network", "user", "--graphics", "vnc"]),
    q("linux2020-pc-bios", &["--osinfo", "linux2020", "--machine", "pc", "--import", "--disk", "{D}/l2020.qcow2", "--network", "user", "--graphics", "vnc", "--video", "vga"]),
    q("debian11-headless", &["--osinfo", "debian11", "--import", "--disk", "{D}/deb11.qcow2", "--graphics", "none", "--serial", "pty", "--console", "pty,target_type=serial", "--network", "none"]),
    q("ubuntu2204-spice", &["--osinfo", "ubuntu22.04", "--import", "--disk", "{D}/ubu.qcow2", "--graphics", "spice", "--video", "qxl", "--channel", "spicevmc", "--sound", "ich9", "--network", "user"]),
    q("fedora37-uefi", &["--osinfo", "fedora37", "--boot", "uefi", "--import", "--disk", "{D}/f37.qcow2", "--network", "user", "--graphics", "vnc"]),
    k("fedora37-uefi-kvm", &["--osinfo", "fedora37", "--boot", "uefi", "--import", "--disk", "{D}/f37k.qcow2", "--network", "none", "--graphics", "spice"]),
    q("centos7-pc-ide", &["--osinfo", "centos7.0", "--machine", "pc", "--import", "--disk", "{D}/c7.qcow2,bus=ide", "--network", "bridge=br0,model=e1000", "--graphics", "vnc"]),
    k("rhel9-kvm-passthrough", &["--osinfo", "rhel9.0", "--cpu", "host-passthrough", "--import", "--disk", "{D}/rhel9.qcow2", "--network", "network=default", "--graphics", "none"]),
    q("freebsd13-sata-e1000", &["--osinfo", "freebsd13.0", "--import", "--disk", "{D}/fbsd.qcow2,bus=sata", "--network", "user,model=e1000", "--graphics", "vnc"]),
    q("generic-pc", &["--osinfo", "generic", "--machine", "pc", "--import", "--disk", "{D}/gen.img", "--network", "none", "--graphics", "vnc"]),
    q("opensuse-virtio-scsi", &["--osinfo", "opensuse15.4", "--controller", "type=scsi,model=virtio-scsi", "--import", "--disk", "{D}/suse.qcow2,bus=scsi", "--network", "user", "--graphics", "none"]),
    q("archlinux-cdrom-install", &["--osinfo", "archlinux", "--cdrom", "{D}/arch.iso", "--disk", "{D}/arch.qcow2", "--network", "user", "--graphics", "vnc"]),
    q("alpine-minimal", &["--osinfo", "alpinelinux3.17", "--memory", "256", "--vcpus", "1", "--import", "--disk", "{D}/alp.qcow2,bus=virtio", "--graphics", "none", "--network", "none"]),
    k("linux2022-kvm-default", &["--osinfo", "linux2022", "--import", "--disk", "{D}/l2022k.qcow2", "--network", "user", "--graphics", "spice"]),
    q("linux2016-i686-pc", &["--arch", "i686", "--osinfo", "linux2016", "--machine", "pc", "--import", "--disk", "{D}/i686.qcow2", "--network", "none", "--graphics", "vnc"]),
    // CPU, vCPUs, memory, clock, power management, lifecycle.
    q("cpu-topology", &["--osinfo", "linux2022", "--vcpus", "4,sockets=2,cores=2,threads=1", "--cpu", "host-model", "--import", "--disk", "{D}/topo.qcow2", "--network", "none", "--graphics", "none"]),
    q("cpu-model-features", &["--osinfo", "linux2022", "--cpu", "Haswell-noTSX,+vmx,-hle", "--import", "--disk", "{D}/cpum.qcow2", "--network", "none", "--graphics", "none"]),
    q("cpu-maximum", &["--osinfo", "linux2022", "--cpu", "maximum", "--import", "--disk", "{D}/cpumax.qcow2", "--network", "none", "--graphics", "none"]),
    q("cpu-passthrough-tcg", &["--osinfo", "linux2022", "--cpu", "host-passthrough", "--import", "--disk", "{D}/cpupt.qcow2", "--network", "none", "--graphics", "none"]),
    k("cpu-passthrough-cache", &["--osinfo", "linux2022", "--cpu", "host-passthrough,cache.mode=passthrough", "--import", "--disk", "{D}/cpuc.qcow2", "--network", "none", "--graphics", "none"]),
    q("vcpus-hotplug-memory-current", &["--osinfo", "linux2022", "--vcpus", "2,maxvcpus=4", "--memory", "1024,currentMemory=512", "--import", "--disk", "{D}/hot.qcow2", "--network", "none", "--graphics", "none"]),
    q("clock-localtime", &["--osinfo", "linux2022", "--clock", "offset=localtime,rtc_tickpolicy=catchup,hpet_present=no", "--import", "--disk", "{D}/clk.qcow2", "--network", "none", "--graphics", "none"]),
    q("pm-suspend-on", &["--osinfo", "linux2022", "--pm", "suspend_to_mem.enabled=on,suspend_to_disk.enabled=on", "--import", "--disk", "{D}/pm.qcow2", "--network", "none", "--graphics", "none"]),
    q("memorybacking-memfd-shared", &["--osinfo", "linux2022", "--memorybacking", "source.type=memfd,access.mode=shared", "--import", "--disk", "{D}/memfd.qcow2", "--network", "none", "--graphics", "none"]),
    q("memorybacking-hugepages", &["--osinfo", "linux2022", "--memorybacking", "hugepages=on", "--import", "--disk", "{D}/huge.qcow2", "--network", "none", "--graphics", "none"]),
    q("iothreads", &["--osinfo", "linux2022", "--iothreads", "2", "--import", "--disk", "{D}/iot.qcow2,driver.iothread=1", "--network", "none", "--graphics", "none"]),
    q("events-destroy", &["--osinfo", "linux2022", "--events", "on_poweroff=destroy,on_reboot=destroy,on_crash=restart", "--import", "--disk", "{D}/ev.qcow2", "--network", "none", "--graphics", "none"]),
    q("sysinfo-smbios", &["--osinfo", "linux2022", "--sysinfo", "smbios,system.manufacturer=Acme,system.product=Box,bios.vendor=Acme", "--import", "--disk", "{D}/smb.qcow2", "--network", "none", "--graphics", "none"]),
    q("resource-partition", &["--osinfo", "linux2022", "--resource", "partition=/machine", "--import", "--disk", "{D}/res.qcow2", "--network", "none", "--graphics", "none"]),
    q("metadata-title", &["--osinfo", "linux2022", "--metadata", "title=Web server,description=Serves pages", "--import", "--disk", "{D}/meta.qcow2", "--network", "none", "--graphics", "none"]),
    q("cputune-vcpupin", &["--osinfo", "linux2022", "--vcpus", "2", "--cputune", "vcpupin0.vcpu=0,vcpupin0.cpuset=0,vcpupin1.vcpu=1,vcpupin1.cpuset=1", "--import", "--disk", "{D}/pin.qcow2", "--network", "none", "--graphics", "none"]),
    // Devices, one kind at a time.
    q("rng-random", &["--osinfo", "linux2022", "--rng", "/dev/random", "--import", "--disk", "{D}/rng.qcow2", "--network", "none", "--graphics", "none"]),
    q("rng-builtin", &["--osinfo", "linux2022", "--rng", "builtin", "--import", "--disk", "{D}/rngb.qcow2", "--network", "none", "--graphics", "none"]),
    q("watchdog-i6300esb", &["--osinfo", "linux2022", "--watchdog", "i6300esb,action=poweroff", "--import", "--disk", "{D}/wd.qcow2", "--network", "none", "--graphics", "none"]),
    q("watchdog-itco", &["--osinfo", "linux2022", "--watchdog", "itco,action=reset", "--import", "--disk", "{D}/itco.qcow2", "--network", "none", "--graphics", "none"]),
    q("panic-default", &["--osinfo", "linux2022", "--panic", "default", "--import", "--disk", "{D}/panic.qcow2", "--network", "none", "--graphics", "none"]),
    q("memballoon-none", &["--osinfo", "linux2022", "--memballoon", "none", "--import", "--disk", "{D}/nobal.qcow2", "--network", "none", "--graphics", "none"]),
    q("input-tablet-keyboard", &["--osinfo", "linux2022", "--input", "tablet", "--input", "keyboard,bus=virtio", "--import", "--disk", "{D}/inp.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("redirdev-spice", &["--osinfo", "linux2022", "--graphics", "spice", "--redirdev", "usb,type=spicevmc", "--import", "--disk", "{D}/redir.qcow2", "--network", "none"]),
    q("usb2-controller", &["--osinfo", "linux2022", "--controller", "usb2", "--import", "--disk", "{D}/usb2.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("usb3-controller", &["--osinfo", "linux2022", "--controller", "usb3", "--import", "--disk", "{D}/usb3.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("usb-none", &["--osinfo", "linux2022", "--controller", "usb,model=none", "--import", "--disk", "{D}/nousb.qcow2", "--network", "none", "--graphics", "none"]),
    q("tpm-default-uefi", &["--osinfo", "linux2022", "--boot", "uefi", "--tpm", "default", "--import", "--disk", "{D}/tpm.qcow2", "--network", "none", "--graphics", "none"]),
    q("tpm-none", &["--osinfo", "win11", "--tpm", "none", "--import", "--disk", "{D}/notpm.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("sound-ich6", &["--osinfo", "linux2022", "--sound", "ich6", "--import", "--disk", "{D}/ich6.qcow2", "--network", "none", "--graphics", "spice"]),
    q("sound-default-pc", &["--osinfo", "linux2020", "--machine", "pc", "--sound", "default", "--import", "--disk", "{D}/snd.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("sound-none", &["--osinfo", "win10", "--sound", "none", "--import", "--disk", "{D}/nosnd.qcow2", "--network", "none", "--graphics", "spice"]),
    q("video-virtio", &["--osinfo", "linux2022", "--video", "virtio", "--import", "--disk", "{D}/vv.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("video-bochs", &["--osinfo", "linux2022", "--video", "bochs", "--import", "--disk", "{D}/vb.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("video-cirrus-pc", &["--osinfo", "generic", "--machine", "pc", "--video", "cirrus", "--import", "--disk", "{D}/vc.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("graphics-vnc-listen-password", &["--osinfo", "linux2022", "--graphics", "vnc,listen=127.0.0.1,password=s3cret", "--import", "--disk", "{D}/vncpw.qcow2", "--network", "none"]),
    q("graphics-spice-listen-none", &["--osinfo", "linux2022", "--graphics", "spice,listen=none", "--import", "--disk", "{D}/spln.qcow2", "--network", "none"]),
    q("channel-unix-agent", &["--osinfo", "generic", "--channel", "unix,target_type=virtio,name=org.qemu.guest_agent.0", "--import", "--disk", "{D}/qga.qcow2", "--network", "none", "--graphics", "none"]),
    q("channel-pty-virtio", &["--osinfo", "linux2022", "--channel", "pty,target_type=virtio,name=org.example.port.0", "--import", "--disk", "{D}/chpty.qcow2", "--network", "none", "--graphics", "none"]),
    q("serial-file-parallel-pty", &["--osinfo", "linux2022", "--serial", "file,path={D}/serial.log", "--parallel", "pty", "--import", "--disk", "{D}/ser.qcow2", "--network", "none", "--graphics", "none"]),
    q("serial-tcp-server", &["--osinfo", "linux2022", "--serial", "tcp,host=127.0.0.1:4555,mode=bind,protocol.type=telnet", "--import", "--disk", "{D}/sertcp.qcow2", "--network", "none", "--graphics", "none"]),
    q("smartcard-spice", &["--osinfo", "linux2022", "--graphics", "spice", "--smartcard", "passthrough,type=spicevmc", "--import", "--disk", "{D}/sc.qcow2", "--network", "none"]),
    q("filesystem-virtiofs", &["--osinfo", "linux2022", "--memorybacking", "source.type=memfd,access.mode=shared", "--filesystem", "{D}/share/,hostshare,driver.type=virtiofs", "--import", "--disk", "{D}/fs.qcow2", "--network", "none", "--graphics", "none"]),
    // Networks and disks.
    q("network-bridge-virtio", &["--osinfo", "linux2022", "--network", "bridge=br0,model=virtio", "--import", "--disk", "{D}/br.qcow2", "--graphics", "none"]),
    q("network-default-mac", &["--osinfo", "linux2022", "--network", "network=default,mac=52:54:00:12:34:56", "--import", "--disk", "{D}/netd.qcow2", "--graphics", "none"]),
    q("network-user-rtl8139-pc", &["--osinfo", "generic", "--machine", "pc", "--network", "user,model=rtl8139", "--import", "--disk", "{D}/rtl.qcow2", "--graphics", "none"]),
    q("disk-cache-discard", &["--osinfo", "linux2022", "--import", "--disk", "{D}/cache.qcow2,cache=none,io=native,discard=unmap,detect_zeroes=unmap", "--network", "none", "--graphics", "none"]),
    q("disk-readonly-shareable", &["--osinfo", "linux2022", "--import", "--disk", "{D}/ro1.qcow2", "--disk", "{D}/ro2.img,readonly=on", "--disk", "{D}/sh.img,shareable=on", "--network", "none", "--graphics", "none"]),
    q("disks-and-cdrom-pc-ide", &["--osinfo", "generic", "--machine", "pc", "--import", "--disk", "{D}/pc1.qcow2,bus=ide", "--disk", "{D}/pc2.qcow2,bus=ide", "--disk", "{D}/pc.iso,device=cdrom,bus=ide", "--network", "none", "--graphics", "vnc"]),
    q("cdrom-sata-q35", &["--osinfo", "linux2022", "--import", "--disk", "{D}/q1.qcow2", "--disk", "{D}/q.iso,device=cdrom", "--network", "none", "--graphics", "vnc"]),
    q("disk-serial-bootorder", &["--osinfo", "linux2022", "--import", "--disk", "{D}/bo1.qcow2,serial=DISK01,boot.order=2", "--disk", "{D}/bo.iso,device=cdrom,boot.order=1", "--network", "user,boot.order=3", "--graphics", "none"]),
    // Boot and firmware.
    q("boot-menu-useserial", &["--osinfo", "linux2022", "--boot", "hd,menu=on,useserial=on", "--import", "--disk", "{D}/menu.qcow2", "--network", "none", "--graphics", "none"]),
    q("boot-order-cdrom-hd-network", &["--osinfo", "linux2022", "--boot", "cdrom,hd,network", "--disk", "{D}/bord.qcow2", "--disk", "{D}/bord.iso,device=cdrom", "--network", "user", "--graphics", "vnc"]),
    q("boot-direct-kernel", &["--osinfo", "linux2022", "--boot", "kernel={D}/vmlinuz,initrd={D}/initrd.img,kernel_args=console=ttyS0", "--import", "--disk", "{D}/kern.qcow2", "--network", "none", "--graphics", "none"]),
    q("boot-loader-explicit", &["--osinfo", "linux2022", "--boot", "loader=/usr/share/OVMF/OVMF_CODE_4M.fd,loader.readonly=yes,loader.type=pflash,nvram.template=/usr/share/OVMF/OVMF_VARS_4M.fd", "--import", "--disk", "{D}/ldr.qcow2", "--network", "none", "--graphics", "none"]),
    q("uefi-secure-boot-on", &["--osinfo", "linux2022", "--boot", "uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=yes,firmware.feature1.name=enrolled-keys,firmware.feature1.enabled=yes", "--import", "--disk", "{D}/sbon.qcow2", "--network", "none", "--graphics", "none"]),
    q("uefi-secure-boot-off", &["--osinfo", "linux2022", "--boot", "uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=no", "--import", "--disk", "{D}/sboff.qcow2", "--network", "none", "--graphics", "none"]),
    q("features-smm-vmport-kvmhidden", &["--osinfo", "linux2022", "--features", "smm.state=on,vmport.state=off,kvm.hidden.state=on", "--import", "--disk", "{D}/feat.qcow2", "--network", "none", "--graphics", "none"]),
    // Windows.
    k("win11-kvm", &["--osinfo", "win11", "--memory", "4096", "--vcpus", "2", "--import", "--disk", "{D}/w11.qcow2", "--network", "network=default", "--graphics", "spice"]),
    q("win11-tcg", &["--osinfo", "win11", "--memory", "4096", "--import", "--disk", "{D}/w11t.qcow2", "--network", "user", "--graphics", "vnc"]),
    k("win10-kvm-spice", &["--osinfo", "win10", "--memory", "2048", "--import", "--disk", "{D}/w10.qcow2,bus=sata", "--network", "bridge=br0,model=e1000e", "--graphics", "spice", "--video", "qxl"]),
    q("win10-virtio", &["--osinfo", "win10", "--memory", "2048", "--import", "--disk", "{D}/w10v.qcow2,bus=virtio", "--disk", "{D}/virtio-win.iso,device=cdrom", "--network", "user,model=virtio", "--graphics", "vnc"]),
    k("win2k19-hyperv", &["--osinfo", "win2k19", "--memory", "2048", "--features", "hyperv.relaxed.state=on,hyperv.vapic.state=on,hyperv.spinlocks.state=on,hyperv.spinlocks.retries=8191,hyperv.synic.state=on,hyperv.reset.state=on", "--clock", "hypervclock_present=yes", "--import", "--disk", "{D}/w2k19.qcow2,bus=sata", "--network", "network=default,model=e1000e", "--graphics", "vnc"]),
    k("win2k22-uefi-no-secure-boot", &["--osinfo", "win2k22", "--memory", "2048", "--boot", "uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=no", "--import", "--disk", "{D}/w2k22.qcow2", "--network", "none", "--graphics", "vnc"]),
    q("win2k16-pc", &["--osinfo", "win2k16", "--machine", "pc", "--memory", "2048", "--import", "--disk", "{D}/w2k16.qcow2,bus=ide", "--network", "user,model=e1000", "--graphics", "vnc"]),
    q("win2k8r2-pc-cdrom-install", &["--osinfo", "win2k8r2", "--machine", "pc", "--memory", "1024", "--cdrom", "{D}/w2k8.iso", "--disk", "{D}/w2k8.qcow2,bus=ide", "--network", "user,model=rtl8139", "--graphics", "vnc"]),
    q("win10-hyperv-features-tcg", &["--osinfo", "win10", "--memory", "2048", "--features", "hyperv.relaxed.state=on,hyperv.vapic.state=on", "--import", "--disk", "{D}/w10h.qcow2,bus=sata", "--network", "none", "--graphics", "vnc"]),
    // A kitchen sink, as some users write them.
    k("kvm-many-devices", &["--osinfo", "linux2022", "--memory", "2048", "--vcpus", "4,sockets=1,cores=2,threads=2", "--cpu", "host-model", "--iothreads", "1", "--import", "--disk", "{D}/many1.qcow2,bus=virtio,cache=none", "--disk", "{D}/many2.qcow2,bus=scsi", "--disk", "{D}/many.iso,device=cdrom", "--controller", "type=scsi,model=virtio-scsi", "--network", "user", "--network", "none", "--graphics", "spice", "--video", "virtio", "--sound", "ich9", "--channel", "spicevmc", "--channel", "unix,target_type=virtio,name=org.qemu.guest_agent.0", "--rng", "/dev/urandom", "--watchdog", "i6300esb", "--panic", "default", "--input", "tablet", "--serial", "pty", "--console", "pty,target_type=serial", "--redirdev", "usb,type=spicevmc", "--tpm", "default"]),
];

/// One generated definition.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The set it came from.
    pub label: String,
    /// The file written (`DIR/virt-install-LABEL.xml`).
    pub path: PathBuf,
}

/// The files a set's arguments name in `dir` (`{D}/...` up to a comma), created if missing.
fn provide_files(set: &Set, dir: &Path) -> Result<(), String> {
    for arg in set.args {
        for piece in arg.split("{D}/").skip(1) {
            let name = piece.split([',', ' ']).next().unwrap_or_default();
            let path = dir.join(name);
            if path.exists() {
                continue;
            }
            if name.ends_with('/') {
                std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                continue;
            }
            let format = match name.rsplit('.').next() {
                Some("qcow2") => Some("qcow2"),
                Some("img") => Some("raw"),
                _ => None,
            };
            match format {
                Some(f) => crate::realworld::qemu_img_create(&path, f)?,
                None => std::fs::write(&path, b"")
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
            }
        }
    }
    Ok(())
}

/// Runs virt-install for `set`, writing the XML into `dir`.
fn run_set(set: &Set, dir: &Path) -> Result<Generated, String> {
    provide_files(set, dir)?;
    let d = dir.to_string_lossy();
    let mut cmd = Command::new("virt-install");
    cmd.args(["--connect", "qemu:///system", "--print-xml", "1"])
        .args(["--name", &format!("rw-{}", set.label)])
        .args(["--virt-type", set.virt_type]);
    if !set.args.contains(&"--memory") {
        cmd.args(["--memory", "1024"]);
    }
    cmd.args(set.args.iter().map(|a| a.replace("{D}", &d)));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run virt-install: {e}"))?;
    let xml = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !xml.contains("<domain") {
        return Err(format!(
            "virt-install for set '{}' failed: {}",
            set.label,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let path = dir.join(format!("virt-install-{}.xml", set.label));
    std::fs::write(&path, xml.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Generated {
        label: set.label.to_string(),
        path,
    })
}

/// A transient storage pool on `dir` for the time of a generation; on drop it is destroyed,
/// with any other pool targeting `dir` (virt-install defines one when it finds none).
pub struct PoolGuard {
    dir: PathBuf,
}

impl PoolGuard {
    /// Creates the transient pool on `dir`.
    pub fn new(dir: &Path) -> Result<PoolGuard, String> {
        let name = pool_name(dir);
        let out = virsh(&[
            "pool-create-as",
            &name,
            "dir",
            "--target",
            &dir.to_string_lossy(),
        ])?;
        if !out.0 {
            return Err(format!("cannot create pool {name}: {}", out.1));
        }
        Ok(PoolGuard {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let target = format!("<path>{}</path>", self.dir.display());
        let Ok((_, list)) = virsh(&["pool-list", "--all", "--name"]) else {
            return;
        };
        for pool in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Ok((_, xml)) = virsh(&["pool-dumpxml", pool]) else {
                continue;
            };
            if xml.contains(&target) {
                let _ = virsh(&["pool-destroy", pool]);
                let _ = virsh(&["pool-undefine", pool]);
            }
        }
    }
}

fn pool_name(dir: &Path) -> String {
    let base = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!("virt-rw-{}-{base}", std::process::id())
}

/// `virsh -c qemu:///system ARGS`: (success, stdout + stderr).
fn virsh(args: &[&str]) -> Result<(bool, String), String> {
    let out = Command::new("virsh")
        .args(["-q", "-c", "qemu:///system"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run virsh: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// Runs every set of [`SETS`] that `keep` accepts, three at a time, into `dir` (created if
/// missing). Fails with every failing set's virt-install error: a set that no longer runs is
/// a defect of the matrix, not a skip.
pub fn generate(dir: &Path, keep: impl Fn(&Set) -> bool + Sync) -> Result<Vec<Generated>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let sets: Vec<&Set> = SETS.iter().filter(|s| keep(s)).collect();
    let _pool = PoolGuard::new(&dir)?;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(set) = sets.get(i) else { break };
                let r = run_set(set, &dir);
                results.lock().expect("results lock").push(r);
            });
        }
    });
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for r in results.into_inner().expect("results lock") {
        match r {
            Ok(g) => ok.push(g),
            Err(e) => failed.push(e),
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("\n"));
    }
    ok.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(ok)
}
