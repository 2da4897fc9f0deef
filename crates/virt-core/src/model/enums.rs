//! The closed word lists of domain XML (libvirt's `VIR_ENUM_IMPL` tables): each enum knows its
//! XML spelling, parses it back, and lists every value, so the XML layer can reject a word
//! that libvirt would not accept instead of passing it on.

/// Defines an enum whose variants have fixed XML spellings. The first variant is the default.
macro_rules! xml_enum {
    ($(#[$meta:meta])* $name:ident { $first:ident = $first_s:literal $(, $variant:ident = $s:literal)* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            #[doc = concat!("`", $first_s, "`")]
            #[default]
            $first,
            $(
                #[doc = concat!("`", $s, "`")]
                $variant,
            )*
        }

        impl $name {
            /// Every value, in libvirt's order.
            pub const ALL: &'static [$name] = &[$name::$first $(, $name::$variant)*];

            /// The XML spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::$first => $first_s,
                    $($name::$variant => $s,)*
                }
            }

            /// The value spelled `s` in XML, if there is one.
            pub fn from_xml(s: &str) -> Option<$name> {
                match s {
                    $first_s => Some($name::$first),
                    $($s => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

xml_enum!(
    /// `<vcpu placement=...>`.
    VcpuPlacement { Static = "static", Auto = "auto" }
);

xml_enum!(
    /// `<os><boot dev=...>`.
    BootDev { Hd = "hd", Fd = "fd", Cdrom = "cdrom", Network = "network" }
);

xml_enum!(
    /// `<on_poweroff>`, `<on_reboot>`, `<on_crash>` (the coredump actions are on_crash only).
    LifecycleAction {
        Destroy = "destroy",
        Restart = "restart",
        RenameRestart = "rename-restart",
        Preserve = "preserve",
        CoredumpDestroy = "coredump-destroy",
        CoredumpRestart = "coredump-restart",
    }
);

xml_enum!(
    /// `<on_lockfailure>`.
    LockFailureAction { Poweroff = "poweroff", Restart = "restart", Pause = "pause", Ignore = "ignore" }
);

xml_enum!(
    /// `<clock offset=...>`.
    ClockOffset {
        Utc = "utc",
        Localtime = "localtime",
        Variable = "variable",
        Timezone = "timezone",
        Absolute = "absolute",
    }
);

xml_enum!(
    /// `<clock offset='variable' basis=...>`.
    ClockBasis { Utc = "utc", Localtime = "localtime" }
);

xml_enum!(
    /// `<timer name=...>`.
    TimerName {
        Platform = "platform",
        Pit = "pit",
        Rtc = "rtc",
        Hpet = "hpet",
        Tsc = "tsc",
        Kvmclock = "kvmclock",
        Hypervclock = "hypervclock",
        Armvtimer = "armvtimer",
    }
);

xml_enum!(
    /// `<timer tickpolicy=...>`.
    TickPolicy { Delay = "delay", Catchup = "catchup", Merge = "merge", Discard = "discard" }
);

xml_enum!(
    /// `<cpu mode=...>`.
    CpuMode {
        Custom = "custom",
        HostModel = "host-model",
        HostPassthrough = "host-passthrough",
        Maximum = "maximum",
    }
);

xml_enum!(
    /// `<cpu match=...>`.
    CpuMatch { Exact = "exact", Minimum = "minimum", Strict = "strict" }
);

xml_enum!(
    /// `<cpu check=...>`.
    CpuCheck { None = "none", Partial = "partial", Full = "full" }
);

xml_enum!(
    /// `<cpu><model fallback=...>`.
    CpuFallback { Allow = "allow", Forbid = "forbid" }
);

xml_enum!(
    /// `<cpu><feature policy=...>`.
    CpuFeaturePolicy {
        Require = "require",
        Force = "force",
        Optional = "optional",
        Disable = "disable",
        Forbid = "forbid",
    }
);

xml_enum!(
    /// `<seclabel type=...>`.
    SecLabelType { Dynamic = "dynamic", None = "none", Static = "static" }
);

xml_enum!(
    /// `<disk type=...>`.
    DiskType {
        File = "file",
        Block = "block",
        Dir = "dir",
        Network = "network",
        Volume = "volume",
        Nvme = "nvme",
        Vhostuser = "vhostuser",
    }
);

xml_enum!(
    /// `<disk device=...>`.
    DiskDevice { Disk = "disk", Cdrom = "cdrom", Floppy = "floppy", Lun = "lun" }
);

xml_enum!(
    /// `<disk><target bus=...>`.
    DiskBus {
        Ide = "ide",
        Fdc = "fdc",
        Scsi = "scsi",
        Virtio = "virtio",
        Xen = "xen",
        Usb = "usb",
        Uml = "uml",
        Sata = "sata",
        Sd = "sd",
    }
);

xml_enum!(
    /// `<controller type=...>`.
    ControllerType {
        Ide = "ide",
        Fdc = "fdc",
        Scsi = "scsi",
        Sata = "sata",
        VirtioSerial = "virtio-serial",
        Ccid = "ccid",
        Usb = "usb",
        Pci = "pci",
        Xenbus = "xenbus",
        Isa = "isa",
    }
);

xml_enum!(
    /// `<interface type=...>`.
    InterfaceType {
        User = "user",
        Ethernet = "ethernet",
        Vhostuser = "vhostuser",
        Server = "server",
        Client = "client",
        Mcast = "mcast",
        Network = "network",
        Bridge = "bridge",
        Internal = "internal",
        Direct = "direct",
        Hostdev = "hostdev",
        Udp = "udp",
        Vdpa = "vdpa",
        Null = "null",
        Vds = "vds",
    }
);

xml_enum!(
    /// `<interface type='direct'><source mode=...>`.
    MacvtapMode { Vepa = "vepa", Private = "private", Bridge = "bridge", Passthrough = "passthrough" }
);

xml_enum!(
    /// `<input type=...>`.
    InputType {
        Mouse = "mouse",
        Tablet = "tablet",
        Keyboard = "keyboard",
        Passthrough = "passthrough",
        Evdev = "evdev",
    }
);

xml_enum!(
    /// `<input bus=...>`.
    InputBus { Ps2 = "ps2", Usb = "usb", Xen = "xen", Parallels = "parallels", Virtio = "virtio", None = "none" }
);

xml_enum!(
    /// `<graphics type=...>`.
    GraphicsType {
        Sdl = "sdl",
        Vnc = "vnc",
        Rdp = "rdp",
        Desktop = "desktop",
        Spice = "spice",
        EglHeadless = "egl-headless",
        Dbus = "dbus",
    }
);

xml_enum!(
    /// `<graphics><listen type=...>`.
    ListenType { Address = "address", Network = "network", Socket = "socket", None = "none" }
);

xml_enum!(
    /// `<video><model type=...>`.
    VideoModel {
        Vga = "vga",
        Cirrus = "cirrus",
        Vmvga = "vmvga",
        Xen = "xen",
        Vbox = "vbox",
        Qxl = "qxl",
        Parallels = "parallels",
        Virtio = "virtio",
        Gop = "gop",
        None = "none",
        Bochs = "bochs",
        Ramfb = "ramfb",
    }
);

xml_enum!(
    /// Host side of a character device: `<serial type=...>` and its siblings.
    CharType {
        Pty = "pty",
        Null = "null",
        Vc = "vc",
        Dev = "dev",
        File = "file",
        Pipe = "pipe",
        Stdio = "stdio",
        Udp = "udp",
        Tcp = "tcp",
        Unix = "unix",
        Spicevmc = "spicevmc",
        Spiceport = "spiceport",
        Nmdm = "nmdm",
        QemuVdagent = "qemu-vdagent",
        Dbus = "dbus",
    }
);

xml_enum!(
    /// `<source mode=...>` of a unix/tcp/udp character device.
    CharSourceMode { Connect = "connect", Bind = "bind" }
);

xml_enum!(
    /// `<protocol type=...>` of a tcp character device.
    CharProtocol { Raw = "raw", Telnet = "telnet", Telnets = "telnets", Tls = "tls" }
);

xml_enum!(
    /// `<sound model=...>`.
    SoundModel {
        Sb16 = "sb16",
        Es1370 = "es1370",
        Pcspk = "pcspk",
        Ac97 = "ac97",
        Ich6 = "ich6",
        Ich9 = "ich9",
        Usb = "usb",
        Ich7 = "ich7",
    }
);

xml_enum!(
    /// `<memballoon model=...>`.
    MemballoonModel {
        Virtio = "virtio",
        Xen = "xen",
        None = "none",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
);

xml_enum!(
    /// `<rng model=...>`.
    RngModel {
        Virtio = "virtio",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
);

xml_enum!(
    /// `<watchdog model=...>`.
    WatchdogModel { I6300esb = "i6300esb", Ib700 = "ib700", Diag288 = "diag288", Itco = "itco" }
);

xml_enum!(
    /// `<watchdog action=...>`.
    WatchdogAction {
        Reset = "reset",
        Shutdown = "shutdown",
        Poweroff = "poweroff",
        Pause = "pause",
        Dump = "dump",
        None = "none",
        InjectNmi = "inject-nmi",
    }
);

xml_enum!(
    /// `<panic model=...>`.
    PanicModel { Isa = "isa", Pseries = "pseries", Hyperv = "hyperv", S390 = "s390", Pvpanic = "pvpanic" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_unknown_words_are_refused() {
        for v in LifecycleAction::ALL {
            assert_eq!(LifecycleAction::from_xml(v.as_str()), Some(*v));
        }
        assert_eq!(DiskBus::from_xml("virtio"), Some(DiskBus::Virtio));
        assert_eq!(DiskBus::from_xml("virtoi"), None);
        assert_eq!(DiskBus::from_xml("VIRTIO"), None);
        assert_eq!(CharType::default(), CharType::Pty);
        assert_eq!(ControllerType::VirtioSerial.to_string(), "virtio-serial");
    }
}
