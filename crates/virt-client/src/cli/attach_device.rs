//! `virt attach-device DOMAIN FILE [--persistent] [--config] [--live] [--current]` and
//! `virt detach-device` with the same options: add or remove the device an XML file describes,
//! as virsh does (libvirt: virDomainAttachDeviceFlags / virDomainDetachDeviceFlags).
//!
//! The options map onto ModificationFlag bits as virsh's: `--config` is CONFIG, `--live` is
//! LIVE, `--current` (or nothing) is 0, the driver's "live if running, else config";
//! `--persistent` is CONFIG, plus LIVE when the domain is running. `--current` cannot go with
//! `--live`, `--config` or `--persistent`. Without any of them virsh calls the flagless API
//! (virDomainAttachDevice / virDomainDetachDevice), and a driver's refusal names it.

use virt_client::Connection;
use virt_core::proto::ModificationFlag as F;

use super::define::read_file;
use super::dev_common::device_error;
use super::dom::{resolve, ANY};
use super::impact::exclusive;
use super::output::Output;
use super::report::CliError;

/// Options of `attach-device` and `detach-device`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Domain name, id or uuid.
    #[arg(value_name = "DOMAIN")]
    pub domain: String,
    /// XML file describing one device.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Make the change persistent (and live, when the domain is running).
    #[arg(long)]
    pub persistent: bool,
    /// Affect the next boot.
    #[arg(long)]
    pub config: bool,
    /// Affect the running domain.
    #[arg(long)]
    pub live: bool,
    /// Affect the current domain.
    #[arg(long)]
    pub current: bool,
}

impl Args {
    /// The ModificationFlag bits, given whether the domain is running.
    pub fn flags(&self, running: bool) -> Result<u32, CliError> {
        if self.current {
            for (set, name) in [
                (self.live, "live"),
                (self.config, "config"),
                (self.persistent, "persistent"),
            ] {
                if set {
                    return Err(exclusive("current", name));
                }
            }
        }
        let mut flags = 0;
        if self.config || self.persistent {
            flags |= F::Config as u32;
        }
        if self.live || (self.persistent && running) {
            flags |= F::Live as u32;
        }
        Ok(flags)
    }
}

/// Runs `attach-device`.
pub async fn attach(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, &args.domain, ANY).await?;
    let xml = read_file(&args.file)?;
    let flags = args.flags(target.domain.id.is_some())?;
    let flags_api = flags != 0 || args.current;
    conn.attach_device(&target.lookup, &xml, flags)
        .await
        .map_err(|e| {
            device_error(
                e,
                flags_api,
                "virDomainAttachDeviceFlags",
                "virDomainAttachDevice",
                &format!("Failed to attach device from {}", args.file),
            )
        })?;
    out.extra("Device attached successfully");
    Ok(())
}

/// Runs `detach-device`.
pub async fn detach(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, &args.domain, ANY).await?;
    let xml = read_file(&args.file)?;
    let flags = args.flags(target.domain.id.is_some())?;
    let flags_api = flags != 0 || args.current;
    conn.detach_device(&target.lookup, &xml, flags)
        .await
        .map_err(|e| {
            device_error(
                e,
                flags_api,
                "virDomainDetachDeviceFlags",
                "virDomainDetachDevice",
                &format!("Failed to detach device from {}", args.file),
            )
        })?;
    out.extra("Device detached successfully");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(persistent: bool, config: bool, live: bool, current: bool) -> Args {
        Args {
            domain: "d".into(),
            file: "f".into(),
            persistent,
            config,
            live,
            current,
        }
    }

    #[test]
    fn options_map_to_virsh_flags() {
        assert_eq!(
            args(false, false, false, false).flags(true).expect("none"),
            0
        );
        assert_eq!(
            args(false, false, false, true)
                .flags(true)
                .expect("current"),
            0
        );
        assert_eq!(
            args(false, true, false, false).flags(true).expect("config"),
            2
        );
        assert_eq!(
            args(false, false, true, false).flags(false).expect("live"),
            1
        );
        assert_eq!(
            args(true, false, false, false)
                .flags(true)
                .expect("running"),
            3
        );
        assert_eq!(
            args(true, false, false, false).flags(false).expect("off"),
            2
        );
        assert_eq!(args(false, true, true, false).flags(true).expect("both"), 3);
    }

    #[test]
    fn current_excludes_the_others() {
        for (a, other) in [
            (args(true, false, false, true), "persistent"),
            (args(false, true, false, true), "config"),
            (args(false, false, true, true), "live"),
        ] {
            assert_eq!(
                a.flags(true).expect_err("exclusive").lines(),
                vec![format!(
                    "Options --current and --{other} are mutually exclusive"
                )]
            );
        }
    }
}
