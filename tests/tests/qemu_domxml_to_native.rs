//! `domxml-to-native qemu-argv` of ours against libvirt 9.0's (`virsh -c qemu:///system`), on
//! the arguments both emit: for a few hand-written definitions in the subset both drivers
//! support, and for virt-install's output where ours defines it. The lines are compared as
//! options keyed by what they configure (virt_tests::realworld::argv): the environment's names
//! and the program must match, and the options both have must come in the same order with the
//! same values, except the differences listed in [`KNOWN_VALUES`] and [`KNOWN_ORDER`]; what
//! only one side emits and PCI placement are printed, not failed (the devices and the address
//! assignment are other people's work in progress).
//!
//! Needs libvirt's QEMU driver (../shared/tools/libvirt-anchor.sh) and virt-install;
//! VIRT_REQUIRE_LIBVIRT turns a missing libvirt into a failure.
#![cfg(feature = "system-tests")]

use std::path::{Path, PathBuf};

use virt_client::Connection;
use virt_tests::realworld::argv::{self, Comparison};
use virt_tests::realworld::{self, libvirt, virtinstall};
use virt_tests::DaemonUnderTest;

/// Values of options both emit that differ on purpose or until someone's work lands:
/// (option key, the file it is known in or "" for any, why).
const KNOWN_VALUES: &[(&str, &str, &str)] = &[
    (
        "-netdev hostnet0",
        "",
        "libvirt's preview turns every NIC into a tap; ours shows the backend a start runs",
    ),
    (
        "-vnc",
        "",
        "ours lets QEMU pick the autoport display (to=99) instead of reserving one",
    ),
    (
        "-chardev chrtpm",
        "",
        "libvirt's preview shows a null chardev for swtpm; ours the socket a start creates",
    ),
    (
        "-cpu",
        "virt-install/cpu-topology",
        "host-model: libvirt expands it to a named model and features from its CPU map; ours \
         passes QEMU's own expansion (max under TCG)",
    ),
];

/// Options both emit that ours places elsewhere: (option key, why).
const KNOWN_ORDER: &[(&str, &str)] = &[(
    "-display",
    "libvirt writes -display none right after -uuid; our command builder writes it with the \
     graphics devices",
)];

