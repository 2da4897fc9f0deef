//! `virt nodeinfo`: host CPU and memory facts as `%-20s %s` lines.

use virt_client::Connection;
use virt_core::proto::GetNodeInfoResponse;

use super::output::Output;
use super::report::{CliError, Context};

/// The text virsh prints for `info`.
pub fn render(info: &GetNodeInfoResponse) -> String {
    let rows = [
        ("CPU model:", info.model.clone()),
        ("CPU(s):", info.cpus.to_string()),
        ("CPU frequency:", format!("{} MHz", info.mhz)),
        ("CPU socket(s):", info.sockets.to_string()),
        ("Core(s) per socket:", info.cores.to_string()),
        ("Thread(s) per core:", info.threads.to_string()),
        ("NUMA cell(s):", info.nodes.to_string()),
        ("Memory size:", format!("{} KiB", info.memory_kib)),
    ];
    rows.iter().map(|(k, v)| format!("{k:<20} {v}\n")).collect()
}

/// Runs `nodeinfo`.
pub async fn run(conn: &Connection, out: &mut Output) -> Result<(), CliError> {
    let info = conn
        .node_info()
        .await
        .context(|| "failed to get node information".into())?;
    out.text(&render(&info));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_virsh_layout() {
        let info = GetNodeInfoResponse {
            model: "i686".into(),
            memory_kib: 3_145_728,
            cpus: 16,
            mhz: 1400,
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
        };
        assert_eq!(
            render(&info),
            "CPU model:           i686\nCPU(s):              16\nCPU frequency:       1400 MHz\n\
             CPU socket(s):       2\nCore(s) per socket:  2\nThread(s) per core:  2\n\
             NUMA cell(s):        2\nMemory size:         3145728 KiB\n"
        );
    }
}
