//! `virt vcpucount DOMAIN [--maximum|--active] [--live|--config|--current] [--guest]`: vCPU
//! counts through virDomainGetVcpusFlags, with virsh's option rules and its four-line summary
//! when no option is given.

use virt_client::{ClientError, Connection};
use virt_core::proto::ModificationFlag as F;
use virt_core::types::DomainLookup;
use virt_core::ErrorCode;

use super::dom::{resolve, DomArg, ANY};
use super::output::Output;
use super::report::CliError;

/// Options of `vcpucount`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The domain.
    #[command(flatten)]
    pub domain: DomArg,
    /// Get maximum count of vcpus.
    #[arg(long)]
    pub maximum: bool,
    /// Get number of currently active vcpus.
    #[arg(long)]
    pub active: bool,
    /// Get value from running domain.
    #[arg(long)]
    pub live: bool,
    /// Get value to be used on next boot.
    #[arg(long)]
    pub config: bool,
    /// Get value according to current domain state.
    #[arg(long)]
    pub current: bool,
    /// Retrieve vcpu count from the guest instead of the hypervisor.
    #[arg(long)]
    pub guest: bool,
}

/// The single call's flags, or `None` for the summary; virsh's exclusivity errors.
pub fn flags(a: &Args) -> Result<Option<u32>, CliError> {
    let all = !(a.maximum || a.active || a.current || a.config || a.live || a.guest);
    // virsh keeps the pre-0.9.4 meaning of `--current` (the opposite of `--maximum`) when
    // neither --maximum nor --active is given: it is then dropped, not checked.
    let current = a.current && (a.maximum || a.active);
    for (x, xn, y, yn) in [
        (current, "current", a.live, "live"),
        (current, "current", a.config, "config"),
        (a.active, "active", a.maximum, "maximum"),
        (a.guest, "guest", a.config, "config"),
    ] {
        if x && y {
            return Err(CliError::msg(format!(
                "Options --{xn} and --{yn} are mutually exclusive"
            )));
        }
    }
    if all {
        return Ok(None);
    }
    Ok(Some(
        [
            (a.live, F::Live),
            (a.config, F::Config),
            (a.maximum, F::Maximum),
            (a.guest, F::Guest),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u32, |acc, (_, f)| acc | *f as u32),
    ))
}

/// One count as virsh's `virshCPUCountCollect` gets it: a driver that refuses the guest
/// flag gets virsh's extra line.
async fn count(conn: &Connection, dom: &DomainLookup, flags: u32) -> Result<u32, CliError> {
    conn.get_vcpus(dom, flags).await.map_err(|e: ClientError| {
        let fallback = matches!(e.code(), ErrorCode::NoSupport | ErrorCode::InvalidArg);
        let context = (fallback && flags & F::Guest as u32 != 0)
            .then(|| "Failed to retrieve vCPU count from the guest".to_string());
        CliError::Call {
            context,
            source: Box::new(e),
        }
    })
}

/// Runs `vcpucount`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let flags = flags(args)?;
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let Some(flags) = flags else {
        let (domain, info) = conn.domain_info(&target.lookup).await?;
        let active = domain.id.is_some();
        let (live, config) = (F::Live as u32, F::Config as u32);
        let max = F::Maximum as u32;
        let mut rows = Vec::new();
        for (which, state, f) in [
            ("maximum", "config", config | max),
            ("current", "config", config),
            ("maximum", "live", live | max),
            ("current", "live", live),
        ] {
            let skip = (f & live != 0 && !active) || (f & config != 0 && !info.persistent);
            if !skip {
                rows.push((which, state, count(conn, &target.lookup, f).await?));
            }
        }
        // Collected config first, printed maximum first.
        for key in [
            ("maximum", "config"),
            ("maximum", "live"),
            ("current", "config"),
            ("current", "live"),
        ] {
            if let Some((w, s, n)) = rows.iter().find(|r| (r.0, r.1) == key) {
                if *n > 0 {
                    out.line(&format!("{w:<12} {s:<12} {n:>3}"));
                }
            }
        }
        return Ok(());
    };
    let n = count(conn, &target.lookup, flags).await?;
    out.line(&n.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn f(args: &[&str]) -> Result<Option<u32>, String> {
        let t = T::try_parse_from([&["x", "dom"][..], args].concat()).expect("test input");
        flags(&t.a).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn options_follow_virsh() {
        assert_eq!(f(&[]), Ok(None));
        assert_eq!(f(&["--current"]), Ok(Some(0)));
        assert_eq!(f(&["--current", "--live"]), Ok(Some(1)));
        assert_eq!(f(&["--maximum", "--config"]), Ok(Some(6)));
        assert_eq!(f(&["--guest"]), Ok(Some(8)));
        assert!(f(&["--maximum", "--current", "--live"]).is_err());
        assert!(f(&["--active", "--maximum"]).is_err());
        assert!(f(&["--guest", "--config"]).is_err());
    }
}
