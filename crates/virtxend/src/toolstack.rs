//! The toolstack: Xen's own `xl`, run as a program.
//!
//! Why `xl` and not libxl through FFI, as libvirt does: `xl create` leaves a small monitor
//! process per domain (xl's own) that carries out `on_poweroff` / `on_reboot` / `on_crash` and
//! outlives whoever started it, so guests and their lifecycle actions do not depend on this
//! daemon running: it can be killed, restarted or upgraded at any time and reattaches from the
//! Xen Store. libxl's ABI is bound to one Xen release (`libxenlight.so.4.17`) and its event
//! loop would have to live inside the daemon, tying each guest's reboot handling to the
//! daemon's life. The cost is a process per call (a few milliseconds beside what the
//! hypervisor itself takes to build a domain).
//!
//! `VIRT_XL` names the program (default `xl` on `PATH`).

use std::path::PathBuf;
use std::process::Stdio;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::VirtError;

/// The `xl` program.
#[derive(Debug, Clone)]
pub struct Xl {
    program: PathBuf,
}

/// One line of `xl list`.
#[derive(Debug, Clone, PartialEq)]
pub struct XlDomain {
    /// The domain's name.
    pub name: String,
    /// Xen's domain ID.
    pub id: u32,
    /// Memory in MiB.
    pub mem_mib: u64,
    /// vCPUs online.
    pub vcpus: u32,
    /// `r`, `b`, `p`, `s`, `c`, `d` or `-` in six columns.
    pub flags: String,
    /// CPU time in nanoseconds (xl prints seconds with one decimal).
    pub cpu_ns: u64,
}

impl XlDomain {
    /// Paused (`p`).
    pub fn paused(&self) -> bool {
        self.flags.contains('p')
    }

    /// Crashed (`c`), kept by `on_crash = "preserve"`.
    pub fn crashed(&self) -> bool {
        self.flags.contains('c')
    }
}

/// One line of `xl vcpu-list`.
#[derive(Debug, Clone, PartialEq)]
pub struct XlVcpu {
    /// The vCPU number.
    pub vcpu: u32,
    /// `r`, `b`, `p` and `-` flags.
    pub state: String,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
}

impl Xl {
    /// `VIRT_XL`, else `xl` on `PATH`.
    pub fn from_env() -> Xl {
        Xl {
            program: std::env::var_os("VIRT_XL").map_or_else(|| PathBuf::from("xl"), PathBuf::from),
        }
    }

    /// Runs `xl ARGS`; its standard output, or OPERATION_FAILED with what xl said.
    pub async fn run(&self, args: &[&str]) -> DriverResult<String> {
        let out = tokio::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| {
                VirtError::new(
                    ErrorCode::SystemError,
                    ErrorDomain::Libxl,
                    format!("cannot run {}: {e}", self.program.display()),
                )
            })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let said: Vec<&str> = said
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Parsing config"))
                .collect();
            let tail = said[said.len().saturating_sub(4)..].join("; ");
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                ErrorDomain::Libxl,
                format!("xl {} failed ({}): {tail}", args.join(" "), out.status),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `xl list`: every domain Xen runs, Domain-0 included.
    pub async fn list(&self) -> DriverResult<Vec<XlDomain>> {
        Ok(parse_list(&self.run(&["list"]).await?))
    }

    /// `xl vcpu-list DOMID`.
    pub async fn vcpus(&self, domid: u32) -> DriverResult<Vec<XlVcpu>> {
        Ok(parse_vcpu_list(
            &self.run(&["vcpu-list", &domid.to_string()]).await?,
        ))
    }
}

fn seconds_ns(s: &str) -> Option<u64> {
    let v: f64 = s.parse().ok()?;
    (v >= 0.0).then(|| (v * 1e9).round() as u64)
}

/// Parses `xl list` (`Name ID Mem VCPUs State Time(s)`); lines that do not fit are skipped.
pub fn parse_list(text: &str) -> Vec<XlDomain> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // The name may contain spaces: read the five fixed columns from the right.
            let mut cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 6 {
                return None;
            }
            let time = cols.pop()?;
            let flags = cols.pop()?;
            let vcpus = cols.pop()?.parse().ok()?;
            let mem_mib = cols.pop()?.parse().ok()?;
            let id = cols.pop()?.parse().ok()?;
            Some(XlDomain {
                name: cols.join(" "),
                id,
                mem_mib,
                vcpus,
                flags: flags.to_string(),
                cpu_ns: seconds_ns(time)?,
            })
        })
        .collect()
}

/// Parses `xl vcpu-list` (`Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)`).
pub fn parse_vcpu_list(text: &str) -> Vec<XlVcpu> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // Name (no spaces in practice), ID, VCPU, CPU, State, Time, affinities.
            let pos = cols.iter().position(|c| c.parse::<u32>().is_ok())?;
            let vcpu = cols.get(pos + 1)?.parse().ok()?;
            let state = cols.get(pos + 3)?.to_string();
            let cpu_ns = seconds_ns(cols.get(pos + 4)?)?;
            Some(XlVcpu {
                vcpu,
                state,
                cpu_ns,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xl_list_is_read_column_by_column() {
        let text = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
                    Domain-0                                     0   512     1     r-----      12.3\n\
                    tiny                                         3   128     1     -b----       0.4\n\
                    my guest                                     4   128     2     --p---       1.0\n\
                    broken line\n";
        let l = parse_list(text);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].name, "Domain-0");
        assert_eq!(l[0].cpu_ns, 12_300_000_000);
        assert_eq!(l[1].id, 3);
        assert!(!l[1].paused());
        assert_eq!(l[2].name, "my guest");
        assert!(l[2].paused());
        assert_eq!(l[2].vcpus, 2);
    }

    #[test]
    fn xl_vcpu_list_is_read() {
        let text = "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n\
                    tiny                                 3     0    0   -b-       0.5  all / all\n\
                    tiny                                 3     1    -   --p       0.0  all / all\n";
        let v = parse_vcpu_list(text);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].vcpu, 0);
        assert_eq!(v[0].cpu_ns, 500_000_000);
        assert_eq!(v[1].state, "--p");
    }
}
