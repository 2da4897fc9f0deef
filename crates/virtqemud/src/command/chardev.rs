//! The host side of a character device as a `-chardev` value, for every source type QEMU 7.2
//! has and libvirt 9.0 maps (its `qemuBuildChardevCommand`), shared by serial and parallel
//! ports, consoles, channels and USB redirection:
//!
//! | `type=` | `-chardev` |
//! |---|---|
//! | `null`, `vc`, `pty` | `null,id=X` (and so on) |
//! | `file` | `file,id=X,path=P[,append=on\|off]` |
//! | `pipe` | `pipe,id=X,path=P` |
//! | `dev` | `serial,id=X,path=P`, `parport,...` for a parallel port |
//! | `unix` | `socket,id=X,path=P`, plus `server=on,wait=off` with `mode='bind'` |
//! | `tcp` | `socket,id=X,host=H,port=S[,telnet=on]`, plus `server=on,wait=off` with `mode='bind'` |
//! | `udp` | `udp,id=X,host=H,port=S,localaddr=A,localport=B` (empty host and address, port 0 when unset) |
//! | `spicevmc` | `spicevmc,id=X,name=vdagent` (channels), `name=usbredir` (USB redirection) |
//! | `spiceport` | `spiceport,id=X,name=C` |
//! | `qemu-vdagent` | `qemu-vdagent,id=X,name=vdagent[,clipboard=on\|off][,mouse=on\|off]` |
//!
//! Refused (define refuses them first, see `honour.rs`): `stdio` (QEMU's standard streams are
//! its log here; a daemon has no terminal to give it), TCP with TLS or the `telnets`/`tls`
//! protocols (no chardev TLS credentials are configured), and SPICE types outside channels.

use virt_core::model::chardev::CharSource;
use virt_core::model::enums::{CharProtocol, CharSourceMode, CharType};
use virt_core::VirtError;

use super::{opt, unsupported};

/// Which device the character device backs: some types depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frontend {
    /// `<serial>` or `<console>`.
    Serial,
    /// `<parallel>`.
    Parallel,
    /// `<channel>`.
    Channel,
    /// `<redirdev>`.
    Redir,
}

/// The `-chardev` value of `s` under the id `id`; `what` names the device in errors.
pub(super) fn chardev(
    s: &CharSource,
    id: &str,
    what: &str,
    front: Frontend,
) -> Result<String, VirtError> {
    let path = || {
        s.path
            .as_deref()
            .map(opt)
            .ok_or_else(|| unsupported(format!("{what}: a '{}' source needs a path", s.char_type)))
    };
    Ok(match s.char_type {
        CharType::Null => format!("null,id={id}"),
        CharType::Vc => format!("vc,id={id}"),
        CharType::Pty => format!("pty,id={id}"),
        CharType::File => {
            let mut v = format!("file,id={id},path={}", path()?);
            if let Some(append) = s.append {
                v.push_str(if append { ",append=on" } else { ",append=off" });
            }
            v
        }
        CharType::Pipe => format!("pipe,id={id},path={}", path()?),
        CharType::Dev if front == Frontend::Parallel => {
            format!("parport,id={id},path={}", path()?)
        }
        CharType::Dev => format!("serial,id={id},path={}", path()?),
        CharType::Unix => {
            let path = s.path.as_deref().map(opt).ok_or_else(|| {
                unsupported(format!(
                    "{what}: a unix source needs a path (channels get one when the domain \
                     starts)"
                ))
            })?;
            // libvirt's default mode is connect: QEMU listens only when told to bind.
            match s.mode {
                Some(CharSourceMode::Bind) => {
                    format!("socket,id={id},path={path},server=on,wait=off")
                }
                _ => format!("socket,id={id},path={path}"),
            }
        }
        CharType::Tcp => tcp(s, id, what)?,
        CharType::Udp => {
            let port = s
                .service
                .as_deref()
                .ok_or_else(|| unsupported(format!("{what}: a udp source needs a service")))?;
            // libvirt writes every part, empty or 0 where the XML says nothing.
            format!(
                "udp,id={id},host={},port={},localaddr={},localport={}",
                opt(s.host.as_deref().unwrap_or("")),
                opt(port),
                opt(s.bind_host.as_deref().unwrap_or("")),
                opt(s.bind_service.as_deref().unwrap_or("0")),
            )
        }
        CharType::Spicevmc => match front {
            Frontend::Channel => format!("spicevmc,id={id},name=vdagent"),
            Frontend::Redir => format!("spicevmc,id={id},name=usbredir"),
            _ => {
                return Err(unsupported(format!(
                    "{what}: spicevmc device type only supports virtio"
                )))
            }
        },
        CharType::Spiceport => {
            let name = s.channel.as_deref().ok_or_else(|| {
                unsupported(format!(
                    "{what}: a spiceport source needs <source channel=...>"
                ))
            })?;
            format!("spiceport,id={id},name={}", opt(name))
        }
        CharType::QemuVdagent => {
            let mut v = format!("qemu-vdagent,id={id},name=vdagent");
            if let Some(copy) = s.clipboard_copypaste {
                v.push_str(if copy {
                    ",clipboard=on"
                } else {
                    ",clipboard=off"
                });
            }
            match s.mouse_mode.as_deref() {
                Some("client") => v.push_str(",mouse=on"),
                Some(_) => v.push_str(",mouse=off"),
                None => {}
            }
            v
        }
        CharType::Stdio => {
            return Err(unsupported(format!(
                "{what}: a 'stdio' source is not supported: QEMU's standard streams are its log \
                 file here, and the daemon has no terminal to give it"
            )))
        }
        t => return Err(unsupported(format!("{what}: type '{t}' is not supported"))),
    })
}

