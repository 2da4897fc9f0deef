//! `virt define FILE [--validate]`: defines a persistent domain from an XML file.

use std::path::Path;

use virt_client::Connection;
use virt_core::proto::DefineDomainFlag;

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `define`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File containing an XML domain description.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Validate the XML against the schema.
    #[arg(long)]
    pub validate: bool,
}

/// Reads a file argument, failing as virsh does: `Failed to open file 'F': <reason>`.
pub fn read_file(path: &str) -> Result<String, CliError> {
    std::fs::read_to_string(Path::new(path)).map_err(|e| {
        let reason = match e.raw_os_error() {
            Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
            None => e.to_string(),
        };
        CliError::msg(format!("Failed to open file '{path}': {reason}"))
    })
}

/// Runs `define`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let xml = read_file(&args.file)?;
    let flags = if args.validate {
        DefineDomainFlag::Validate as u32
    } else {
        0
    };
    let dom = conn
        .define(&xml, flags)
        .await
        .context(|| format!("Failed to define domain from {}", args.file))?;
    out.extra(&format!("Domain '{}' defined from {}", dom.name, args.file));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_reported_with_the_c_error_text() {
        let err = read_file("/nonexistent/dir/x.xml").expect_err("missing");
        assert_eq!(
            err.lines(),
            vec!["Failed to open file '/nonexistent/dir/x.xml': No such file or directory"]
        );
    }
}
