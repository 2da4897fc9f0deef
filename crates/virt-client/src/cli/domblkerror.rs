//! `virt domblkerror DOMAIN`: the I/O error state of the domain's disks.

use virt_client::Connection;
use virt_core::proto::DiskError;

use super::dom::{resolve, ANY};
use super::domcontrol::Args;
use super::output::Output;
use super::report::CliError;

/// virsh's lines for the disks' errors.
pub fn render(errors: &[DiskError]) -> String {
    if errors.is_empty() {
        return "No errors found\n".to_string();
    }
    errors
        .iter()
        .map(|e| {
            let text = match e.error {
                0 => "no error",
                1 => "unspecified error",
                2 => "no space",
                _ => "unknown error",
            };
            format!("{}: {text}\n", e.disk)
        })
        .collect()
}

/// Runs `domblkerror`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let target = resolve(conn, args.domain.get(), ANY).await?;
    let errors = conn.disk_errors(&target.lookup, 0).await?;
    out.text(&render(&errors));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_virsh() {
        assert_eq!(render(&[]), "No errors found\n");
        let e = |disk: &str, error| DiskError {
            disk: disk.into(),
            error,
        };
        assert_eq!(
            render(&[e("vda", 1), e("vdb", 2), e("hdc", 0), e("hdd", 7)]),
            "vda: unspecified error\nvdb: no space\nhdc: no error\nhdd: unknown error\n"
        );
    }
}
