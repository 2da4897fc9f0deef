//! Tap devices for `bridge` and `ethernet` interfaces, made the way libvirt makes them.
//!
//! [`create_tap`] opens `/dev/net/tun` and asks for a tap (TUNSETIFF with IFF_TAP, IFF_NO_PI
//! and IFF_VNET_HDR, so virtio-net can pass offloads), named from `<target dev>` or the
//! `vnet%d` template the kernel numbers itself. It then gives the host side libvirt's MAC
//! (the guest's MAC with the first byte set to 0xFE, so a bridge never picks the tap's
//! address as its own and never confuses the two ends), takes the bridge's MTU, enslaves the
//! tap to the bridge and brings it up. Everything is an ioctl on the tun descriptor or on a
//! datagram socket (SIOCSIFHWADDR, SIOCGIFMTU/SIOCSIFMTU, SIOCBRADDIF, SIOCGIFFLAGS/
//! SIOCSIFFLAGS): no `ip` or `brctl` process, no netlink dependency.
//!
//! The tap is not persistent: it exists while some process holds its descriptor. The daemon
//! holds it until QEMU has inherited it ([`crate::command::QemuCommand::fds`]), and the tap
//! vanishes when QEMU exits, so a guest that dies while the daemon is down leaves nothing
//! behind. [`delete_tap`] is for the other cases: it removes a persistent tap, and detaches
//! from its bridge and downs a tap a live process still holds.

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::str::FromStr;

use nix::libc;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::VirtError;

/// An open tap device: its name and the queue descriptor QEMU inherits.
#[derive(Debug)]
pub struct TapDevice {
    /// The interface name (`vnet0`).
    pub name: String,
    /// The tap queue, opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR.
    pub fd: OwnedFd,
}

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = VirtError;

    fn from_str(s: &str) -> Result<Mac, VirtError> {
        let bad = || {
            VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                format!("'{s}' is not a MAC address"),
            )
        };
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Mac {
    /// The tap's host-side address: the guest's with the first byte 0xFE (libvirt's rule).
    pub fn host_side(&self) -> Mac {
        let mut m = self.0;
        m[0] = 0xfe;
        Mac(m)
    }
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const SIOCBRADDBR: libc::c_ulong = 0x89a0;
const SIOCBRDELBR: libc::c_ulong = 0x89a1;
const SIOCBRADDIF: libc::c_ulong = 0x89a2;
const SIOCBRDELIF: libc::c_ulong = 0x89a3;
const ARPHRD_ETHER: u16 = 1;
const IFNAMSIZ: usize = 16;

/// `struct ifreq`: a name and a 24-byte union, read and written by offset.
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> Result<IfReq, VirtError> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0']) {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                format!("'{name}' is not a valid interface name (1-15 bytes, no '/' or spaces)"),
            ));
        }
        let mut r = IfReq {
            name: [0; IFNAMSIZ],
            data: [0; 24],
        };
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(r)
    }

    fn name(&self) -> String {
        CStr::from_bytes_until_nul(&self.name)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn short(&self) -> libc::c_short {
        libc::c_short::from_ne_bytes([self.data[0], self.data[1]])
    }

    fn set_short(&mut self, v: libc::c_short) {
        self.data[..2].copy_from_slice(&v.to_ne_bytes());
    }

    fn int(&self) -> libc::c_int {
        libc::c_int::from_ne_bytes([self.data[0], self.data[1], self.data[2], self.data[3]])
    }

    fn set_int(&mut self, v: libc::c_int) {
        self.data[..4].copy_from_slice(&v.to_ne_bytes());
    }

    fn set_hwaddr(&mut self, mac: &Mac) {
        self.data[..2].copy_from_slice(&ARPHRD_ETHER.to_ne_bytes());
        self.data[2..8].copy_from_slice(&mac.0);
    }
}

fn system_error(what: String, err: std::io::Error) -> VirtError {
    VirtError::new(
        ErrorCode::SystemError,
        ErrorDomain::Qemu,
        format!("{what}: {err}"),
    )
}

