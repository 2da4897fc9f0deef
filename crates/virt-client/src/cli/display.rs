//! `virt domdisplay`, `vncdisplay` and `ttyconsole`: read client-side from the live domain
//! XML as virsh 9.0 does (the graphics' ports and listen addresses, the console's tty).

use virt_client::Connection;
use virt_core::proto::DomainXmlFlag;
use virt_xml::dom::Element;

use super::dev_common::domain_root;
use super::dom::{resolve, DomArg, Target, ANY};
use super::dom_doc::{attr, devices};
use super::output::Output;
use super::report::CliError;

/// Options of `domdisplay`.
#[derive(clap::Args, Debug)]
pub struct DisplayArgs {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Includes the password into the connection URI if available.
    #[arg(long = "include-password")]
    pub include_password: bool,
    /// Select particular graphical display (e.g. "vnc", "spice", "rdp", "dbus").
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Show all possible graphical displays.
    #[arg(long)]
    pub all: bool,
}

/// Options of `vncdisplay` and `ttyconsole`.
#[derive(clap::Args, Debug)]
pub struct DomOnly {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
}

/// Resolves the domain and refuses an inactive one as virsh does.
async fn running(conn: &Connection, dom: &DomArg) -> Result<Target, CliError> {
    let t = resolve(conn, dom.get(), ANY).await?;
    if t.domain.id.is_none() {
        return Err(CliError::msg("Domain is not running"));
    }
    Ok(t)
}

/// The first `<graphics>` of type `kind`.
fn graphics<'a>(root: &'a Element, kind: &str) -> Option<&'a Element> {
    devices(root, "graphics").find(|g| attr(g, "type") == Some(kind))
}

/// XPath `string(...)` then libvirt's virXPathInt: the whole text as an int.
fn int_attr(g: Option<&Element>, name: &str) -> Option<i32> {
    g.and_then(|g| attr(g, name))?.parse().ok()
}

