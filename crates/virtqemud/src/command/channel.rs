//! `<channel>` devices: a host-side `-chardev` and a `virtserialport` on a virtio-serial bus,
//! as libvirt 9.0 emits them for QEMU 7.2:
//!
//! ```text
//! -chardev socket,id=charchannel0,path=P,server=on,wait=off
//! -device {"driver":"virtserialport","bus":"virtio-serial0.0","nr":1,"chardev":"charchannel0","id":"channel0","name":"org.qemu.guest_agent.0"}
//! ```
//!
//! Host sides: every type `chardev.rs` writes, `spicevmc` as `name=vdagent`. A `unix` channel
//! without a path gets one from the start path (the live definition carries it by the time
//! the command line is built). Guest sides: `virtio` only; `guestfwd` and `xen` targets are
//! CONFIG_UNSUPPORTED.
//!
//! Ids are the channels' aliases (`channel0`, `charchannel0` for its chardev, or a user's
//! `ua-...`), from [`channel_id`].
//!
//! The port (`nr`) and bus come from `<address type='virtio-serial' controller= bus= port=>`.
//! Define-time address assignment fills those in; a channel that still has none (or port 0)
//! takes the next port free on its controller's bus, from 1 as libvirt numbers them, skipping
//! ports other channels name. The controller must exist (`virtio-serial-pci`, emitted with
//! the controllers).

use std::collections::BTreeSet;

use virt_core::model::chardev::CharDev;
use virt_core::model::devices::Address;
use virt_core::model::enums::ControllerType;
use virt_core::model::DomainDef;
use virt_core::VirtError;

use super::chardev::{chardev, Frontend};
use super::json::Json;
use super::{unsupported, Builder};

/// The device id of channel `index` (its position among `<channel>` elements): its alias (a
/// live definition names every device, see `aliases`), else libvirt's `channel<index>`; the
/// chardev is `char` + this. The one place that names channels, for the command line, QMP
/// events and `query-chardev` alike.
pub(crate) fn channel_id(def: &DomainDef, index: usize) -> String {
    def.devices
        .channels
        .get(index)
        .and_then(|c| c.alias.clone())
        .unwrap_or_else(|| format!("channel{index}"))
}

/// virtio-serial's default number of ports per controller (`max_ports`).
const DEFAULT_PORTS: u32 = 31;

/// Emits every `<channel>`.
pub(super) fn channels(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let mut taken: BTreeSet<(u32, u32, u32)> = b
        .def
        .devices
        .channels
        .iter()
        .filter_map(|c| match &c.address {
            Some(Address::VirtioSerial {
                controller,
                bus,
                port,
            }) if *port != 0 => Some((*controller, *bus, *port)),
            _ => None,
        })
        .collect();
    for (i, ch) in b.def.devices.channels.iter().enumerate() {
        let alias = channel_id(b.def, i);
        let what = format!("channel '{alias}'");
        match ch.target.target_type.as_deref() {
            Some("virtio") => {}
            other => {
                return Err(unsupported(format!(
                    "{what}: <channel> target type '{}' is not supported (virtio)",
                    other.unwrap_or("")
                )))
            }
        }
        let (controller, bus, port) = port_of(b, ch, &mut taken, &what)?;
        let id = format!("char{alias}");
        b.arg(
            "-chardev",
            chardev(&ch.source, &id, &what, Frontend::Channel)?,
        );
        let mut dev = Json::obj([
            ("driver", Json::str("virtserialport")),
            ("bus", Json::str(format!("virtio-serial{controller}.{bus}"))),
            ("nr", Json::Num(port.into())),
            ("chardev", Json::str(id)),
            ("id", Json::str(alias)),
        ]);
        if let Some(name) = &ch.target.name {
            dev.set("name", Json::str(name.clone()));
        }
        b.json("-device", dev);
    }
    Ok(())
}

/// The channel's (controller, bus, port): its address, or the next free port on its
/// controller's bus.
fn port_of(
    b: &Builder<'_>,
    ch: &CharDev,
    taken: &mut BTreeSet<(u32, u32, u32)>,
    what: &str,
) -> Result<(u32, u32, u32), VirtError> {
    let (controller, bus, port) = match &ch.address {
        None => (0, 0, 0),
        Some(Address::VirtioSerial {
            controller,
            bus,
            port,
        }) => (*controller, *bus, *port),
        Some(_) => {
            return Err(unsupported(format!(
                "{what}: only a virtio-serial address is supported"
            )))
        }
    };
    let ctl = b
        .def
        .devices
        .controllers
        .iter()
        .find(|c| c.controller_type == ControllerType::VirtioSerial && c.index == controller)
        .ok_or_else(|| {
            unsupported(format!(
                "{what}: needs <controller type='virtio-serial' index='{controller}'>"
            ))
        })?;
    let ports = ctl.ports.unwrap_or(DEFAULT_PORTS);
    if port != 0 {
        if port >= ports {
            return Err(unsupported(format!(
                "{what}: port {port} is past the {ports} ports of virtio-serial controller \
                 {controller}"
            )));
        }
        return Ok((controller, bus, port));
    }
    let free = (1..ports)
        .find(|p| !taken.contains(&(controller, bus, *p)))
        .ok_or_else(|| {
            unsupported(format!(
                "{what}: no free port left on virtio-serial controller {controller}"
            ))
        })?;
    taken.insert((controller, bus, free));
    Ok((controller, bus, free))
}