/// One ioctl taking a `struct ifreq`.
fn ioctl(fd: RawFd, request: libc::c_ulong, req: &mut IfReq) -> std::io::Result<()> {
    // SAFETY: every request used here reads or writes at most one `struct ifreq`, which
    // `req` is (40 bytes, C layout); `fd` is open for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, request as _, req as *mut IfReq) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A datagram socket for interface ioctls.
fn control_socket() -> Result<OwnedFd, VirtError> {
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(system_error(
            "cannot open a socket for interface ioctls".into(),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ifindex(name: &str) -> std::io::Result<libc::c_int> {
    let c = std::ffi::CString::new(name).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(idx as libc::c_int)
    }
}

fn open_tun() -> Result<OwnedFd, VirtError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map(OwnedFd::from)
        .map_err(|e| system_error("cannot open /dev/net/tun".into(), e))
}

/// Creates a tap named `name_template` (`<target dev>`, or `vnet%d` when `None`; `%d` is
/// numbered by the kernel), gives it `mac`'s host-side address, attaches it to `bridge` and
/// brings it up. See the module docs.
pub fn create_tap(
    name_template: Option<&str>,
    bridge: Option<&str>,
    mac: &Mac,
) -> Result<TapDevice, VirtError> {
    let template = name_template.unwrap_or("vnet%d");
    let mut req = IfReq::new(template)?;
    req.set_short(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    let tun = open_tun()?;
    ioctl(tun.as_raw_fd(), TUNSETIFF, &mut req)
        .map_err(|e| system_error(format!("cannot create tap device '{template}'"), e))?;
    let name = req.name();
    // From here on an error drops `tun`, which destroys the (non-persistent) tap.
    let sock = control_socket()?;
    let s = sock.as_raw_fd();
    let mut hw = IfReq::new(&name)?;
    hw.set_hwaddr(&mac.host_side());
    ioctl(s, libc::SIOCSIFHWADDR as _, &mut hw)
        .map_err(|e| system_error(format!("cannot set the MAC address of tap '{name}'"), e))?;
    if let Some(bridge) = bridge {
        attach(s, &name, bridge)?;
    }
    let mut flags = IfReq::new(&name)?;
    ioctl(s, libc::SIOCGIFFLAGS as _, &mut flags)
        .map_err(|e| system_error(format!("cannot read the flags of tap '{name}'"), e))?;
    flags.set_short(flags.short() | libc::IFF_UP as libc::c_short);
    ioctl(s, libc::SIOCSIFFLAGS as _, &mut flags)
        .map_err(|e| system_error(format!("cannot bring tap '{name}' up"), e))?;
    Ok(TapDevice { name, fd: tun })
}

/// One tap per `bridge` / `ethernet` interface of `def`, in interface order (what
/// [`crate::command::LaunchContext::taps`] expects): named from `<target dev>` or `vnet%d`,
/// enslaved to `<source bridge>` for bridge interfaces. On an error the taps made so far are
/// closed, which removes them.
pub fn taps_for(def: &virt_core::model::DomainDef) -> Result<Vec<TapDevice>, VirtError> {
    use virt_core::model::enums::InterfaceType;
    let mut taps = Vec::new();
    for (i, n) in def.devices.interfaces.iter().enumerate() {
        let bridge = match n.interface_type {
            InterfaceType::Bridge => Some(n.source_bridge.as_deref().ok_or_else(|| {
                VirtError::new(
                    ErrorCode::ConfigUnsupported,
                    ErrorDomain::Qemu,
                    format!("interface net{i}: a bridge interface needs <source bridge>"),
                )
            })?),
            // The bridge its network port plugs into (crate::siblings), set before the taps.
            InterfaceType::Network => Some(n.source_bridge.as_deref().ok_or_else(|| {
                VirtError::internal(
                    ErrorDomain::Qemu,
                    format!(
                        "interface net{i}: network '{}' gave no bridge to plug into",
                        n.source_network.as_deref().unwrap_or("")
                    ),
                )
            })?),
            InterfaceType::Ethernet => None,
            _ => continue,
        };
        let mac: Mac = n
            .mac
            .as_deref()
            .ok_or_else(|| {
                VirtError::new(
                    ErrorCode::ConfigUnsupported,
                    ErrorDomain::Qemu,
                    format!("interface net{i} has no MAC address"),
                )
            })?
            .parse()?;
        taps.push(create_tap(n.target_dev.as_deref(), bridge, &mac)?);
    }
    Ok(taps)
}

/// Whether interface `n` is backed by a tap this daemon makes: `bridge`, `ethernet`, and
/// `network` (plugged into its network's bridge).
pub fn uses_tap(n: &virt_core::model::devices::Interface) -> bool {
    use virt_core::model::enums::InterfaceType;
    matches!(
        n.interface_type,
        InterfaceType::Bridge | InterfaceType::Ethernet | InterfaceType::Network
    )
}

/// Gives the tap the bridge's MTU and enslaves it.
fn attach(s: RawFd, tap: &str, bridge: &str) -> Result<(), VirtError> {
    let mut mtu = IfReq::new(bridge)?;
    ioctl(s, libc::SIOCGIFMTU as _, &mut mtu)
        .map_err(|e| system_error(format!("cannot use bridge '{bridge}'"), e))?;
    let mut set = IfReq::new(tap)?;
    set.set_int(mtu.int());
    ioctl(s, libc::SIOCSIFMTU as _, &mut set)
        .map_err(|e| system_error(format!("cannot set the MTU of tap '{tap}'"), e))?;
    let idx = ifindex(tap).map_err(|e| system_error(format!("tap '{tap}' vanished"), e))?;
    let mut add = IfReq::new(bridge)?;
    add.set_int(idx);
    ioctl(s, SIOCBRADDIF, &mut add)
        .map_err(|e| system_error(format!("cannot attach tap '{tap}' to bridge '{bridge}'"), e))
}

/// Removes tap `name`: a persistent tap is destroyed; one a live process (QEMU) still holds
/// is detached from its bridge and brought down, and vanishes when that process closes it.
/// A tap that no longer exists is fine.
pub fn delete_tap(name: &str) -> Result<(), VirtError> {
    let mut req = IfReq::new(name)?;
    if ifindex(name).is_err() {
        return Ok(());
    }
    req.set_short(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    let tun = open_tun()?;
    match ioctl(tun.as_raw_fd(), TUNSETIFF, &mut req) {
        Ok(()) => {
            // SAFETY: TUNSETPERSIST takes an integer argument and touches no memory of ours.
            let rc =
                unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETPERSIST as _, 0 as libc::c_ulong) };
            if rc < 0 {
                return Err(system_error(
                    format!("cannot make tap '{name}' non-persistent"),
                    std::io::Error::last_os_error(),
                ));
            }
            Ok(()) // closing `tun` destroys it
        }
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => detach_and_down(name),
        // Gone between the check and the ioctl (its holder exited).
        Err(_) if ifindex(name).is_err() => Ok(()),
        Err(e) => Err(system_error(format!("cannot delete tap '{name}'"), e)),
    }
}

fn detach_and_down(name: &str) -> Result<(), VirtError> {
    let sock = control_socket()?;
    let s = sock.as_raw_fd();
    let master = std::fs::read_link(format!("/sys/class/net/{name}/master"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    if let Some(bridge) = master {
        let idx = ifindex(name).map_err(|e| system_error(format!("tap '{name}'"), e))?;
        let mut del = IfReq::new(&bridge)?;
        del.set_int(idx);
        ioctl(s, SIOCBRDELIF, &mut del).map_err(|e| {
            system_error(
                format!("cannot detach tap '{name}' from bridge '{bridge}'"),
                e,
            )
        })?;
    }
    let mut flags = IfReq::new(name)?;
    ioctl(s, libc::SIOCGIFFLAGS as _, &mut flags)
        .map_err(|e| system_error(format!("cannot read the flags of tap '{name}'"), e))?;
    flags.set_short(flags.short() & !(libc::IFF_UP as libc::c_short));
    ioctl(s, libc::SIOCSIFFLAGS as _, &mut flags)
        .map_err(|e| system_error(format!("cannot bring tap '{name}' down"), e))
}

/// Creates a Linux bridge (SIOCBRADDBR), down; for tests and tools.
pub fn create_bridge(name: &str) -> Result<(), VirtError> {
    bridge_ioctl(name, SIOCBRADDBR, "create")
}

/// Deletes a Linux bridge (SIOCBRDELBR); it must be down.
pub fn delete_bridge(name: &str) -> Result<(), VirtError> {
    bridge_ioctl(name, SIOCBRDELBR, "delete")
}

fn bridge_ioctl(name: &str, request: libc::c_ulong, verb: &str) -> Result<(), VirtError> {
    let req = IfReq::new(name)?;
    let sock = control_socket()?;
    // SAFETY: SIOCBRADDBR/SIOCBRDELBR read a NUL-terminated name of at most IFNAMSIZ bytes,
    // which `req.name` is.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req.name.as_ptr()) };
    if rc < 0 {
        return Err(system_error(
            format!("cannot {verb} bridge '{name}'"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_print_and_get_the_host_side_prefix() {
        let m: Mac = "52:54:00:AB:cd:01".parse().expect("mac");
        assert_eq!(m.to_string(), "52:54:00:ab:cd:01");
        assert_eq!(m.host_side().to_string(), "fe:54:00:ab:cd:01");
        for bad in [
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:01:02",
            "5:54:00:ab:cd:01",
            "zz:54:00:ab:cd:01",
        ] {
            let e = bad.parse::<Mac>().expect_err(bad);
            assert!(e.detail.contains(bad), "{}", e.detail);
        }
    }

    #[test]
    fn interface_names_are_checked_before_any_ioctl() {
        let e = create_tap(
            Some("a-name-longer-than-15"),
            None,
            &Mac([0x52, 0x54, 0, 0, 0, 1]),
        )
        .expect_err("too long");
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        assert!(e.detail.contains("'a-name-longer-than-15'"), "{}", e.detail);
    }
}
