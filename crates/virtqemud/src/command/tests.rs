use super::*;
use virt_core::error::ErrorCode;

pub(super) fn ctx() -> LaunchContext {
    LaunchContext {
        emulator: "/usr/bin/qemu-system-x86_64".into(),
        domain_dir: "/run/virt/qemu/domain-1-demo".into(),
        monitor: "/run/virt/qemu/domain-1-demo/monitor.sock".into(),
        kvm_usable: true,
        taps: Vec::new(),
        start_paused: false,
        qemu_version: 7_002_022,
        host_model_cpu: None,
        spice_port: Some(5900),
        memory: Default::default(),
    }
}

fn def(xml: &str) -> DomainDef {
    virt_xml::parse_domain(xml).expect("test XML parses")
}

const KERNEL: &str = "<domain type='qemu'><name>demo</name>\
    <uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid><memory unit='MiB'>128</memory>\
    <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>\
    <kernel>/k/vmlinuz</kernel><initrd>/k/initrd</initrd><cmdline>console=ttyS0 quiet</cmdline>\
    </os><features><acpi/></features><devices><serial type='pty'/></devices></domain>";

fn args(xml: &str) -> Vec<String> {
    build(&def(xml), &ctx()).expect("builds").args
}

/// Splits a golden line list: one argument or `flag value` per line.
fn golden(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once(' ') {
            Some((flag, value)) if flag.starts_with('-') => {
                out.push(flag.to_string());
                out.push(value.to_string());
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

fn refusal(xml: &str, ctx: &LaunchContext) -> String {
    let e = build(&def(xml), ctx).expect_err("refused");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e:?}");
    e.detail
}

#[test]
fn tcg_kernel_boot_guest_gets_libvirts_argument_order() {
    let expected = golden(
        r#"
        -name guest=demo,debug-threads=on
        -machine pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram
        -accel tcg
        -m 128
        -object {"qom-type":"memory-backend-ram","id":"pc.ram","size":134217728}
        -overcommit mem-lock=off
        -smp 1,sockets=1,cores=1,threads=1
        -uuid c7a5fdbd-cdaf-9455-926a-d65c16db1809
        -no-user-config
        -nodefaults
        -chardev socket,id=charmonitor,path=/run/virt/qemu/domain-1-demo/monitor.sock,server=on,wait=off
        -mon chardev=charmonitor,id=monitor,mode=control
        -rtc base=utc
        -no-shutdown
        -boot strict=on
        -kernel /k/vmlinuz
        -initrd /k/initrd
        -append console=ttyS0 quiet
        -chardev pty,id=charserial0
        -device {"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}
        -display none
        -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
        -msg timestamp=on
        "#,
    );
    assert_eq!(args(KERNEL), expected);
}

#[test]
fn q35_guest_with_disks_nic_and_devices_matches_golden_lines() {
    let expected = golden(
        r#"
        -name guest=web1,debug-threads=on
        -machine pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram
        -accel kvm
        -cpu Skylake-Client,tsc-adjust=on,hle=off
        -m 2048
        -object {"qom-type":"memory-backend-ram","id":"pc.ram","size":2147483648}
        -overcommit mem-lock=off
        -smp 2,maxcpus=4,sockets=1,dies=1,cores=2,threads=2
        -uuid c7a5fdbd-edaf-9455-926a-d65c16db1809
        -no-user-config
        -nodefaults
        -chardev socket,id=charmonitor,path=/run/virt/qemu/domain-1-demo/monitor.sock,server=on,wait=off
        -mon chardev=charmonitor,id=monitor,mode=control
        -rtc base=utc,driftfix=slew
        -global kvm-pit.lost_tick_policy=delay
        -no-hpet
        -no-shutdown
        -global ICH9-LPC.disable_s3=1
        -global ICH9-LPC.disable_s4=1
        -boot strict=on
        -device {"driver":"pcie-root-port","port":16,"chassis":1,"id":"pci.1","bus":"pcie.0","multifunction":true,"addr":"0x2"}
        -device {"driver":"qemu-xhci","p2":15,"p3":15,"id":"usb","bus":"pcie.0","addr":"0x3"}
        -device {"driver":"virtio-scsi-pci","id":"scsi0","bus":"pcie.0","addr":"0x4"}
        -blockdev {"driver":"file","filename":"/img/web1.qcow2","node-name":"libvirt-3-storage","cache":{"direct":true,"no-flush":false},"auto-read-only":true,"discard":"unmap"}
        -blockdev {"node-name":"libvirt-3-format","read-only":false,"discard":"unmap","cache":{"direct":true,"no-flush":false},"driver":"qcow2","file":"libvirt-3-storage"}
        -device {"driver":"virtio-blk-pci","bus":"pci.1","addr":"0x0","drive":"libvirt-3-format","id":"virtio-disk0","bootindex":2,"write-cache":"on","serial":"S1"}
        -blockdev {"driver":"host_device","filename":"/dev/vg/data","node-name":"libvirt-2-storage","auto-read-only":true,"discard":"unmap"}
        -blockdev {"node-name":"libvirt-2-format","read-only":false,"driver":"raw","file":"libvirt-2-storage"}
        -device {"driver":"scsi-hd","bus":"scsi0.0","channel":0,"scsi-id":0,"lun":1,"device_id":"drive-scsi0-0-0-1","drive":"libvirt-2-format","id":"scsi0-0-0-1"}
        -blockdev {"driver":"file","filename":"/iso/install.iso","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}
        -blockdev {"node-name":"libvirt-1-format","read-only":true,"driver":"raw","file":"libvirt-1-storage"}
        -device {"driver":"ide-cd","bus":"ide.0","drive":"libvirt-1-format","id":"sata0-0-0","bootindex":1}
        -netdev {"type":"user","id":"hostnet0"}
        -device {"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"52:54:00:aa:bb:cc","bus":"pcie.0","addr":"0x5"}
        -chardev pty,id=charserial0
        -device {"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}
        -device {"driver":"usb-tablet","id":"input0","bus":"usb.0","port":"1"}
        -audiodev {"id":"audio1","driver":"none"}
        -vnc 0.0.0.0:0,to=99,audiodev=audio1
        -device {"driver":"virtio-vga","id":"video0","max_outputs":1,"bus":"pcie.0","addr":"0x1"}
        -device {"driver":"virtio-balloon-pci","id":"balloon0","bus":"pcie.0","addr":"0x6"}
        -object {"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"}
        -device {"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pcie.0","addr":"0x7"}
        -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
        -msg timestamp=on
        -trace events=/tmp/x
        "#,
    );
    let cmd = build(&def(FULL), &ctx()).expect("builds");
    assert_eq!(cmd.args, expected);
    assert!(cmd.env.contains(&("QEMU_AUDIO_DRV".into(), "none".into())));
    assert!(cmd
        .env
        .contains(&("HOME".into(), "/run/virt/qemu/domain-1-demo".into())));
    assert_eq!(cmd.env[0], ("LC_ALL".into(), "C".into()));
}

fn with_cpu(virt: &str, cpu: &str) -> String {
    KERNEL
        .replace("type='qemu'", &format!("type='{virt}'"))
        .replace("<features>", &format!("{cpu}<features>"))
}

fn cpu_of(xml: &str, c: &LaunchContext) -> Option<String> {
    let a = build(&def(xml), c).expect("builds").args;
    a.iter().position(|x| x == "-cpu").map(|i| a[i + 1].clone())
}

#[test]
fn every_cpu_mode_maps_to_its_cpu_argument() {
    let c = ctx();
    let cases = [
        ("kvm", "<cpu mode='host-passthrough'/>", Some("host,migratable=on")),
        (
            "kvm",
            "<cpu mode='host-passthrough' migratable='off'/>",
            Some("host,migratable=off"),
        ),
        ("qemu", "<cpu mode='maximum'/>", Some("max")),
        ("kvm", "<cpu mode='host-model'/>", Some("host")),
        ("qemu", "<cpu mode='host-model'/>", Some("max")),
        (
            "qemu",
            "<cpu mode='custom'><model>qemu64</model><feature policy='force' name='x2apic'/>\
             <feature policy='forbid' name='svm'/><feature policy='optional' name='pdpe1gb'/></cpu>",
            Some("qemu64,x2apic=on,svm=off"),
        ),
        ("qemu", "", None),
    ];
    for (virt, cpu, want) in cases {
        assert_eq!(
            cpu_of(&with_cpu(virt, cpu), &c).as_deref(),
            want,
            "{virt} {cpu}"
        );
    }
    let expanded = LaunchContext {
        host_model_cpu: Some("EPYC,acpi=on,vme=off".into()),
        ..ctx()
    };
    assert_eq!(
        cpu_of(&with_cpu("qemu", "<cpu mode='host-model'/>"), &expanded).as_deref(),
        Some("EPYC,acpi=on,vme=off")
    );
}

#[test]
fn kvm_and_tcg_pick_their_accelerator_and_kvm_without_dev_kvm_is_refused() {
    let a = args(&with_cpu("kvm", ""));
    assert!(a.windows(2).any(|w| w == ["-accel", "kvm"]));
    let no_kvm = LaunchContext {
        kvm_usable: false,
        ..ctx()
    };
    let msg = refusal(&with_cpu("kvm", ""), &no_kvm);
    assert!(
        msg.contains("domain requires KVM, but it is not available"),
        "{msg}"
    );
    assert!(args(KERNEL).windows(2).any(|w| w == ["-accel", "tcg"]));
}

#[test]
fn every_refusal_names_what_is_wrong() {
    let c = ctx();
    let dev = |d: &str| KERNEL.replace("<serial type='pty'/>", d);
    let cases: Vec<(String, &str)> = vec![
        (
            with_cpu("qemu", "<cpu mode='host-passthrough'/>"),
            "CPU mode 'host-passthrough' needs KVM",
        ),
        (
            dev("<disk type='file' device='cdrom'><source file='/a.iso'/><target dev='vdb' bus='virtio'/></disk>"),
            "disk 'vdb': a cdrom cannot be on the virtio bus",
        ),
        (
            dev("<disk type='file' device='disk'><driver type='vmdk'/><source file='/a'/><target dev='vda'/></disk>"),
            "disk 'vda': image format 'vmdk' is not supported",
        ),
        (
            dev("<disk type='file' device='disk'><source file='/a'/><target dev='hda' bus='ide'/><readonly/></disk>"),
            "disk 'hda': readonly ide disks are not supported",
        ),
        (
            dev("<interface type='direct'><source dev='eth0'/></interface>"),
            "interface net0: interface type 'direct' is not supported",
        ),
        (
            dev("<input type='tablet' bus='usb'/>"),
            "input0: a USB device needs a USB controller",
        ),
        (
            dev("<graphics type='sdl'/>"),
            "graphics type 'sdl' needs an X display",
        ),
        (
            dev("<video><model type='vmvga'/></video>"),
            "video0: model 'vmvga' is not supported",
        ),
        (
            dev("<graphics type='vnc'/><audio id='1' type='spice'/>"),
            "audio backend 'spice' needs SPICE graphics",
        ),
        (
            dev("<redirdev bus='usb' type='spicevmc'/><controller type='usb' model='qemu-xhci'/>"),
            "redir0: a spicevmc USB redirection needs SPICE graphics",
        ),
        (
            dev("<watchdog model='diag288'/>"),
            "watchdog model 'diag288' is not supported",
        ),
        (
            KERNEL.replace("<os>", "<clock offset='variable' adjustment='10'/><os>"),
            "clock offset 'variable' is not supported",
        ),
        (
            KERNEL.replace("machine='pc'", "machine='q35'").replace(
                "<serial type='pty'/>",
                "<disk type='file' device='disk'><source file='/a'/><target dev='hda' bus='ide'/></disk>",
            ),
            "not supported on machine type 'pc-q35-7.2'",
        ),
    ];
    for (xml, want) in cases {
        let msg = refusal(&xml, &c);
        assert!(msg.contains(want), "{msg:?} should say {want:?}");
    }
    // A network interface builds on the tap its port's bridge gets (crate::siblings); the
    // start makes that tap, so a build without one is the daemon's own mistake.
    let xml = dev("<interface type='network'><source network='default'/></interface>");
    let e = build(&def(&xml), &c).expect_err("no tap prepared");
    assert_eq!(e.code, ErrorCode::InternalError);
    assert!(
        e.detail.contains("no tap device was prepared"),
        "{}",
        e.detail
    );
}

#[test]
fn bridge_interfaces_take_prepared_tap_descriptors_in_order() {
    let xml = KERNEL.replace(
        "<serial type='pty'/>",
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>\
         <model type='virtio'/></interface>\
         <interface type='user'><mac address='52:54:00:00:00:02'/><model type='e1000'/></interface>\
         <interface type='ethernet'><mac address='52:54:00:00:00:03'/><boot order='1'/></interface>",
    );
    let file = |n: &str| {
        let f = tempfile::tempfile().expect(n);
        std::os::fd::OwnedFd::from(f)
    };
    let c = LaunchContext {
        taps: vec![
            crate::tap::TapDevice {
                name: "vnet0".into(),
                fd: file("a"),
            },
            crate::tap::TapDevice {
                name: "vnet1".into(),
                fd: file("b"),
            },
        ],
        ..ctx()
    };
    let cmd = build(&def(&xml), &c).expect("builds");
    let nets: Vec<&String> = cmd
        .args
        .windows(2)
        .filter(|w| w[0] == "-netdev" || (w[0] == "-device" && w[1].contains("netdev")))
        .map(|w| &w[1])
        .collect();
    assert_eq!(
        nets,
        [
            r#"{"type":"tap","fd":"3","id":"hostnet0"}"#,
            r#"{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"52:54:00:00:00:01","bus":"pci.0","addr":"0x2"}"#,
            r#"{"type":"user","id":"hostnet1"}"#,
            r#"{"driver":"e1000","netdev":"hostnet1","id":"net1","mac":"52:54:00:00:00:02","bus":"pci.0","addr":"0x3"}"#,
            r#"{"type":"tap","fd":"4","id":"hostnet2"}"#,
            r#"{"driver":"rtl8139","netdev":"hostnet2","id":"net2","mac":"52:54:00:00:00:03","bus":"pci.0","addr":"0x4","bootindex":1}"#,
        ]
    );
    assert_eq!(cmd.fds.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [3, 4]);
    let short = LaunchContext {
        taps: Vec::new(),
        ..ctx()
    };
    let e = build(&def(&xml), &short).expect_err("no tap");
    assert_eq!(e.code, ErrorCode::InternalError);
    assert!(e.detail.contains("net0: no tap device"), "{}", e.detail);
}

#[test]
fn uefi_firmware_becomes_pflash_nodes_named_by_the_machine() {
    let xml = KERNEL.replace(
        "<kernel>",
        "<loader readonly='yes' type='pflash'>/fw/CODE.fd</loader><nvram>/var/VARS.fd</nvram><kernel>",
    );
    let a = args(&xml);
    assert_eq!(a[2], "-blockdev");
    assert_eq!(
        a[3],
        r#"{"driver":"file","filename":"/fw/CODE.fd","node-name":"libvirt-pflash0-storage","auto-read-only":true,"discard":"unmap"}"#
    );
    assert_eq!(
        a[5],
        r#"{"node-name":"libvirt-pflash0-format","read-only":true,"driver":"raw","file":"libvirt-pflash0-storage"}"#
    );
    assert_eq!(
        a[9],
        r#"{"node-name":"libvirt-pflash1-format","read-only":false,"driver":"raw","file":"libvirt-pflash1-storage"}"#
    );
    assert_eq!(
        a[11],
        "pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram,\
         pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format"
    );
    assert!(!a.iter().any(|x| x.contains("cfi.pflash01")), "{a:?}");
}

/// libvirt 9.0's command line for the live definition of `<os firmware='efi'>` on q35 with
/// Debian's secure-boot OVMF (observed with `virsh start`): `smm=on` after `vmport`, flash
/// nodes after the memory backend, and the flash locked to SMM right after `-cpu`.
#[test]
fn a_secure_boot_loader_turns_on_smm_and_locks_the_flash() {
    let xml = "<domain type='qemu'><name>sb</name><memory unit='MiB'>128</memory>\
        <os><type arch='x86_64' machine='q35'>hvm</type>\
        <loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>\
        <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/virt/qemu/nvram/sb_VARS.fd</nvram>\
        </os><features><acpi/><vmport state='off'/><smm state='on'/></features>\
        <cpu mode='custom' match='exact'><model>qemu64</model></cpu></domain>";
    let a = args(xml);
    let at = |flag: &str| a.iter().position(|x| x == flag).expect(flag);
    assert_eq!(
        a[at("-machine") + 1],
        "pc-q35-7.2,usb=off,vmport=off,smm=on,dump-guest-core=off,memory-backend=pc.ram,\
         pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format"
    );
    let global = at("-global");
    assert_eq!(
        a[global + 1],
        "driver=cfi.pflash01,property=secure,value=on"
    );
    assert_eq!(global, at("-cpu") + 2, "right after -cpu: {a:?}");
    assert_eq!(at("-m"), global + 2, "before -m: {a:?}");
    assert!(a.contains(
        &r#"{"driver":"file","filename":"/var/lib/virt/qemu/nvram/sb_VARS.fd","node-name":"libvirt-pflash1-storage","auto-read-only":true,"discard":"unmap"}"#.to_string()
    ));
    // A stateless image has no variable store node.
    let stateless = xml
        .replace(" secure='yes' type='pflash'>", " secure='yes' type='pflash' stateless='yes'>")
        .replace("<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/virt/qemu/nvram/sb_VARS.fd</nvram>", "");
    let a = args(&stateless);
    let m = &a[a.iter().position(|x| x == "-machine").expect("machine") + 1];
    assert!(m.ends_with("pflash0=libvirt-pflash0-format"), "{m}");
    // SMM off is said as such.
    let off = xml
        .replace("<smm state='on'/>", "<smm state='off'/>")
        .replace(" secure='yes'", "");
    let a = args(&off);
    let m = &a[a.iter().position(|x| x == "-machine").expect("machine") + 1];
    assert!(m.contains(",smm=off,"), "{m}");
    assert!(!a.iter().any(|x| x.contains("cfi.pflash01")), "{a:?}");
}

#[test]
fn names_with_commas_are_escaped_and_paused_start_adds_s() {
    let xml = KERNEL.replace("<name>demo</name>", "<name>a,b</name>");
    let c = LaunchContext {
        start_paused: true,
        ..ctx()
    };
    let a = build(&def(&xml), &c).expect("builds").args;
    assert_eq!(a[..3], ["-name", "guest=a,,b,debug-threads=on", "-S"]);
}

#[test]
fn disk_indices_follow_libvirts_names() {
    use super::disk::disk_index;
    assert_eq!(disk_index("vda"), Some(0));
    assert_eq!(disk_index("sdb"), Some(1));
    assert_eq!(disk_index("hdz"), Some(25));
    assert_eq!(disk_index("vdaa"), Some(26));
    assert_eq!(disk_index("vd"), None);
    assert_eq!(disk_index("vd1"), None);
}

#[test]
fn honoured_set_refuses_what_build_cannot_express_naming_the_element() {
    use virt_core::xml::DomainXmlCodec;
    let codec = virt_xml::LibvirtXml;
    let h = honoured();
    codec
        .check_honoured(&def(FULL), &h)
        .expect("FULL is honoured");
    codec
        .check_honoured(&def(KERNEL), &h)
        .expect("KERNEL is honoured");
    let cases = [
        (
            "<devices>",
            "<devices><sound model='pcspk'/>",
            "/domain/devices/sound/@model",
            "'pcspk'",
        ),
        (
            "<devices>",
            "<devices><interface type='direct'><source dev='eth0'/></interface>",
            "/domain/devices/interface/@type",
            "'direct'",
        ),
        (
            "<devices>",
            "<devices><graphics type='sdl'/>",
            "/domain/devices/graphics/@type",
            "'sdl'",
        ),
        (
            "<vcpu>",
            "<numatune><memory placement='auto'/></numatune><vcpu>",
            "/domain/numatune/memory/@placement",
            "placement",
        ),
        (
            "<devices>",
            "<devices><interface type='user'><bandwidth><inbound average='1' floor='2'/>\
          </bandwidth></interface>",
            "/domain/devices/interface/bandwidth/inbound/@floor",
            "floor",
        ),
        (
            "<devices>",
            "<devices><disk type='network' device='disk'><source protocol='nbd' name='x'>\
          <host name='h'/></source><target dev='vda'/></disk>",
            "/domain/devices/disk/@type",
            "'network'",
        ),
    ];
    for (from, to, path, what) in cases {
        let d = def(&KERNEL.replace(from, to));
        let e = codec.check_honoured(&d, &h).expect_err(path);
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        let v = e.violations.iter().find(|v| v.path.starts_with(path));
        let v = v.unwrap_or_else(|| panic!("{path} not among {:?}", e.violations));
        assert!(v.description.contains(what), "{}", v.description);
    }
}

const FULL: &str = "<domain type='kvm'><name>web1</name>\
    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\
    <memory unit='KiB'>2097152</memory><currentMemory unit='KiB'>1048576</currentMemory>\
    <vcpu placement='static' current='2'>4</vcpu>\
    <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>\
    <features><acpi/><apic/><vmport state='off'/></features>\
    <cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model>\
    <topology sockets='1' dies='1' cores='2' threads='2'/>\
    <feature policy='require' name='tsc_adjust'/><feature policy='disable' name='hle'/></cpu>\
    <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/>\
    <timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>\
    <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>\
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none' discard='unmap'/>\
    <source file='/img/web1.qcow2'/><target dev='vda' bus='virtio'/><serial>S1</serial>\
    <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></disk>\
    <disk type='block' device='disk'><driver name='qemu' type='raw'/>\
    <source dev='/dev/vg/data'/><target dev='sdb' bus='scsi'/></disk>\
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>\
    <source file='/iso/install.iso'/><target dev='sda' bus='sata'/><readonly/></disk>\
    <controller type='pci' index='0' model='pcie-root'/>\
    <controller type='pci' index='1' model='pcie-root-port'><model name='pcie-root-port'/>\
    <target chassis='1' port='0x10'/>\
    <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>\
    </controller>\
    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>\
    <controller type='scsi' index='0' model='virtio-scsi'/>\
    <interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>\
    <serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>\
    <console type='pty'><target type='serial' port='0'/></console>\
    <input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>\
    <graphics type='vnc' port='-1' autoport='yes'><listen type='address' address='0.0.0.0'/></graphics>\
    <video><model type='virtio' heads='1' primary='yes'/></video>\
    <memballoon model='virtio'><stats period='5'/></memballoon>\
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\
    </devices>\
    <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\
    <qemu:arg value='-trace'/><qemu:arg value='events=/tmp/x'/>\
    <qemu:env name='QEMU_AUDIO_DRV' value='none'/></qemu:commandline></domain>";

/// Whatever define accepts, build can express: every corpus definition of type qemu/kvm that
/// passes the honoured check builds (KVM usable, one tap per bridge/ethernet NIC).
#[test]
fn every_honoured_corpus_definition_builds() {
    use virt_core::xml::DomainXmlCodec;
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/domain-xml"
    );
    let codec = virt_xml::LibvirtXml;
    let h = honoured();
    let (mut built, mut refused) = (Vec::new(), Vec::new());
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read");
        let Ok(d) = virt_xml::parse_domain(&text) else {
            continue;
        };
        if !matches!(d.virt_type.as_str(), "qemu" | "kvm") {
            continue;
        }
        if let Err(e) = codec.check_honoured(&d, &h) {
            assert_eq!(e.code, ErrorCode::ConfigUnsupported);
            assert!(!e.violations.is_empty(), "{}: {e:?}", path.display());
            if std::env::var_os("SHOW_REFUSED").is_some() {
                for v in &e.violations {
                    eprintln!("REFUSED {} {}", path.display(), v.description);
                }
            }
            refused.push(path);
            continue;
        }
        let taps = d
            .devices
            .interfaces
            .iter()
            .filter(|n| crate::tap::uses_tap(n))
            .map(|_| crate::tap::TapDevice {
                name: "vnet0".into(),
                fd: std::os::fd::OwnedFd::from(tempfile::tempfile().expect("fd")),
            })
            .collect();
        // A virtual network is a runtime dependency (virtnetworkd gives the bridge at start;
        // tests/tests/network_guest.rs starts such guests): not built here.
        if virt_client::siblings::needs_siblings(&d) {
            continue;
        }
        let c = LaunchContext { taps, ..ctx() };
        match build(&d, &c) {
            Ok(_) => built.push(path),
            Err(e) => panic!("{}: honoured but {e:?}", path.display()),
        }
    }
    eprintln!(
        "built {} corpus definitions, {} refused at define",
        built.len(),
        refused.len()
    );
    assert!(!built.is_empty(), "no corpus definition is honoured");
}

#[test]
fn unaddressed_devices_avoid_explicit_slots_and_missing_buses_get_controllers() {
    // The NIC names root-bus slot 2 and the disk bus 3, which no controller provides; the
    // balloon has no address. QEMU must not be left to pick: the balloon would take slot 2.
    let xml = KERNEL.replace(
        "<serial type='pty'/>",
        "<disk type='file' device='disk'><source file='/a'/><target dev='vda'/>\
         <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></disk>\
         <interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/>\
         <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></interface>\
         <memballoon model='virtio'/>",
    );
    let devices: Vec<String> = args(&xml)
        .windows(2)
        .filter(|w| w[0] == "-device")
        .map(|w| w[1].clone())
        .collect();
    assert_eq!(
        devices,
        [
            r#"{"driver":"pci-bridge","chassis_nr":3,"id":"pci.3","bus":"pci.0","addr":"0x3"}"#,
            r#"{"driver":"virtio-blk-pci","bus":"pci.3","addr":"0x0","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1}"#,
            r#"{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0","mac":"52:54:00:00:00:01","bus":"pci.0","addr":"0x2"}"#,
            r#"{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.0","addr":"0x4"}"#,
        ]
    );
    let q35 = xml.replace("machine='pc'", "machine='q35'");
    let first = args(&q35)
        .windows(2)
        .find(|w| w[0] == "-device")
        .map(|w| w[1].clone());
    assert_eq!(
        first.as_deref(),
        Some(
            r#"{"driver":"pcie-root-port","port":18,"chassis":3,"id":"pci.3","bus":"pcie.0","addr":"0x1"}"#
        )
    );
}

#[test]
fn a_pc_guest_without_the_acpi_feature_gets_acpi_off() {
    let a = args(&KERNEL.replace("<features><acpi/></features>", ""));
    assert_eq!(
        a[3],
        "pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram,acpi=off"
    );
    assert!(!args(KERNEL)[3].contains("acpi"));
}

/// libvirt 9.0's `domxml-to-native` for a boot menu with a splash time and a BIOS that talks on
/// the serial port and reboots when nothing boots.
#[test]
fn boot_menu_and_bios_options_match_libvirts() {
    let def = virt_xml::parse_domain(
        "<domain type='qemu'><name>b</name><memory unit='MiB'>64</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type><bootmenu enable='yes' timeout='3000'/>\
         <bios useserial='yes' rebootTimeout='0'/></os><features><acpi/></features>\
         <devices><serial type='pty'/></devices></domain>",
    )
    .expect("parses");
    let args = build(&def, &ctx()).expect("builds").args;
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag).expect(flag);
        args[at + 1].clone()
    };
    assert_eq!(
        value("-boot"),
        "menu=on,reboot-timeout=0,splash-time=3000,strict=on"
    );
    assert!(value("-machine").ends_with(",memory-backend=pc.ram,graphics=off"));
    let off = virt_xml::parse_domain(
        "<domain type='qemu'><name>b</name><memory unit='MiB'>64</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type><bootmenu enable='no'/>\
         <bios rebootTimeout='0'/></os></domain>",
    )
    .expect("parses");
    let args = build(&off, &ctx()).expect("builds").args;
    assert!(args.contains(&"menu=off,reboot-timeout=0,strict=on".to_string()));
}

#[test]
fn numatune_binds_guest_ram_on_the_backend_except_restrictive() {
    let base = KERNEL;
    for (mode, want) in [
        (
            "strict",
            Some(r#""size":134217728,"host-nodes":[0,2],"policy":"bind"}"#),
        ),
        (
            "preferred",
            Some(r#""host-nodes":[0,2],"policy":"preferred"}"#),
        ),
        (
            "interleave",
            Some(r#""host-nodes":[0,2],"policy":"interleave"}"#),
        ),
        ("restrictive", None),
    ] {
        let xml = base.replace(
            "<vcpu>",
            &format!("<numatune><memory mode='{mode}' nodeset='0,2'/></numatune><vcpu>"),
        );
        let all = args(&xml);
        let ram = all
            .iter()
            .find(|a| a.contains(r#""id":"pc.ram""#))
            .expect("pc.ram");
        match want {
            Some(w) => assert!(ram.ends_with(w), "{mode}: {ram}"),
            None => assert!(!ram.contains("host-nodes"), "{mode}: {ram}"),
        }
    }
}
