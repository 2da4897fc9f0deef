//! Serial ports, parallel ports and consoles on the command line, as libvirt 9.0 emits them
//! for QEMU 7.2 (each a `-chardev` from `chardev.rs`, then its `-device`):
//!
//! ```text
//! -chardev pty,id=charserial0
//! -device {"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}
//! -device {"driver":"usb-serial","chardev":"charserial1","id":"serial1","bus":"usb.0","port":"1"}
//! -device {"driver":"pci-serial","chardev":"charserial2","id":"serial2","bus":"pci.0","addr":"0x4"}
//! -device {"driver":"isa-parallel","chardev":"charparallel0","id":"parallel0"}
//! -device {"driver":"virtconsole","chardev":"charconsole1","id":"console1"}
//! ```
//!
//! An ISA serial port's `index` is its target port (QEMU has four: COM1-COM4). The first
//! console of an HVM guest with a serial port is that port (the XML layer's pairing), so it
//! has no device of its own; `virtio` consoles are `virtconsole` ports that QEMU puts on the
//! first virtio-serial bus (the first gets port 0, reserved for a console), and they come after
//! the channels. Other console targets are refused.

use virt_core::model::chardev::CharDev;
use virt_core::VirtError;

use super::chardev::{chardev, Frontend};
use super::devices::{id_of, pci_addr};
use super::json::Json;
use super::usb::usb_addr;
use super::{unsupported, Builder};

/// How many ISA serial ports QEMU's PC machines have.
const MAX_ISA_SERIALS: u32 = 4;

/// Every `<serial>`.
pub(super) fn serials(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, s) in b.def.devices.serials.iter().enumerate() {
        let id = id_of(&s.alias, || format!("serial{i}"));
        let chr = format!("char{id}");
        let target = s
            .target
            .model
            .as_deref()
            .or(s.target.target_type.as_deref())
            .unwrap_or("isa-serial");
        let mut dev = Json::obj([
            ("driver", Json::str(target)),
            ("chardev", Json::str(chr.clone())),
            ("id", Json::str(id.clone())),
        ]);
        match target {
            "isa-serial" => {
                let port = s.target.port.unwrap_or(i as u32);
                if port >= MAX_ISA_SERIALS {
                    return Err(VirtError::internal(
                        virt_core::error::ErrorDomain::Qemu,
                        format!(
                            "Maximum supported number of ISA serial ports is '{MAX_ISA_SERIALS}'"
                        ),
                    ));
                }
                dev.set("index", Json::Num(port.into()));
            }
            "usb-serial" => usb_addr(b, &mut dev, &s.address, &id)?,
            "pci-serial" => pci_addr(b, &mut dev, &s.address, &id)?,
            other => {
                return Err(unsupported(format!(
                    "{id}: serial target '{other}' is not supported (isa-serial, usb-serial, \
                     pci-serial)"
                )))
            }
        }
        b.arg("-chardev", chardev(&s.source, &chr, &id, Frontend::Serial)?);
        b.json("-device", dev);
    }
    Ok(())
}

/// Every `<parallel>`: ISA parallel ports.
pub(super) fn parallels(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, p) in b.def.devices.parallels.iter().enumerate() {
        let id = id_of(&p.alias, || format!("parallel{i}"));
        let chr = format!("char{id}");
        b.arg(
            "-chardev",
            chardev(&p.source, &chr, &id, Frontend::Parallel)?,
        );
        b.json(
            "-device",
            Json::obj([
                ("driver", Json::str("isa-parallel")),
                ("chardev", Json::str(chr)),
                ("id", Json::str(id)),
            ]),
        );
    }
    Ok(())
}

/// Whether console `i` is the serial console pairing the first serial port.
fn is_serial_console(b: &Builder<'_>, i: usize, c: &CharDev) -> bool {
    i == 0 && c.target.target_type.as_deref() == Some("serial") && !b.def.devices.serials.is_empty()
}

