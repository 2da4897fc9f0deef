//! Tests of `<filesystem>`, `<tpm>` and interface portgroups: expected text is libvirt 9.0's
//! test driver output (`virsh -c test:///default "define F; dumpxml N"`) for the same input.

use virt_core::xml::{DomainXmlCodec, FormatOptions};

use crate::LibvirtXml;

/// Numbers the temporary files of schema validation.
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn doc(devices: &str) -> String {
    format!(
        "<domain type='test'><name>t</name><memory unit='MiB'>1024</memory>\
         <os><type>hvm</type></os><devices>{devices}</devices></domain>"
    )
}

/// The formatted `<devices>` body of `devices`, checked to be a fixed point that passes
/// libvirt's schema.
fn devices(devices: &str) -> String {
    let def = LibvirtXml.parse_domain(&doc(devices)).expect("accepted");
    let out = LibvirtXml.format_domain(&def, FormatOptions::default());
    let again = LibvirtXml.parse_domain(&out).expect("own output parses");
    assert_eq!(again, def, "not a fixed point:\n{out}");
    if crate::corpus_tests::validator_present() {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let label = format!("devices-{n}");
        assert_eq!(
            crate::corpus_tests::validate(&out, "domain", &label),
            Some(Ok(()))
        );
    }
    let start = out.find("  <devices>\n").expect("devices") + "  <devices>\n".len();
    let end = out.find("  </devices>").expect("end");
    out[start..end].to_string()
}

fn refused(devices: &str, path: &str, value: &str) {
    let e = LibvirtXml.parse_domain(&doc(devices)).expect_err(path);
    assert!(e.message().contains(path), "{path}: {}", e.message());
    assert!(e.message().contains(value), "{value}: {}", e.message());
}

