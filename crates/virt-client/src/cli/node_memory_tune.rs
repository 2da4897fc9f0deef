//! `virt node-memory-tune [--shm-pages-to-scan N] [--shm-sleep-millisecs N]
//! [--shm-merge-across-nodes N]`: prints the host's shared memory (KSM) tunables, or changes
//! those given.

use virt_client::Connection;
use virt_core::proto::{typed_parameter::Value, TypedParameter};

use super::cpu_xml::unsigned;
use super::output::Output;
use super::report::{CliError, Context};

/// Options of `node-memory-tune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of pages to scan before the shared memory service goes to sleep.
    #[arg(long, allow_hyphen_values = true)]
    pub shm_pages_to_scan: Option<String>,
    /// Number of millisecs the shared memory service should sleep before next scan.
    #[arg(long, allow_hyphen_values = true)]
    pub shm_sleep_millisecs: Option<String>,
    /// Specifies if pages from different numa nodes can be merged.
    #[arg(long, allow_hyphen_values = true)]
    pub shm_merge_across_nodes: Option<String>,
}

/// A typed parameter's value as virsh's vshGetTypedParamValue prints it.
pub fn param_text(p: &TypedParameter) -> String {
    match &p.value {
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::Uint(v)) => v.to_string(),
        Some(Value::Llong(v)) => v.to_string(),
        Some(Value::Ullong(v)) => v.to_string(),
        Some(Value::Double(v)) => format!("{v:.6}"),
        Some(Value::Boolean(v)) => if *v { "yes" } else { "no" }.to_string(),
        Some(Value::String(v)) => v.clone(),
        None => "unimplemented parameter type".to_string(),
    }
}

/// Runs `node-memory-tune`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let mut params = Vec::new();
    for (text, option, field) in [
        (
            &args.shm_pages_to_scan,
            "shm-pages-to-scan",
            "shm_pages_to_scan",
        ),
        (
            &args.shm_sleep_millisecs,
            "shm-sleep-millisecs",
            "shm_sleep_millisecs",
        ),
        (
            &args.shm_merge_across_nodes,
            "shm-merge-across-nodes",
            "shm_merge_across_nodes",
        ),
    ] {
        if let Some(t) = text {
            let v: u32 = unsigned(t, option)?;
            params.push(TypedParameter {
                field: field.into(),
                value: Some(Value::Uint(v)),
            });
        }
    }
    if !params.is_empty() {
        conn.set_node_memory_parameters(params, 0)
            .await
            .context(|| "Unable to change memory parameters".into())?;
        return Ok(());
    }
    let params = conn
        .node_memory_parameters(0)
        .await
        .context(|| "Unable to get number of memory parameters".into())?;
    if params.is_empty() {
        return Ok(());
    }
    let mut text = String::from("Shared memory:\n");
    for p in &params {
        text.push_str(&format!("\t{:<15} {}\n", p.field, param_text(p)));
    }
    out.text(&text);
    Ok(())
}