/// Every `<console>` that is a device of its own: virtio consoles.
pub(super) fn consoles(b: &mut Builder<'_>) -> Result<(), VirtError> {
    for (i, c) in b.def.devices.consoles.iter().enumerate() {
        if is_serial_console(b, i, c) {
            continue;
        }
        let id = id_of(&c.alias, || format!("console{i}"));
        match c.target.target_type.as_deref() {
            Some("virtio") => {}
            Some("serial") => {
                return Err(unsupported(format!(
                    "{id}: a serial console needs a <serial> port to be the console of"
                )))
            }
            other => {
                return Err(unsupported(format!(
                    "{id}: console target type '{}' is not supported (serial, virtio)",
                    other.unwrap_or("")
                )))
            }
        }
        let chr = format!("char{id}");
        b.arg("-chardev", chardev(&c.source, &chr, &id, Frontend::Serial)?);
        b.json(
            "-device",
            Json::obj([
                ("driver", Json::str("virtconsole")),
                ("chardev", Json::str(chr)),
                ("id", Json::str(id)),
            ]),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use virt_core::error::ErrorCode;

    use crate::command::build;
    use crate::command::tests::ctx;

    fn def(devices: &str) -> virt_core::model::DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>ser</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{devices}</devices></domain>"
        ))
        .expect("test XML parses")
    }

    /// The `-chardev` and `-device` values of serial, parallel and console devices, in order.
    fn char_args(devices: &str) -> Vec<String> {
        let args = build(&def(devices), &ctx()).expect("builds").args;
        args.windows(2)
            .filter(|w| {
                (w[0] == "-chardev" && !w[1].contains("charmonitor"))
                    || (w[0] == "-device"
                        && ["serial", "parallel", "virtconsole", "virtserialport"]
                            .iter()
                            .any(|k| w[1].contains(k))
                        && !w[1].contains("virtio-serial-pci"))
            })
            .map(|w| w[1].clone())
            .collect()
    }

    /// What libvirt 9.0's `virsh domxml-to-native qemu-argv` printed for the same devices
    /// (after its define filled in addresses: given here as it wrote them).
    #[test]
    fn serial_parallel_and_console_arguments_match_libvirts() {
        let got = char_args(
            "<controller type='virtio-serial' index='0'/>\
             <controller type='usb' index='0' model='piix3-uhci'/>\
             <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/>\
               <protocol type='telnet'/><target type='isa-serial' port='0'/></serial>\
             <serial type='tcp'><source mode='connect' host='127.0.0.1' service='4556'/>\
               <protocol type='raw'/><target type='isa-serial' port='1'/></serial>\
             <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4557' tls='no'/>\
               <protocol type='raw'/><target type='isa-serial' port='2'/></serial>\
             <serial type='udp'><source mode='bind' host='127.0.0.1' service='4558'/>\
               <source mode='connect' host='127.0.0.1' service='4559'/>\
               <target type='isa-serial' port='3'/></serial>\
             <serial type='pty'><target type='usb-serial' port='4'><model name='usb-serial'/>\
               </target><address type='usb' bus='0' port='1'/></serial>\
             <serial type='pty'><target type='pci-serial' port='5'><model name='pci-serial'/>\
               </target><address type='pci' domain='0' bus='0' slot='4' function='0'/></serial>\
             <parallel type='pty'/>\
             <parallel type='file'><source path='/tmp/dev2o/p.log'/></parallel>\
             <channel type='pipe'><source path='/tmp/dev2o/pipe'/><target type='virtio' name='p'/>\
               <address type='virtio-serial' controller='0' bus='0' port='1'/></channel>\
             <channel type='dev'><source path='/dev/ttyS0'/><target type='virtio' name='d'/>\
               <address type='virtio-serial' controller='0' bus='0' port='2'/></channel>\
             <channel type='vc'><target type='virtio' name='v'/>\
               <address type='virtio-serial' controller='0' bus='0' port='3'/></channel>\
             <console type='pty'><target type='virtio'/></console>\
             <console type='pty'><target type='virtio'/></console>",
        );
        let want = [
            "socket,id=charserial0,host=127.0.0.1,port=4555,telnet=on,server=on,wait=off",
            r#"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
            "socket,id=charserial1,host=127.0.0.1,port=4556",
            r#"{"driver":"isa-serial","chardev":"charserial1","id":"serial1","index":1}"#,
            "socket,id=charserial2,host=127.0.0.1,port=4557,server=on,wait=off",
            r#"{"driver":"isa-serial","chardev":"charserial2","id":"serial2","index":2}"#,
            "udp,id=charserial3,host=127.0.0.1,port=4559,localaddr=127.0.0.1,localport=4558",
            r#"{"driver":"isa-serial","chardev":"charserial3","id":"serial3","index":3}"#,
            "pty,id=charserial4",
            r#"{"driver":"usb-serial","chardev":"charserial4","id":"serial4","bus":"usb.0","port":"1"}"#,
            "pty,id=charserial5",
            r#"{"driver":"pci-serial","chardev":"charserial5","id":"serial5","bus":"pci.0","addr":"0x4"}"#,
            "pty,id=charparallel0",
            r#"{"driver":"isa-parallel","chardev":"charparallel0","id":"parallel0"}"#,
            "file,id=charparallel1,path=/tmp/dev2o/p.log",
            r#"{"driver":"isa-parallel","chardev":"charparallel1","id":"parallel1"}"#,
            "pipe,id=charchannel0,path=/tmp/dev2o/pipe",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":1,"chardev":"charchannel0","id":"channel0","name":"p"}"#,
            "serial,id=charchannel1,path=/dev/ttyS0",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":2,"chardev":"charchannel1","id":"channel1","name":"d"}"#,
            "vc,id=charchannel2",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":3,"chardev":"charchannel2","id":"channel2","name":"v"}"#,
            "pty,id=charconsole1",
            r#"{"driver":"virtconsole","chardev":"charconsole1","id":"console1"}"#,
            "pty,id=charconsole2",
            r#"{"driver":"virtconsole","chardev":"charconsole2","id":"console2"}"#,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_fifth_isa_serial_port_is_refused_as_libvirt_does() {
        let serials: String = (0..5)
            .map(|_| "<serial type='null'/>".to_string())
            .collect();
        let e = build(&def(&serials), &ctx()).expect_err("five ISA ports");
        assert_eq!(e.code, ErrorCode::InternalError);
        assert_eq!(
            e.detail,
            "Maximum supported number of ISA serial ports is '4'"
        );
    }
}