#[cfg(test)]
mod tests {
    use virt_core::error::ErrorCode;
    use virt_core::model::DomainDef;

    use crate::command::{build, LaunchContext};

    fn ctx() -> LaunchContext {
        LaunchContext {
            emulator: "/usr/bin/qemu-system-x86_64".into(),
            domain_dir: "/run/virt/qemu/domain-1-ch".into(),
            monitor: "/run/virt/qemu/domain-1-ch/monitor.sock".into(),
            kvm_usable: false,
            taps: Vec::new(),
            start_paused: false,
            qemu_version: 7_002_022,
            host_model_cpu: None,
            spice_port: None,
            memory: Default::default(),
        }
    }

    fn def(devices: &str) -> DomainDef {
        virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>ch</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{devices}</devices></domain>"
        ))
        .expect("test XML parses")
    }

    /// The `-chardev` values of channels and the `virtserialport` devices, in order.
    fn channel_args(devices: &str) -> Vec<String> {
        let args = build(&def(devices), &ctx()).expect("builds").args;
        args.windows(2)
            .filter(|w| {
                (w[0] == "-chardev" && w[1].contains("id=charchannel"))
                    || (w[0] == "-device" && w[1].contains("virtserialport"))
            })
            .map(|w| w[1].clone())
            .collect()
    }

    fn refusal(devices: &str) -> String {
        let e = build(&def(devices), &ctx()).expect_err("refused");
        assert_eq!(e.code, ErrorCode::ConfigUnsupported, "{e:?}");
        e.detail
    }

    /// What libvirt 9.0's `virsh domxml-to-native qemu-argv` printed for the same channels
    /// (generated socket paths aside: here the live definition's path is given).
    #[test]
    fn every_channel_type_matches_libvirts_arguments() {
        let got = channel_args(
            "<channel type='unix'><source mode='bind' path='/run/ch/org.qemu.guest_agent.0'/>\
               <target type='virtio' name='org.qemu.guest_agent.0'/></channel>\
             <channel type='unix'><source mode='bind' path='/tmp/foo.sock'/>\
               <target type='virtio' name='foo.1'/></channel>\
             <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>\
             <channel type='spiceport'><source channel='org.spice-space.webdav.0'/>\
               <target type='virtio' name='org.spice-space.webdav.0'/></channel>\
             <channel type='qemu-vdagent'><source><clipboard copypaste='yes'/>\
               <mouse mode='client'/></source><target type='virtio' name='com.redhat.spice.0'/>\
             </channel>\
             <channel type='pty'><target type='virtio' name='bar'/></channel>\
             <channel type='unix'><source mode='bind' path='/tmp/x.sock'/>\
               <target type='virtio' name='x'/>\
               <address type='virtio-serial' controller='0' bus='0' port='5'/></channel>",
        );
        let want = [
            "socket,id=charchannel0,path=/run/ch/org.qemu.guest_agent.0,server=on,wait=off",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":1,"chardev":"charchannel0","id":"channel0","name":"org.qemu.guest_agent.0"}"#,
            "socket,id=charchannel1,path=/tmp/foo.sock,server=on,wait=off",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":2,"chardev":"charchannel1","id":"channel1","name":"foo.1"}"#,
            "spicevmc,id=charchannel2,name=vdagent",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":3,"chardev":"charchannel2","id":"channel2","name":"com.redhat.spice.0"}"#,
            "spiceport,id=charchannel3,name=org.spice-space.webdav.0",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":4,"chardev":"charchannel3","id":"channel3","name":"org.spice-space.webdav.0"}"#,
            "qemu-vdagent,id=charchannel4,name=vdagent,clipboard=on,mouse=on",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":6,"chardev":"charchannel4","id":"channel4","name":"com.redhat.spice.0"}"#,
            "pty,id=charchannel5",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":7,"chardev":"charchannel5","id":"channel5","name":"bar"}"#,
            "socket,id=charchannel6,path=/tmp/x.sock,server=on,wait=off",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":5,"chardev":"charchannel6","id":"channel6","name":"x"}"#,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn second_controller_connect_mode_file_tcp_and_vdagent_options() {
        let got = channel_args(
            "<controller type='virtio-serial' index='0'/>\
             <controller type='virtio-serial' index='1'/>\
             <channel type='qemu-vdagent'><source><clipboard copypaste='no'/>\
               <mouse mode='server'/></source><target type='virtio' name='com.redhat.spice.0'/>\
             </channel>\
             <channel type='qemu-vdagent'><target type='virtio' name='com.redhat.spice.1'/></channel>\
             <channel type='unix'><source path='/tmp/c.sock'/>\
               <target type='virtio' name='c'/>\
               <address type='virtio-serial' controller='1' bus='0' port='2'/></channel>\
             <channel type='file'><source path='/tmp/f.log'/><target type='virtio' name='f'/></channel>\
             <channel type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/>\
               <protocol type='raw'/><target type='virtio' name='t'/></channel>",
        );
        let want = [
            "qemu-vdagent,id=charchannel0,name=vdagent,clipboard=off,mouse=off",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":1,"chardev":"charchannel0","id":"channel0","name":"com.redhat.spice.0"}"#,
            "qemu-vdagent,id=charchannel1,name=vdagent",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":2,"chardev":"charchannel1","id":"channel1","name":"com.redhat.spice.1"}"#,
            "socket,id=charchannel2,path=/tmp/c.sock",
            r#"{"driver":"virtserialport","bus":"virtio-serial1.0","nr":2,"chardev":"charchannel2","id":"channel2","name":"c"}"#,
            "file,id=charchannel3,path=/tmp/f.log",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":3,"chardev":"charchannel3","id":"channel3","name":"f"}"#,
            "socket,id=charchannel4,host=127.0.0.1,port=4555,server=on,wait=off",
            r#"{"driver":"virtserialport","bus":"virtio-serial0.0","nr":4,"chardev":"charchannel4","id":"channel4","name":"t"}"#,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn the_virtio_serial_controller_comes_before_its_ports() {
        let args = build(
            &def("<channel type='pty'><target type='virtio' name='a'/></channel>"),
            &ctx(),
        )
        .expect("builds")
        .args;
        let ctl = args
            .iter()
            .position(|a| a.contains("\"virtio-serial-pci\""))
            .expect("the post-parse added the controller");
        let port = args
            .iter()
            .position(|a| a.contains("virtserialport"))
            .expect("port");
        assert!(ctl < port, "{args:?}");
    }

    #[test]
    fn unsupported_channels_are_refused_naming_the_channel() {
        assert_eq!(
            refusal(
                "<channel type='pty'><target type='guestfwd' address='10.0.2.1' port='4600'/>\
                 </channel>"
            ),
            "channel 'channel0': <channel> target type 'guestfwd' is not supported (virtio)"
        );
        assert_eq!(
            refusal("<channel type='unix'><target type='virtio' name='a'/></channel>"),
            "channel 'channel0': a unix source needs a path (channels get one when the domain \
             starts)"
        );
        assert_eq!(
            refusal(
                "<channel type='pty'><target type='virtio' name='a'/>\
                 <address type='virtio-serial' controller='0' bus='0' port='31'/></channel>"
            ),
            "channel 'channel0': port 31 is past the 31 ports of virtio-serial controller 0"
        );
        assert_eq!(
            refusal(
                "<channel type='tcp'><source mode='connect' host='h' service='1'/>\
                 <protocol type='telnets'/><target type='virtio' name='a'/></channel>"
            ),
            "channel 'channel0': protocol 'telnets' is not supported (raw, telnet)"
        );
    }

    #[test]
    fn ports_run_out_with_a_clear_error() {
        let many: String = (0..3)
            .map(|i| format!("<channel type='pty'><target type='virtio' name='p{i}'/></channel>"))
            .collect();
        let xml = format!("<controller type='virtio-serial' index='0' ports='3'/>{many}");
        assert_eq!(
            refusal(&xml),
            "channel 'channel2': no free port left on virtio-serial controller 0"
        );
    }
}

#[cfg(test)]
mod honour_tests {
    use virt_core::xml::DomainXmlCodec;

    use crate::command::honoured;

    fn check(channel: &str) -> Result<(), virt_core::VirtError> {
        let d = virt_xml::parse_domain(&format!(
            "<domain type='qemu'><name>h</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{channel}</devices></domain>"
        ))
        .expect("xml");
        virt_xml::LibvirtXml.check_honoured(&d, &honoured())
    }

    #[test]
    fn define_accepts_channels_and_refuses_guestfwd_naming_the_attribute() {
        check(
            "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>\
             <address type='virtio-serial' controller='0' bus='0' port='1'/></channel>\
             <channel type='qemu-vdagent'><source><clipboard copypaste='yes'/>\
             <mouse mode='client'/></source><target type='virtio' name='com.redhat.spice.0'/>\
             </channel>",
        )
        .expect("honoured");
        let e = check(
            "<channel type='pty'><target type='guestfwd' address='10.0.2.1' port='4600'/>\
             </channel>",
        )
        .expect_err("guestfwd");
        assert!(
            e.violations
                .iter()
                .any(|v| v.path.contains("/domain/devices/channel") && v.path.contains("target")),
            "{e:?}"
        );
    }
}