/// Hand-written definitions in the subset both drivers support: (name, XML with `{D}` for the
/// scratch dir). Each must be accepted by both.
const COMMON: &[(&str, &str)] = &[
    (
        "argv-pc-virtio",
        "<domain type='qemu'><name>argv-pc-virtio</name>\
         <uuid>7e570000-0000-4000-8000-0000000000a1</uuid>\
         <memory unit='MiB'>256</memory><vcpu>2</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\
         <features><acpi/><apic/></features>\
         <cpu mode='custom' match='exact'><model>qemu64</model></cpu>\
         <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/>\
         <timer name='hpet' present='no'/></clock>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
         <source file='{D}/a.qcow2'/><target dev='vda' bus='virtio'/></disk>\
         <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/>\
         </interface>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>\
         <video><model type='vga'/></video>\
         <memballoon model='virtio'/>\
         <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\
         </devices></domain>",
    ),
    (
        "argv-q35-bridge",
        "<domain type='qemu'><name>argv-q35-bridge</name>\
         <uuid>7e570000-0000-4000-8000-0000000000a2</uuid>\
         <memory unit='MiB'>512</memory><vcpu placement='static' current='1'>2</vcpu>\
         <os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>\
         <cpu mode='custom' match='exact'><model>Westmere</model>\
         <topology sockets='1' dies='1' cores='2' threads='1'/>\
         <feature policy='require' name='x2apic'/><feature policy='disable' name='vmx'/></cpu>\
         <clock offset='localtime'/>\
         <on_reboot>destroy</on_reboot>\
         <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{D}/b.img'/><target dev='sda' bus='sata'/><boot order='1'/></disk>\
         <interface type='bridge'><source bridge='br0'/><mac address='52:54:00:12:34:57'/>\
         <model type='e1000e'/></interface>\
         <memballoon model='none'/></devices></domain>",
    ),
    (
        "argv-kernel-boot",
        "<domain type='qemu'><name>argv-kernel-boot</name>\
         <uuid>7e570000-0000-4000-8000-0000000000a3</uuid>\
         <memory unit='MiB'>128</memory><currentMemory unit='MiB'>96</currentMemory>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{D}/vmlinuz</kernel>\
         <initrd>{D}/initrd</initrd><cmdline>console=ttyS0 quiet</cmdline></os>\
         <features><acpi/></features>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>\
         <target dev='hdc' bus='ide'/><readonly/></disk>\
         <serial type='pty'><target port='0'/></serial>\
         <memballoon model='virtio'/></devices></domain>",
    ),
    (
        "argv-uefi-tpm",
        "<domain type='qemu'><name>argv-uefi-tpm</name>\
         <uuid>7e570000-0000-4000-8000-0000000000a4</uuid><memory unit='MiB'>256</memory>\
         <os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>\
         <features><acpi/><smm state='on'/></features>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>\
         <memballoon model='none'/></devices></domain>",
    ),
    (
        "argv-pc-chardevs",
        "<domain type='qemu'><name>argv-pc-chardevs</name>\
         <uuid>7e570000-0000-4000-8000-0000000000a5</uuid><memory unit='MiB'>128</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='fd'/></os>\
         <features><acpi/></features>\
         <on_crash>coredump-restart</on_crash>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <disk type='file' device='floppy'><source file='{D}/b.img'/>\
         <target dev='fda' bus='fdc'/></disk>\
         <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/>\
         <protocol type='telnet'/></serial>\
         <serial type='udp'><source mode='bind' host='127.0.0.1' service='4558'/>\
         <source mode='connect' host='127.0.0.1' service='4559'/></serial>\
         <serial type='file'><source path='{D}/serial.log' append='on'/></serial>\
         <serial type='pty'><target type='usb-serial'/></serial>\
         <serial type='null'><target type='pci-serial'/></serial>\
         <parallel type='pty'/>\
         <console type='pty'><target type='virtio'/></console>\
         <channel type='tcp'><source mode='connect' host='127.0.0.1' service='4560'/>\
         <target type='virtio' name='org.example.tcp'/></channel>\
         <channel type='vc'><target type='virtio' name='org.example.vc'/></channel>\
         <panic model='isa'/>\
         <memballoon model='none'/></devices></domain>",
    ),
    (
        "argv-q35-disks-displays",
        "<domain type='qemu'><name>argv-q35-disks-displays</name>\
         <uuid>7e570000-0000-4000-8000-0000000000a6</uuid><memory unit='MiB'>256</memory>\
         <os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>\
         <cpu mode='custom' match='exact' check='partial'><model>qemu64</model>\
         <vendor>AMD</vendor></cpu>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none' \
         io='native' discard='unmap' detect_zeroes='unmap' error_policy='stop' \
         rerror_policy='report' copy_on_read='on'/><source file='{D}/a.qcow2'/>\
         <target dev='vda' bus='virtio'/></disk>\
         <disk type='file' device='disk'><driver name='qemu' type='raw' io='threads' \
         error_policy='enospace' ioeventfd='on' event_idx='off' queues='2'/>\
         <source file='{D}/b.img'/><target dev='vdb' bus='virtio'/><shareable/></disk>\
         <disk type='file' device='floppy'><target dev='fda' bus='fdc'/><boot order='2'/>\
         </disk>\
         <interface type='user'><mac address='52:54:00:12:34:58'/><model type='virtio'/>\
         <link state='down'/></interface>\
         <graphics type='spice' port='5944' autoport='no' keymap='de' defaultMode='insecure'>\
         <listen type='address' address='127.0.0.1'/><channel name='main' mode='insecure'/>\
         <image compression='auto_glz'/><jpeg compression='auto'/><zlib compression='never'/>\
         <playback compression='on'/><streaming mode='filter'/><mouse mode='client'/>\
         <clipboard copypaste='no'/><filetransfer enable='no'/></graphics>\
         <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>\
         <video><model type='qxl'/></video>\
         <memballoon model='none'/></devices>\
         <seclabel type='dynamic' model='dac'/></domain>",
    ),
];

/// Virt-install sets compared when ours defines their output.
const GENERATED: &[&str] = &[
    "linux2022-q35-virtio",
    "linux2020-pc-bios",
    "debian11-headless",
    "generic-pc",
    "alpine-minimal",
    "cpu-topology",
    "clock-localtime",
    "network-user-rtl8139-pc",
    "disks-and-cdrom-pc-ide",
    "boot-direct-kernel",
    "serial-tcp-server",
    "serial-file-parallel-pty",
    "graphics-vnc-listen-password",
    "disk-cache-discard",
    "disk-readonly-shareable",
    "events-destroy",
];

/// Where libvirt keeps UEFI variable stores.
const LV_NVRAM: &str = "/var/lib/libvirt/qemu/nvram";

fn private_dir(base: &Path, name: &str) -> String {
    let short: String = name.chars().take(20).collect();
    base.join(format!("domain--1-{short}"))
        .to_string_lossy()
        .into_owned()
}