/// A non-empty attribute of the graphics element, or of its first `<listen>` child.
fn string_attr(g: Option<&Element>, name: &str) -> Option<String> {
    g.and_then(|g| attr(g, name))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn listen_child(g: Option<&Element>, name: &str) -> Option<String> {
    g?.elements()
        .filter(|c| c.name == "listen")
        .find_map(|c| attr(c, name))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Whether `addr` is the any-address of IPv4 or IPv6.
fn is_wildcard(addr: &str) -> bool {
    match addr.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_unspecified(),
        Err(_) => false,
    }
}

/// The server part of a connection URI (`qemu+ssh://user@host:22/system` gives `host`).
fn uri_server(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// The URI of one display scheme, or `None` when the domain has no such display.
fn display_uri(root: &Element, scheme: &str, server: Option<&str>) -> Option<String> {
    let g = graphics(root, scheme);
    let port = int_attr(g, "port").unwrap_or(0);
    let tls_port = int_attr(g, "tlsPort").unwrap_or(0);
    let sockpath = string_attr(g, "socket").or_else(|| listen_child(g, "socket"));
    if port == 0 && tls_port == 0 && sockpath.is_none() {
        return None;
    }
    let mut listen = string_attr(g, "listen");
    match &listen {
        None => listen = listen_child(g, "address"),
        Some(l) if is_wildcard(l) => listen = server.map(str::to_string),
        Some(_) => {}
    }
    let passwd = string_attr(g, "passwd");
    let mut uri = match &sockpath {
        Some(_) => format!("{scheme}+unix://"),
        None => format!("{scheme}://"),
    };
    if scheme == "vnc" {
        if let Some(p) = &passwd {
            uri.push_str(&format!(":{p}@"));
        }
    }
    match (&sockpath, &listen) {
        (Some(s), _) => uri.push_str(s),
        (None, None) => uri.push_str("localhost"),
        (None, Some(l)) if l.contains(':') => uri.push_str(&format!("[{l}]")),
        (None, Some(l)) => uri.push_str(l),
    }
    let mut port = port;
    if port != 0 {
        if scheme == "vnc" {
            port -= 5900;
        }
        uri.push_str(&format!(":{port}"));
    }
    if tls_port != 0 {
        uri.push_str(&format!("?tls-port={tls_port}"));
    }
    if scheme == "spice" {
        if let Some(p) = &passwd {
            let sep = if tls_port != 0 { '&' } else { '?' };
            uri.push_str(&format!("{sep}password={p}"));
        }
    }
    Some(uri)
}

/// Runs `domdisplay`.
pub async fn domdisplay(
    conn: &Connection,
    a: &DisplayArgs,
    out: &mut Output,
) -> Result<(), CliError> {
    let t = running(conn, &a.domain).await?;
    let flags = if a.include_password {
        DomainXmlFlag::Secure as u32
    } else {
        0
    };
    let root = domain_root(conn, &t, flags).await?;
    let server = match conn.uri().await {
        Ok(u) => uri_server(&u),
        Err(_) => None,
    };
    let mut found = false;
    for scheme in ["vnc", "spice", "rdp"] {
        if !a.all && a.kind.as_deref().is_some_and(|k| k != scheme) {
            continue;
        }
        if let Some(uri) = display_uri(&root, scheme, server.as_deref()) {
            found = true;
            // virsh ends each URI with a newline only with --all; the one URI of a plain
            // call is ended by the closing newline.
            if a.all {
                out.line(&uri);
            } else {
                out.text(&uri);
                break;
            }
        }
    }
    if found {
        return Ok(());
    }
    Err(CliError::msg(match &a.kind {
        Some(k) => format!("No graphical display with type '{k}' found"),
        None => "No graphical display found".into(),
    }))
}

/// Runs `vncdisplay`.
pub async fn vncdisplay(conn: &Connection, a: &DomOnly, out: &mut Output) -> Result<(), CliError> {
    let t = running(conn, &a.domain).await?;
    let root = domain_root(conn, &t, 0).await?;
    let g = graphics(&root, "vnc");
    let port = int_attr(g, "port")
        .ok_or_else(|| CliError::msg("Failed to get VNC port. Is this domain using VNC?"))?;
    let listen = string_attr(g, "listen").or_else(|| listen_child(g, "address"));
    match listen.as_deref() {
        None | Some("0.0.0.0") => out.line(&format!(":{}", port - 5900)),
        Some(l) => out.line(&format!("{l}:{}", port - 5900)),
    }
    Ok(())
}

/// Runs `ttyconsole`: the first console's `tty`; without one virsh fails without a message.
pub async fn ttyconsole(conn: &Connection, a: &DomOnly, out: &mut Output) -> Result<(), CliError> {
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let root = domain_root(conn, &t, 0).await?;
    let tty = devices(&root, "console")
        .next()
        .and_then(|c| attr(c, "tty"))
        .filter(|v| !v.is_empty())
        .ok_or(CliError::Silent)?;
    out.line(tty);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Element {
        virt_xml::dom::parse(
            "<domain><devices>\
             <graphics type='vnc' port='5901' listen='127.0.0.1' passwd='pw'/>\
             <graphics type='spice' port='5902' tlsPort='5903' listen='0.0.0.0'/>\
             </devices></domain>",
            "t",
        )
        .expect("test input")
    }

    #[test]
    fn uris_as_virsh_builds_them() {
        let r = root();
        assert_eq!(
            display_uri(&r, "vnc", None).as_deref(),
            Some("vnc://:pw@127.0.0.1:1")
        );
        assert_eq!(
            display_uri(&r, "spice", None).as_deref(),
            Some("spice://localhost:5902?tls-port=5903")
        );
        assert_eq!(
            display_uri(&r, "spice", Some("h")).as_deref(),
            Some("spice://h:5902?tls-port=5903")
        );
        assert_eq!(display_uri(&r, "rdp", None), None);
        assert_eq!(
            uri_server("qemu+ssh://u@host:22/system").as_deref(),
            Some("host")
        );
        assert_eq!(uri_server("test:///default"), None);
    }
}