#[test]
fn filesystems_print_as_libvirt_does() {
    let cases = [
        (
            "<filesystem><source dir='/a'/><target dir='/b'/></filesystem>",
            "    <filesystem type='mount' accessmode='passthrough'>\n      <source dir='/a'/>\n      \
             <target dir='/b'/>\n    </filesystem>\n",
        ),
        (
            "<filesystem type='mount' accessmode='mapped'><driver type='path' wrpolicy='immediate'/>\
             <source dir='/a'/><target dir='tag'/><readonly/><alias name='ua-fs'/>\
             <address type='pci' domain='0' bus='0' slot='5' function='0'/></filesystem>",
            "    <filesystem type='mount' accessmode='mapped'>\n      \
             <driver type='path' wrpolicy='immediate'/>\n      <source dir='/a'/>\n      \
             <target dir='tag'/>\n      <readonly/>\n      <alias name='ua-fs'/>\n      \
             <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n    \
             </filesystem>\n",
        ),
        (
            "<filesystem type='file' accessmode='passthrough'><driver type='loop' format='raw'/>\
             <source file='/a.img'/><target dir='/b'/></filesystem>",
            "    <filesystem type='file' accessmode='passthrough'>\n      \
             <driver type='loop' format='raw'/>\n      <source file='/a.img'/>\n      \
             <target dir='/b'/>\n    </filesystem>\n",
        ),
        (
            "<filesystem type='block'><driver type='nbd' format='qcow2'/>\
             <source dev='/dev/sda'/><target dir='/b'/></filesystem>",
            "    <filesystem type='block' accessmode='passthrough'>\n      \
             <driver type='nbd' format='qcow2'/>\n      <source dev='/dev/sda'/>\n      \
             <target dir='/b'/>\n    </filesystem>\n",
        ),
        (
            "<filesystem type='ram'><source usage='1024' units='MiB'/><target dir='/b'/></filesystem>",
            "    <filesystem type='ram' accessmode='passthrough'>\n      \
             <source usage='1048576' units='KiB'/>\n      <target dir='/b'/>\n    </filesystem>\n",
        ),
        (
            "<filesystem type='template'><source name='tpl'/><target dir='/b'/></filesystem>",
            "    <filesystem type='template' accessmode='passthrough'>\n      \
             <source name='tpl'/>\n      <target dir='/b'/>\n    </filesystem>\n",
        ),
        (
            "<filesystem type='bind' accessmode='squash'><driver type='handle'/>\
             <source dir='/a'/><target dir='/b'/></filesystem>",
            "    <filesystem type='bind' accessmode='squash'>\n      <driver type='handle'/>\n      \
             <source dir='/a'/>\n      <target dir='/b'/>\n    </filesystem>\n",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(devices(input), expected, "{input}");
    }
}

#[test]
fn tpms_print_as_libvirt_does() {
    let cases = [
        (
            "<tpm model='tpm-tis'><backend type='passthrough'/></tpm>",
            "    <tpm model='tpm-tis'>\n      <backend type='passthrough'>\n        \
             <device path='/dev/tpm0'/>\n      </backend>\n    </tpm>\n",
        ),
        (
            "<tpm model='tpm-crb'><backend type='passthrough'><device path='/dev/tpm0'/></backend>\
             <alias name='ua-t'/></tpm>",
            "    <tpm model='tpm-crb'>\n      <backend type='passthrough'>\n        \
             <device path='/dev/tpm0'/>\n      </backend>\n      <alias name='ua-t'/>\n    </tpm>\n",
        ),
        (
            "<tpm model='tpm-crb'><backend type='emulator' version='2.0' persistent_state='yes'>\
             <encryption secret='6dd3e4a5-1d76-44ce-961f-f119f5aad935'/>\
             <active_pcr_banks><sha512/><sha256/></active_pcr_banks></backend></tpm>",
            "    <tpm model='tpm-crb'>\n      \
             <backend type='emulator' version='2.0' persistent_state='yes'>\n        \
             <encryption secret='6dd3e4a5-1d76-44ce-961f-f119f5aad935'/>\n        \
             <active_pcr_banks>\n          <sha256/>\n          <sha512/>\n        \
             </active_pcr_banks>\n      </backend>\n    </tpm>\n",
        ),
        (
            "<tpm model='tpm-spapr'><backend type='emulator' version='1.2'/></tpm>",
            "    <tpm model='tpm-spapr'>\n      <backend type='emulator' version='1.2'/>\n    </tpm>\n",
        ),
        (
            "<tpm><backend type='external'><source type='unix' path='/tmp/s'/></backend></tpm>",
            "    <tpm>\n      <backend type='external'>\n        \
             <source type='unix' mode='connect' path='/tmp/s'/>\n      </backend>\n    </tpm>\n",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(devices(input), expected, "{input}");
    }
}

#[test]
fn devices_keep_libvirts_order() {
    let out = devices(
        "<tpm><backend type='emulator'/></tpm><input type='tablet' bus='usb'/>\
         <filesystem><source dir='/a'/><target dir='t'/></filesystem><interface type='user'/>",
    );
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in\n{out}"));
    assert!(at("<filesystem") < at("<interface"));
    assert!(at("<interface") < at("<input"));
    assert!(at("<input") < at("<tpm"));
}

#[test]
fn bad_filesystems_and_tpms_are_refused_by_xpath() {
    let fs = "/domain/devices/filesystem[1]";
    let tpm = "/domain/devices/tpm[1]";
    let cases = [
        ("<filesystem type='x'><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/@type"), "x"),
        ("<filesystem accessmode='x'><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/@accessmode"), "x"),
        ("<filesystem><driver type='x'/><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/driver/@type"), "x"),
        ("<filesystem><driver type='path' wrpolicy='x'/><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/driver/@wrpolicy"), "x"),
        ("<filesystem><driver format='qcow2'/><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/driver/@format"), "driver type"),
        ("<filesystem accessmode='mapped'><driver type='virtiofs'/><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/@accessmode"), "mapped"),
        ("<filesystem><target dir='t'/></filesystem>", format!("{fs}/source"), ""),
        ("<filesystem><source dir=''/><target dir='t'/></filesystem>", format!("{fs}/source/@dir"), "non-empty"),
        ("<filesystem><source dir='/a'/><target dir=''/></filesystem>", format!("{fs}/target/@dir"), ""),
        ("<filesystem><source dir='/a'/></filesystem>", format!("{fs}/target/@dir"), ""),
        ("<filesystem type='file'><source dir='/a'/><target dir='t'/></filesystem>", format!("{fs}/source/@file"), ""),
        ("<filesystem type='ram'><source usage='1' units='Z'/><target dir='t'/></filesystem>", format!("{fs}/source/@units"), "Z"),
        ("<filesystem><source dir='/a' socket='/s'/><target dir='t'/></filesystem>", format!("{fs}/source/@socket"), ""),
        ("<filesystem><source dir='/a'/><target dir='t'/><alias name='fs 0'/></filesystem>", format!("{fs}/alias/@name"), "fs 0"),
        ("<filesystem><source dir='/a'/><target dir='t'/><binary path='/x'/></filesystem>", format!("{fs}/binary"), ""),
        ("<tpm model='x'><backend type='emulator'/></tpm>", format!("{tpm}/@model"), "x"),
        ("<tpm/>", format!("{tpm}/backend"), ""),
        ("<tpm><backend type='x'/></tpm>", format!("{tpm}/backend/@type"), "x"),
        ("<tpm><backend type='emulator' version='3'/></tpm>", format!("{tpm}/backend/@version"), "3"),
        ("<tpm><backend type='emulator' persistent_state='x'/></tpm>", format!("{tpm}/backend/@persistent_state"), "x"),
        ("<tpm><backend type='emulator'><active_pcr_banks><sha1/></active_pcr_banks></backend></tpm>", format!("{tpm}/backend/active_pcr_banks"), "2.0"),
        ("<tpm><backend type='emulator' version='2.0'><active_pcr_banks><md5/></active_pcr_banks></backend></tpm>", format!("{tpm}/backend/active_pcr_banks/md5[1]"), "md5"),
        ("<tpm><backend type='emulator'><encryption secret='x'/></backend></tpm>", format!("{tpm}/backend/encryption/@secret"), "x"),
        ("<tpm><backend type='passthrough' version='2.0'/></tpm>", format!("{tpm}/backend/@version"), ""),
        ("<tpm><backend type='external'/></tpm>", format!("{tpm}/backend/source"), ""),
        ("<tpm><backend type='external'><source type='tcp' path='/s'/></backend></tpm>", format!("{tpm}/backend/source/@type"), "tcp"),
    ];
    for (input, path, value) in cases {
        refused(input, &path, value);
    }
}

