//! The guest virt-install writes for a current Linux with UEFI and a TPM:
//!
//! ```text
//! virt-install --connect qemu:///system --print-xml --osinfo linux2022 \
//!   --boot uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=no \
//!   --tpm default --video qxl --virt-type qemu --memory 512 --vcpus 1 \
//!   --disk path=DISK --network user,model=virtio --import --name NAME
//! ```
//!
//! Debian 12's virt-install (virtinst 4.1) asks libvirt's QEMU driver for its capabilities and
//! prints q35 with fourteen pcie-root-ports, qemu-xhci, a virtio disk and NIC, SPICE with QXL,
//! the spicevmc channel and two USB redirections, the guest agent's channel, a TPM 2.0 CRB
//! on swtpm, ICH9 sound, a virtio RNG and UEFI with secure boot off. QXL is asked for
//! (`--video qxl`) because virtinst 4.1 picks virtio video for linux2022; secure boot is off so
//! that OVMF boots the unsigned test kernel; user networking keeps the guest's packets inside
//! QEMU. [`printed`] runs that command when virt-install and libvirt's QEMU driver are here;
//! `tests/data/virt-install/linux2022-uefi-tpm.xml` is its output on this project's
//! reference machine (UUID and MAC left out, name and disk as placeholders), for machines
//! without them.
//!
//! [`boot_test_kernel`] then makes it boot the test guest: the kernel, initramfs and command
//! line of [`crate::guest`] go into `<os>` (OVMF loads them; the disk stays as written).

use std::path::Path;
use std::process::Command;

use crate::guest::{GuestImage, GUEST_CMDLINE};

const FIXTURE: &str = include_str!("../data/virt-install/linux2022-uefi-tpm.xml");

/// The virt-install arguments after `--print-xml` (name and disk added by [`printed`]).
pub const ARGS: &[&str] = &[
    "--osinfo",
    "linux2022",
    "--boot",
    "uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=no",
    "--tpm",
    "default",
    "--video",
    "qxl",
    "--virt-type",
    "qemu",
    "--memory",
    "512",
    "--vcpus",
    "1",
    "--network",
    "user,model=virtio",
    "--import",
];

/// What virt-install prints for `name` with `disk`, run now; `None` when virt-install or
/// libvirt's QEMU driver is not available.
pub fn printed(name: &str, disk: &Path) -> Option<String> {
    // virt-install puts the disk's directory in a storage pool; this one goes away after.
    let _pool = crate::realworld::virtinstall::PoolGuard::new(disk.parent()?).ok()?;
    let out = Command::new("virt-install")
        .args(["--connect", "qemu:///system", "--print-xml"])
        .args(ARGS)
        .arg("--disk")
        .arg(format!("path={}", disk.display()))
        .args(["--name", name])
        .output()
        .ok()?;
    let xml = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && xml.contains("<domain")).then_some(xml)
}

/// The committed copy of virt-install's output, for `name` with `disk`.
pub fn fixture(name: &str, disk: &Path) -> String {
    FIXTURE
        .replace("@NAME@", name)
        .replace("@DISK@", &disk.display().to_string())
}

/// virt-install's output now if it can run here, else the committed copy.
pub fn guest_xml(name: &str, disk: &Path) -> String {
    printed(name, disk).unwrap_or_else(|| fixture(name, disk))
}

/// `xml` with the test guest's kernel, initramfs and command line in `<os>`.
pub fn boot_test_kernel(xml: &str, image: &GuestImage) -> String {
    let direct = format!(
        "<kernel>{}</kernel><initrd>{}</initrd><cmdline>{GUEST_CMDLINE}</cmdline>",
        image.kernel.display(),
        image.initrd.display()
    );
    let at = xml.find("</os>").expect("an <os> element");
    format!("{}{direct}{}", &xml[..at], &xml[at..])
}

/// A qcow2 image of `size_mib` holding an empty ext4 file system (the agent guest mounts
/// it at /mnt, so freeze and thaw have something to work on), made with mkfs.ext4 and
/// qemu-img.
pub fn ext4_qcow2(path: &Path, size_mib: u64) -> anyhow::Result<()> {
    use anyhow::{bail, Context};
    let raw = path.with_extension("raw");
    let f = std::fs::File::create(&raw).context("creating the raw image")?;
    f.set_len(size_mib << 20)?;
    drop(f);
    let st = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&raw)
        .status()
        .context("running mkfs.ext4")?;
    if !st.success() {
        bail!("mkfs.ext4 failed: {st}");
    }
    let st = Command::new("qemu-img")
        .args(["convert", "-q", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(path)
        .status()
        .context("running qemu-img")?;
    let _ = std::fs::remove_file(&raw);
    if !st.success() {
        bail!("qemu-img convert failed: {st}");
    }
    Ok(())
}
