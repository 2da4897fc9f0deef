//! Host-device lookup against fake sysfs and devfs trees.

use std::os::unix::fs::symlink;

use virt_core::error::ErrorCode;

use super::*;

/// A temporary `/sys` and `/dev`.
struct Fake {
    _dir: tempfile::TempDir,
    roots: HostRoots,
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir().expect("tmp");
        let roots = HostRoots {
            sys: dir.path().join("sys"),
            dev: dir.path().join("dev"),
        };
        std::fs::create_dir_all(&roots.sys).expect("sys");
        std::fs::create_dir_all(&roots.dev).expect("dev");
        Fake { _dir: dir, roots }
    }

    fn file(&self, rel: &str, text: &str) {
        let p = self.roots.sys.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(p, text).expect("write");
    }

    fn dev_node(&self, rel: &str) {
        let p = self.roots.dev.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(p, "").expect("node");
    }

    fn usb(&self, name: &str, vendor: &str, product: &str, bus: u32, dev: u32) {
        let d = format!("bus/usb/devices/{name}");
        self.file(&format!("{d}/idVendor"), &format!("{vendor}\n"));
        self.file(&format!("{d}/idProduct"), &format!("{product}\n"));
        self.file(&format!("{d}/busnum"), &format!("{bus}\n"));
        self.file(&format!("{d}/devnum"), &format!("{dev}\n"));
        self.dev_node(&format!("bus/usb/{bus:03}/{dev:03}"));
    }

    /// A PCI device in IOMMU group `group`, bound to `driver`.
    fn pci(&self, name: &str, group: u32, driver: &str) {
        let sys = &self.roots.sys;
        let dev = sys.join("bus/pci/devices").join(name);
        std::fs::create_dir_all(&dev).expect("device");
        std::fs::write(dev.join("driver_override"), "(null)\n").expect("override");
        let g = sys.join(format!("kernel/iommu_groups/{group}"));
        std::fs::create_dir_all(&g).expect("group");
        symlink(&g, dev.join("iommu_group")).expect("group link");
        let drv = sys.join("bus/pci/drivers").join(driver);
        std::fs::create_dir_all(&drv).expect("driver");
        std::fs::write(drv.join("unbind"), "").expect("unbind");
        symlink(&drv, dev.join("driver")).expect("driver link");
        std::fs::write(sys.join("bus/pci/drivers_probe"), "").expect("probe");
        self.dev_node("vfio/vfio");
        self.dev_node(&format!("vfio/{group}"));
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.roots.sys.join(rel)).expect("read")
    }
}

fn def(hostdevs: &str) -> DomainDef {
    virt_xml::parse_domain(&format!(
        "<domain type='qemu'><name>h</name><memory>65536</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{hostdevs}</devices></domain>"
    ))
    .expect("parses")
}

const YUBIKEY: &str = "<hostdev mode='subsystem' type='usb' managed='yes'><source>\
    <vendor id='0x1050'/><product id='0x0010'/></source></hostdev>";
const PCI: &str = "<hostdev mode='subsystem' type='pci' managed='yes'><source>\
    <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>";

#[test]
fn a_host_without_usb_is_named_as_the_reason() {
    let f = Fake::new();
    let e = prepare(&mut def(YUBIKEY), &f.roots, Mode::Start).expect_err("no USB");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert!(
        e.detail.starts_with(
            "hostdev0: USB device 1050:0010 cannot be given to the guest: this host has no \
             USB bus"
        ),
        "{}",
        e.detail
    );
}

#[test]
fn usb_devices_are_found_by_ids_or_address_and_recorded_in_the_live_definition() {
    let f = Fake::new();
    f.usb("1-1", "1050", "0010", 1, 3);
    f.usb("2-4", "046d", "c52b", 2, 7);
    let mut d = def(YUBIKEY);
    prepare(&mut d, &f.roots, Mode::Start).expect("found");
    assert_eq!(d.devices.hostdevs[0].source.usb_address, Some((1, 3)));
    let mut by_addr = def(
        "<hostdev mode='subsystem' type='usb'><source><address bus='2' device='7'/></source>\
         </hostdev>",
    );
    prepare(&mut by_addr, &f.roots, Mode::Preview).expect("found");
    let e = prepare(
        &mut def(
            "<hostdev mode='subsystem' type='usb'><source><address bus='2' device='9'/>\
             </source></hostdev>",
        ),
        &f.roots,
        Mode::Start,
    )
    .expect_err("absent");
    assert_eq!(e.detail, "hostdev0: USB device 002:009 is not on this host");
    f.usb("3-1", "1050", "0010", 3, 2);
    let e = prepare(&mut def(YUBIKEY), &f.roots, Mode::Start).expect_err("two keys");
    assert!(
        e.detail.contains("several USB devices are 1050:0010"),
        "{e:?}"
    );
}

#[test]
fn pci_passthrough_needs_the_device_an_iommu_and_vfio() {
    let f = Fake::new();
    let e = prepare(&mut def(PCI), &f.roots, Mode::Start).expect_err("absent");
    assert_eq!(
        e.detail,
        "hostdev0: PCI device 0000:06:12.5 is not on this host"
    );
    std::fs::create_dir_all(f.roots.sys.join("bus/pci/devices/0000:06:12.5")).expect("dev");
    let e = prepare(&mut def(PCI), &f.roots, Mode::Start).expect_err("no IOMMU");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(
        e.detail.starts_with(
            "hostdev0: host doesn't support passthrough of host PCI devices: PCI device \
             0000:06:12.5 needs VFIO, and this host has no IOMMU"
        ),
        "{}",
        e.detail
    );
}

#[test]
fn a_managed_pci_device_moves_to_vfio_and_back_an_unmanaged_one_must_be_there() {
    let f = Fake::new();
    f.pci("0000:06:12.5", 14, "e1000e");
    let mut d = def(PCI);
    prepare(&mut d, &f.roots, Mode::Preview).expect("a preview changes nothing");
    assert_eq!(
        f.read("bus/pci/devices/0000:06:12.5/driver_override"),
        "(null)\n"
    );
    prepare(&mut d, &f.roots, Mode::Start).expect("managed");
    assert_eq!(
        f.read("bus/pci/devices/0000:06:12.5/driver_override"),
        "vfio-pci"
    );
    assert_eq!(f.read("bus/pci/drivers/e1000e/unbind"), "0000:06:12.5");
    assert_eq!(f.read("bus/pci/drivers_probe"), "0000:06:12.5");
    reattach_pci(&d, &f.roots);
    assert_eq!(f.read("bus/pci/devices/0000:06:12.5/driver_override"), "\n");
    let unmanaged = PCI.replace("managed='yes'", "managed='no'");
    let e = prepare(&mut def(&unmanaged), &f.roots, Mode::Start).expect_err("not vfio");
    assert_eq!(
        e.detail,
        "hostdev0: PCI device 0000:06:12.5 is bound to 'e1000e', not vfio-pci: bind it to \
         vfio-pci or set managed='yes'"
    );
}
