//! Command-line pieces of the tuning features, each compared with what libvirt 9.0's
//! domxml-to-native printed for the same definition (QEMU 7.2, q35; hugepage paths from an
//! embedded libvirt with a hugetlbfs mounted, its root-hash dir name aside).

use super::tests::ctx;
use super::*;

fn def(extra: &str, devices: &str) -> DomainDef {
    virt_xml::parse_domain(&format!(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>256</memory>{extra}\
         <vcpu>2</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>\
         <devices>{devices}</devices></domain>"
    ))
    .expect("test XML parses")
}

fn args_with(d: &DomainDef, memory: MemoryPlacement) -> Vec<String> {
    let c = LaunchContext { memory, ..ctx() };
    build(d, &c).expect("builds").args
}

/// The value after the first `flag` whose value contains `needle`.
fn value<'a>(args: &'a [String], flag: &str, needle: &str) -> &'a str {
    args.windows(2)
        .find(|w| w[0] == flag && w[1].contains(needle))
        .map(|w| w[1].as_str())
        .unwrap_or_else(|| panic!("no {flag} with {needle} in {args:?}"))
}

fn backend(backing: &str, memory: MemoryPlacement) -> String {
    let a = args_with(
        &def(&format!("<memoryBacking>{backing}</memoryBacking>"), ""),
        memory,
    );
    value(&a, "-object", "pc.ram").to_string()
}

#[test]
fn memory_backends_are_libvirts() {
    let none = MemoryPlacement::default();
    assert_eq!(
        backend(
            "<source type='memfd'/><access mode='shared'/>",
            none.clone()
        ),
        r#"{"qom-type":"memory-backend-memfd","id":"pc.ram","share":true,"x-use-canonical-path-for-ramblock-id":false,"size":268435456}"#
    );
    assert_eq!(
        backend("<allocation mode='immediate' threads='4'/>", none.clone()),
        r#"{"qom-type":"memory-backend-ram","id":"pc.ram","prealloc":true,"prealloc-threads":4,"size":268435456}"#
    );
    assert_eq!(
        backend("<discard/>", none.clone()),
        r#"{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}"#
    );
    let file = MemoryPlacement {
        mem_path: Some("/var/lib/virt/qemu/ram/-1-t/pc.ram".into()),
        hugepage_kib: None,
    };
    assert_eq!(
        backend("<source type='file'/><discard/>", file.clone()),
        r#"{"qom-type":"memory-backend-file","id":"pc.ram","mem-path":"/var/lib/virt/qemu/ram/-1-t/pc.ram","discard-data":true,"x-use-canonical-path-for-ramblock-id":false,"size":268435456}"#
    );
    assert_eq!(
        backend("<source type='anonymous'/><access mode='shared'/>", file),
        r#"{"qom-type":"memory-backend-file","id":"pc.ram","mem-path":"/var/lib/virt/qemu/ram/-1-t/pc.ram","share":true,"x-use-canonical-path-for-ramblock-id":false,"size":268435456}"#
    );
    let huge = MemoryPlacement {
        mem_path: Some("/dev/hugepages/libvirt/qemu/-1-t".into()),
        hugepage_kib: Some(2048),
    };
    assert_eq!(
        backend(
            "<hugepages/><access mode='shared'/><allocation mode='immediate' threads='2'/><discard/>",
            huge
        ),
        r#"{"qom-type":"memory-backend-file","id":"pc.ram","mem-path":"/dev/hugepages/libvirt/qemu/-1-t","discard-data":true,"share":true,"x-use-canonical-path-for-ramblock-id":false,"prealloc":true,"prealloc-threads":2,"size":268435456}"#
    );
    let memfd_huge = MemoryPlacement {
        mem_path: None,
        hugepage_kib: Some(2048),
    };
    assert_eq!(
        backend("<hugepages/><source type='memfd'/>", memfd_huge),
        r#"{"qom-type":"memory-backend-memfd","id":"pc.ram","hugetlb":true,"hugetlbsize":2097152,"x-use-canonical-path-for-ramblock-id":false,"prealloc":true,"size":268435456}"#
    );
}

#[test]
fn nosharepages_and_locked_memory_reach_machine_and_overcommit() {
    let a = args_with(
        &def(
            "<memoryBacking><nosharepages/><locked/></memoryBacking>",
            "",
        ),
        MemoryPlacement::default(),
    );
    assert_eq!(
        value(&a, "-machine", "pc-q35"),
        "pc-q35-7.2,usb=off,dump-guest-core=off,mem-merge=off,memory-backend=pc.ram,acpi=off"
    );
    assert_eq!(value(&a, "-overcommit", "mem-lock"), "mem-lock=on");
}

