//! virsh's `--verbose` progress of a long job (virshWatchJob / virshPrintJobProgress):
//! while the call runs, every 500 ms the job's data remaining against its total as
//! `\rLABEL: [ NN %]` on standard error, and `[100 %]` once the call succeeded.

use std::future::Future;
use std::time::Duration;

use virt_client::{ClientError, Connection};
use virt_core::types::DomainLookup;

/// virshPrintJobProgress.
fn print(label: &str, remaining: u64, total: u64) {
    if total == 0 {
        return;
    }
    let progress = if remaining == 0 {
        100
    } else {
        let p = 100u128.saturating_sub(u128::from(remaining) * 100 / u128::from(total));
        p.min(99) as u32
    };
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    eprint!("\r{label}: [{progress:3} %]");
    let _ = std::io::stderr().flush();
}

/// Runs `call`, reporting the domain's job progress when `verbose`.
pub async fn watch<T>(
    conn: &Connection,
    lookup: &DomainLookup,
    label: &str,
    verbose: bool,
    call: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    if !verbose {
        return call.await;
    }
    tokio::pin!(call);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.tick().await;
    loop {
        tokio::select! {
            r = &mut call => {
                if r.is_ok() {
                    print(label, 0, 1);
                }
                return r;
            }
            _ = tick.tick() => {
                if let Ok(j) = conn.job_info(lookup).await {
                    print(label, j.data_remaining, j.data_total);
                }
            }
        }
    }
}
