//! Character devices: `<serial>`, `<parallel>`, `<console>` and `<channel>`. The element's
//! `type` and `<source>` describe the host side, `<target>` the guest side.

use super::devices::Address;
use super::enums::{CharProtocol, CharSourceMode, CharType};

/// A character device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharDev {
    /// Host side.
    pub source: CharSource,
    /// Guest side.
    pub target: CharTarget,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// Host side of a character device (also the backend of an egd `<rng>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharSource {
    /// `type=...`.
    pub char_type: CharType,
    /// `path=...` (pty: live only; file, dev, pipe, unix).
    pub path: Option<String>,
    /// `append='on|off'` (file).
    pub append: Option<bool>,
    /// `mode='bind|connect'` (unix, tcp).
    pub mode: Option<CharSourceMode>,
    /// `host=...` (tcp; udp connect side).
    pub host: Option<String>,
    /// `service=...` (tcp; udp connect side).
    pub service: Option<String>,
    /// `tls='yes|no'` (tcp).
    pub tls: Option<bool>,
    /// Bind side `host=...` (udp).
    pub bind_host: Option<String>,
    /// Bind side `service=...` (udp).
    pub bind_service: Option<String>,
    /// `<protocol type=...>` (tcp; raw when absent).
    pub protocol: Option<CharProtocol>,
    /// `channel=...` (spiceport).
    pub channel: Option<String>,
    /// `<clipboard copypaste=...>` (qemu-vdagent).
    pub clipboard_copypaste: Option<bool>,
    /// `<mouse mode='server|client'>` (qemu-vdagent).
    pub mouse_mode: Option<String>,
}

/// Guest side of a character device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharTarget {
    /// `type=...`: serial `isa-serial|usb-serial|pci-serial|...`; console
    /// `serial|virtio|xen|lxc|...`; channel `virtio|guestfwd|xen`.
    pub target_type: Option<String>,
    /// `port=...`: serial/parallel/console index, or guestfwd TCP port.
    pub port: Option<u32>,
    /// `name=...` (virtio/xen channels).
    pub name: Option<String>,
    /// `address=...` (guestfwd).
    pub address: Option<String>,
    /// `<model name=...>` (serial).
    pub model: Option<String>,
    /// `state='connected|disconnected'` (virtio channels, live only).
    pub state: Option<String>,
}