#[test]
fn iothreads_are_objects_after_smp_and_devices_name_theirs() {
    let d = def(
        "<iothreads>3</iothreads><iothreadids><iothread id='5'/><iothread id='2'/></iothreadids>",
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2' iothread='5'/>\
         <source file='/i.qcow2'/><target dev='vda' bus='virtio'/>\
         <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></disk>\
         <controller type='scsi' index='0' model='virtio-scsi'><driver queues='2' iothread='2'/>\
         <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></controller>",
    );
    let a = args_with(&d, MemoryPlacement::default());
    let smp = a.iter().position(|x| x == "-smp").expect("-smp");
    assert_eq!(
        a[smp + 2..smp + 8],
        [
            "-object",
            r#"{"qom-type":"iothread","id":"iothread5"}"#,
            "-object",
            r#"{"qom-type":"iothread","id":"iothread2"}"#,
            "-object",
            r#"{"qom-type":"iothread","id":"iothread1"}"#,
        ]
    );
    assert_eq!(
        value(&a, "-device", "virtio-scsi-pci"),
        r#"{"driver":"virtio-scsi-pci","iothread":"iothread2","id":"scsi0","num_queues":2,"bus":"pci.1","addr":"0x0"}"#
    );
    assert!(value(&a, "-device", "virtio-blk-pci")
        .starts_with(r#"{"driver":"virtio-blk-pci","iothread":"iothread5","bus":"pci.3""#));
}

#[test]
fn cpu_cache_modes_end_the_cpu_argument() {
    let cpu = |xml: &str, virt: &str| {
        let d = virt_xml::parse_domain(&format!(
            "<domain type='{virt}'><name>t</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os>{xml}</domain>"
        ))
        .expect("parses");
        let a = build(&d, &ctx()).expect("builds").args;
        value(&a, "-cpu", "").to_string()
    };
    assert_eq!(
        cpu(
            "<cpu mode='maximum'><cache mode='passthrough'/></cpu>",
            "qemu"
        ),
        "max,host-cache-info=on,l3-cache=off"
    );
    assert_eq!(
        cpu(
            "<cpu mode='host-passthrough'><cache mode='passthrough'/></cpu>",
            "kvm"
        ),
        "host,migratable=on,host-cache-info=on,l3-cache=off"
    );
    assert_eq!(
        cpu(
            "<cpu><model>qemu64</model><cache level='3' mode='emulate'/></cpu>",
            "qemu"
        ),
        "qemu64,l3-cache=on"
    );
    assert_eq!(
        cpu(
            "<cpu><model>qemu64</model><cache mode='disable'/></cpu>",
            "qemu"
        ),
        "qemu64,l3-cache=off"
    );
}

#[test]
fn smartcard_and_virtiofs_devices_are_libvirts() {
    let d = def(
        "",
        "<controller type='pci' index='0' model='pcie-root'/>\
         <controller type='pci' index='1' model='pcie-root-port'/>\
         <controller type='pci' index='2' model='pcie-root-port'/>\
         <controller type='ccid' index='0'><address type='usb' bus='0' port='1'/></controller>\
         <controller type='usb' index='0' model='qemu-xhci'>\
         <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></controller>\
         <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>\
         <source dir='/srv/share/'/><target dir='hostshare'/>\
         <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></filesystem>\
         <smartcard mode='passthrough' type='spicevmc'>\
         <address type='ccid' controller='0' slot='0'/></smartcard>\
         <graphics type='spice' autoport='yes'/>",
    );
    let a = args_with(&d, MemoryPlacement::default());
    assert_eq!(
        value(&a, "-device", "usb-ccid"),
        r#"{"driver":"usb-ccid","id":"ccid0","bus":"usb.0","port":"1"}"#
    );
    assert_eq!(
        value(&a, "-chardev", "chr-vu-fs0"),
        "socket,id=chr-vu-fs0,path=/run/virt/qemu/domain-1-demo/fs0-fs.sock"
    );
    assert_eq!(
        value(&a, "-device", "vhost-user-fs-pci"),
        r#"{"driver":"vhost-user-fs-pci","id":"fs0","chardev":"chr-vu-fs0","tag":"hostshare","bus":"pci.1","addr":"0x0"}"#
    );
    assert_eq!(
        value(&a, "-chardev", "smartcard"),
        "spicevmc,id=charsmartcard0,name=smartcard"
    );
    assert_eq!(
        value(&a, "-device", "ccid-card-passthru"),
        r#"{"driver":"ccid-card-passthru","chardev":"charsmartcard0","id":"smartcard0","bus":"ccid0.0"}"#
    );
    let pos = |needle: &str| a.iter().position(|x| x.contains(needle)).expect(needle);
    assert!(pos("usb-ccid") < pos("vhost-user-fs-pci"));
    assert!(pos("vhost-user-fs-pci") < pos("ccid-card-passthru"));
}