/// Prints `c` and answers the failures it holds (differences not known).
fn report(label: &str, c: &Comparison) -> Vec<String> {
    let mut failures = Vec::new();
    eprintln!("{label}:");
    if let Some((lv, us)) = &c.env {
        failures.push(format!("{label}: environment {us:?}, libvirt's {lv:?}"));
    }
    eprintln!("  only libvirt: {}", c.only_libvirt.join(", "));
    eprintln!("  only ours:    {}", c.only_ours.join(", "));
    for (key, lv, us) in &c.placement {
        eprintln!("  placement {key}: libvirt {lv}, ours {us}");
    }
    for (key, lv, us) in &c.values {
        match KNOWN_VALUES
            .iter()
            .find(|k| k.0 == key && (k.1.is_empty() || k.1 == label))
        {
            Some((_, _, why)) => eprintln!("  known {key}: {why}"),
            None => failures.push(format!("{label}: {key}: libvirt {lv}\n    ours    {us}")),
        }
    }
    for key in &c.order {
        match KNOWN_ORDER.iter().find(|k| k.0 == key) {
            Some((_, why)) => eprintln!("  known order of {key}: {why}"),
            None => failures.push(format!("{label}: {key} is out of libvirt's order")),
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread")]
async fn domxml_to_native_matches_libvirt_on_the_common_subset() {
    if !libvirt::require() {
        return;
    }
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let scratch = realworld::run_dir(&base, "argv-corpus", |_| Ok(())).expect("scratch");
    let d = scratch.to_string_lossy().into_owned();
    realworld::qemu_img_create(&scratch.join("a.qcow2"), "qcow2").expect("image");
    realworld::qemu_img_create(&scratch.join("b.img"), "raw").expect("image");
    for f in ["vmlinuz", "initrd"] {
        std::fs::write(scratch.join(f), b"").expect("kernel");
    }
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    for (name, xml) in COMMON {
        let path = scratch.join(format!("{name}.xml"));
        std::fs::write(&path, xml.replace("{D}", &d)).expect("write");
        files.push((name.to_string(), path, true));
    }
    let generated = virtinstall::generate(&scratch.join("virt-install"), |s| {
        GENERATED.contains(&s.label)
    })
    .expect("virt-install");
    for g in generated {
        files.push((format!("virt-install/{}", g.label), g.path, false));
    }

    let daemon = DaemonUnderTest::start("virtqemud", &[]);
    let uri = format!("qemu+unix:///system?socket={}", daemon.socket.display());
    let conn = Connection::open(Some(&uri), false).await.expect("connect");
    let our_base = daemon.root.path().join("run/virt/qemu");
    let lv_base = Path::new("/var/lib/libvirt/qemu");
    let our_nvram = daemon
        .root
        .path()
        .join("var/lib/virt/qemu/nvram")
        .to_string_lossy()
        .into_owned();

    let mut failures = Vec::new();
    let mut compared = 0;
    for (label, path, must) in &files {
        let xml = std::fs::read_to_string(path).expect("read");
        let name = xml
            .split("<name>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .expect("a name")
            .to_string();
        let theirs = libvirt::domxml_to_native(path);
        let ours = conn.domain_xml_to_native("qemu-argv", &xml, 0).await;
        let (theirs, ours) = match (theirs, ours) {
            (Ok(t), Ok(o)) => (t, o),
            (t, o) => {
                let line = format!(
                    "{label}: not compared: libvirt {}, ours {}",
                    t.err().unwrap_or_else(|| "ok".into()),
                    o.err().map_or_else(|| "ok".into(), |e| e.to_string())
                );
                eprintln!("{line}");
                if *must {
                    failures.push(line);
                }
                continue;
            }
        };
        if compared == 0 {
            // The CLI prints the same line, with virsh's closing newline.
            let cli = std::process::Command::new(virt_tests::workspace_bin("virt"))
                .args(["-c", &uri, "domxml-to-native", "qemu-argv"])
                .arg(path)
                .output()
                .expect("run virt");
            assert_eq!(String::from_utf8_lossy(&cli.stdout), format!("{ours}\n"));
        }
        let lv = argv::parse(&theirs).expect("libvirt's line");
        let us = argv::parse(&ours).expect("our line");
        assert_eq!(lv.program, us.program, "{label}: program");
        let (lv_private, our_private) =
            (private_dir(lv_base, &name), private_dir(&our_base, &name));
        let channels = |base: &Path| private_dir(&base.join("channel/target"), &name);
        let (lv_channels, our_channels) = (channels(lv_base), channels(&our_base));
        let c = argv::compare(
            &lv,
            &[
                (&lv_private, "<PRIVATE>"),
                (&lv_channels, "<CHANNELS>"),
                (LV_NVRAM, "<NVRAM>"),
            ],
            &us,
            &[
                (&our_private, "<PRIVATE>"),
                (&our_channels, "<CHANNELS>"),
                (&our_nvram, "<NVRAM>"),
            ],
        );
        failures.extend(report(label, &c));
        compared += 1;
    }
    eprintln!("{compared} of {} files compared", files.len());
    // A preview makes nothing: no variable store for the UEFI guest, no private or channel
    // dirs.
    assert!(!Path::new(&our_nvram).join("argv-uefi-tpm_VARS.fd").exists());
    let made: Vec<_> = std::fs::read_dir(&our_base)
        .into_iter()
        .chain(std::fs::read_dir(our_base.join("channel/target")))
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("domain-"))
        .collect();
    assert!(made.is_empty(), "a preview made {made:?}");
    assert!(
        failures.is_empty(),
        "{} difference(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
