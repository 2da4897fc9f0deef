//! `virt screenshot DOMAIN [--file FILE] [--screen N]`: an image of the domain's display,
//! received over the Screenshot stream and written to FILE, or to `NAME-DATE.EXT` as virsh 9.0
//! names it (libvirt: virDomainScreenshot).

use std::io::Write;

use virt_client::Connection;

use super::dev_common::{numeric_error, parse_uint_full};
use super::dom::{resolve, DomArg, ANY};
use super::net_dhcp_leases::local_time;
use super::output::Output;
use super::report::CliError;

/// Options of `screenshot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Where to store the screenshot.
    #[arg(long)]
    pub file: Option<String>,
    /// ID of a screen to take screenshot of.
    #[arg(long, allow_hyphen_values = true)]
    pub screen: Option<String>,
}

/// virsh's `virshGenFileName`: `NAME-%Y-%m-%d-%H:%M:%S` in local time, `.ppm` or `.png` by
/// MIME type.
pub fn generated_name(domain: &str, mime: &str, secs: i64) -> String {
    let ext = match mime {
        "image/x-portable-pixmap" => ".ppm",
        "image/png" => ".png",
        _ => "",
    };
    format!("{domain}-{}{ext}", local_time(secs).replace(' ', "-"))
}

/// Runs `screenshot`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let screen = match &a.screen {
        Some(s) => parse_uint_full(s, 10).ok_or_else(|| numeric_error(s, "screen"))?,
        None => 0,
    };
    let t = resolve(conn, a.domain.get(), ANY).await?;
    let (mime, data) = conn
        .screenshot(&t.lookup, screen, 0)
        .await
        .map_err(|e| CliError::Call {
            context: Some(format!("could not take a screenshot of {}", t.arg)),
            source: Box::new(e),
        })?;
    let file = match &a.file {
        Some(f) => f.clone(),
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            generated_name(&t.domain.name, &mime, now)
        }
    };
    let cannot_create = || CliError::msg(format!("cannot create file {file}"));
    // As virsh: create the file if it does not exist, else truncate it; remove it on a
    // failed write only if this command created it.
    let (mut f, created) = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
    {
        Ok(f) => (f, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&file)
                .map_err(|_| cannot_create())?,
            false,
        ),
        Err(_) => return Err(cannot_create()),
    };
    if f.write_all(&data).and_then(|()| f.sync_all()).is_err() {
        if created {
            let _ = std::fs::remove_file(&file);
        }
        return Err(CliError::msg(format!(
            "could not receive data from domain {}",
            t.arg
        )));
    }
    if !out.quiet() {
        out.text(&format!("Screenshot saved to {file}, with type of {mime}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_mime_type() {
        assert!(generated_name("web", "image/png", 0).starts_with("web-19"));
        assert!(generated_name("web", "image/x-portable-pixmap", 0).ends_with(".ppm"));
        assert!(!generated_name("web", "image/bmp", 0).contains('.'));
    }
}
