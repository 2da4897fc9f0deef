//! `virt maxvcpus [--type TYPE]`: the most vCPUs a guest of a virt type may have.

use virt_client::Connection;

use super::output::Output;
use super::report::CliError;

/// Options of `maxvcpus`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Domain type.
    #[arg(value_name = "TYPE")]
    pub virt_type: Option<String>,
    /// Domain type.
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "virt_type")]
    pub type_opt: Option<String>,
}

/// Runs `maxvcpus`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let ty = args.virt_type.as_ref().or(args.type_opt.as_ref());
    let n = conn.max_vcpus(ty.map_or("", |s| s.as_str())).await?;
    out.line(&n.to_string());
    Ok(())
}
