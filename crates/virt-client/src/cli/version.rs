//! `virt version [--daemon]`: library, API, hypervisor and daemon versions.

use virt_client::{Connection, LIBRARY_VERSION};

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `version`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Also show the version of the daemon serving the connection.
    #[arg(long)]
    pub daemon: bool,
}

/// `major.minor.micro` of a libvirt-style version number.
pub fn version_text(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1_000) % 1_000, v % 1_000)
}

/// One line about a driver daemon behind the proxy:
/// `Backend daemon: virtqemud (QEMU) 0.1.0, API virt.v1, features: a b`.
pub fn backend_line(b: &virt_core::proto::InfoResponse) -> String {
    let features = if b.features.is_empty() {
        "none".to_string()
    } else {
        b.features.join(" ")
    };
    format!(
        "Backend daemon: {} ({}) {}, API {}, features: {features}",
        b.daemon, b.driver, b.daemon_version, b.api_version
    )
}

/// Runs `version`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let v = conn
        .version()
        .await
        .context(|| "failed to get hypervisor type".into())?;
    let lib = version_text(LIBRARY_VERSION);
    out.line(&format!("Compiled against library: libvirt {lib}"));
    out.line(&format!("Using library: libvirt {lib}"));
    out.line(&format!("Using API: {} {lib}", v.hypervisor_type));
    if v.hypervisor_version == 0 {
        out.line(&format!(
            "Cannot extract running {} hypervisor version",
            v.hypervisor_type
        ));
    } else {
        out.line(&format!(
            "Running hypervisor: {} {}",
            v.hypervisor_type,
            version_text(v.hypervisor_version)
        ));
    }
    if args.daemon {
        out.line(&format!(
            "Running against daemon: {}",
            version_text(v.lib_version)
        ));
        // Behind virt-proxy: the driver daemons it reaches. A daemon without Info (or with
        // no backends) prints nothing more.
        if let Ok(info) = conn.info().await {
            for b in &info.backends {
                out.line(&backend_line(b));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_into_three_parts() {
        assert_eq!(version_text(9_000_000), "9.0.0");
        assert_eq!(version_text(2), "0.0.2");
        assert_eq!(version_text(8_002_001), "8.2.1");
    }
}