/// A TCP socket: a server with `mode='bind'`, else a client (libvirt's default); raw or
/// telnet.
fn tcp(s: &CharSource, id: &str, what: &str) -> Result<String, VirtError> {
    if s.tls == Some(true) {
        return Err(unsupported(format!(
            "{what}: TLS on a tcp character device needs chardev TLS credentials, which this \
             daemon does not configure"
        )));
    }
    let telnet = match s.protocol {
        None | Some(CharProtocol::Raw) => false,
        Some(CharProtocol::Telnet) => true,
        Some(p) => {
            return Err(unsupported(format!(
                "{what}: protocol '{p}' is not supported (raw, telnet)"
            )))
        }
    };
    let (Some(host), Some(port)) = (&s.host, &s.service) else {
        return Err(unsupported(format!(
            "{what}: a tcp source needs a host and a service"
        )));
    };
    let mut v = format!("socket,id={id},host={},port={}", opt(host), opt(port));
    if telnet {
        v.push_str(",telnet=on");
    }
    if s.mode == Some(CharSourceMode::Bind) {
        v.push_str(",server=on,wait=off");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(xml_type: CharType) -> CharSource {
        CharSource {
            char_type: xml_type,
            ..CharSource::default()
        }
    }

    #[test]
    fn dev_sources_are_serial_or_parport_by_frontend() {
        let mut s = src(CharType::Dev);
        s.path = Some("/dev/ttyS0".into());
        assert_eq!(
            chardev(&s, "charserial0", "serial0", Frontend::Serial).expect("ok"),
            "serial,id=charserial0,path=/dev/ttyS0"
        );
        s.path = Some("/dev/parport0".into());
        assert_eq!(
            chardev(&s, "charparallel0", "parallel0", Frontend::Parallel).expect("ok"),
            "parport,id=charparallel0,path=/dev/parport0"
        );
    }

    #[test]
    fn udp_names_both_ends_and_file_says_append_either_way() {
        let mut only = src(CharType::Udp);
        only.service = Some("4559".into());
        assert_eq!(
            chardev(&only, "charserial2", "serial2", Frontend::Serial).expect("ok"),
            "udp,id=charserial2,host=,port=4559,localaddr=,localport=0"
        );
        let mut s = src(CharType::Udp);
        s.host = Some("127.0.0.1".into());
        s.service = Some("4559".into());
        s.bind_host = Some("127.0.0.1".into());
        s.bind_service = Some("4558".into());
        assert_eq!(
            chardev(&s, "charserial3", "serial3", Frontend::Serial).expect("ok"),
            "udp,id=charserial3,host=127.0.0.1,port=4559,localaddr=127.0.0.1,localport=4558"
        );
        let mut f = src(CharType::File);
        f.path = Some("/tmp/a,b.log".into());
        f.append = Some(false);
        assert_eq!(
            chardev(&f, "c", "c", Frontend::Serial).expect("ok"),
            "file,id=c,path=/tmp/a,,b.log,append=off"
        );
    }

    #[test]
    fn refusals_name_the_device_and_the_reason() {
        let e = chardev(&src(CharType::Stdio), "c", "serial0", Frontend::Serial).expect_err("x");
        assert!(e.detail.starts_with("serial0: a 'stdio' source"), "{e:?}");
        let mut t = src(CharType::Tcp);
        t.host = Some("127.0.0.1".into());
        t.service = Some("1".into());
        t.tls = Some(true);
        let e = chardev(&t, "c", "serial1", Frontend::Serial).expect_err("tls");
        assert!(e.detail.contains("TLS"), "{e:?}");
        t.tls = None;
        t.protocol = Some(CharProtocol::Telnets);
        let e = chardev(&t, "c", "serial1", Frontend::Serial).expect_err("telnets");
        assert!(e.detail.contains("'telnets'"), "{e:?}");
        let e = chardev(&src(CharType::Spicevmc), "c", "serial2", Frontend::Serial)
            .expect_err("spicevmc");
        assert_eq!(
            e.detail,
            "serial2: spicevmc device type only supports virtio"
        );
        let e = chardev(&src(CharType::File), "c", "parallel0", Frontend::Parallel)
            .expect_err("no path");
        assert_eq!(e.detail, "parallel0: a 'file' source needs a path");
    }
}