#[test]
fn interface_portgroup_is_kept_for_networks_and_refused_for_direct() {
    let out =
        devices("<interface type='network'><source network='default' portgroup='x'/></interface>");
    assert!(
        out.contains("      <source network='default' portgroup='x'/>\n"),
        "{out}"
    );
    // libvirt drops it from a direct interface; its schema allows it only beside network=.
    refused(
        "<interface type='direct'><source dev='eth0.1' mode='bridge' portgroup='sales'/></interface>",
        "/domain/devices/interface[1]/source/@portgroup",
        "type='network'",
    );
}

#[test]
fn generated_aliases_are_live_only_and_dropped_by_a_define() {
    use virt_core::xml::{DomainXmlCodec, FormatOptions};
    let xml = "<domain type='qemu'><name>a</name><memory>1024</memory>\
               <os><type>hvm</type></os><devices>\
               <disk type='file' device='disk'><source file='/x'/><target dev='vda'/>\
               <alias name='virtio-disk0'/></disk>\
               <filesystem><source dir='/a'/><target dir='t'/><alias name='ua-fs'/></filesystem>\
               </devices></domain>";
    let live = crate::LibvirtXml
        .parse_live_domain(xml)
        .expect("status parse");
    assert_eq!(live.devices.disks[0].alias.as_deref(), Some("virtio-disk0"));
    let shown = crate::LibvirtXml.format_domain(&live, FormatOptions::default());
    assert!(shown.contains("<alias name='virtio-disk0'/>"), "{shown}");
    let inactive = crate::LibvirtXml.format_domain(
        &live,
        FormatOptions {
            inactive: true,
            ..FormatOptions::default()
        },
    );
    assert!(!inactive.contains("virtio-disk0"), "{inactive}");
    assert!(inactive.contains("<alias name='ua-fs'/>"), "{inactive}");
    let def = crate::LibvirtXml.parse_domain(xml).expect("define parse");
    assert_eq!(def.devices.disks[0].alias, None);
    assert_eq!(def.devices.filesystems[0].alias.as_deref(), Some("ua-fs"));
}
