//! `virt nodecpustats [--cpu N] [--percent]`: host CPU time counters, or with `--percent` the
//! share of each over one second (two samples a second apart), as virsh prints them.

use std::time::Duration;

use virt_client::Connection;
use virt_core::proto::NodeCpuStat;

use super::output::Output;
use super::report::{CliError, Context};

/// Options of `nodecpustats`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Prints specified cpu statistics only.
    #[arg(value_name = "CPU")]
    pub cpu: Option<String>,
    /// Prints specified cpu statistics only.
    #[arg(
        long = "cpu",
        value_name = "CPU",
        allow_hyphen_values = true,
        conflicts_with = "cpu"
    )]
    pub cpu_opt: Option<String>,
    /// Prints by percentage during 1 second.
    #[arg(long)]
    pub percent: bool,
}

/// One sample in virsh's order: user, system (kernel), idle, iowait; then utilization.
#[derive(Default, Clone, Copy)]
struct Sample {
    vals: [u64; 4],
    present: [bool; 4],
    util: Option<u64>,
}

const LABELS: [&str; 4] = ["user:", "system:", "idle:", "iowait:"];

fn sample(stats: &[NodeCpuStat]) -> Sample {
    let mut s = Sample::default();
    for st in stats {
        let i = match st.field.as_str() {
            "user" => 0,
            "kernel" => 1,
            "idle" => 2,
            "iowait" => 3,
            "utilization" => {
                s.util = Some(st.value);
                continue;
            }
            _ => continue,
        };
        s.vals[i] = st.value;
        s.present[i] = true;
    }
    s
}

/// `%5.1lf` as glibc prints it, NaN included (0/0 is a negative NaN on x86: `-nan`).
fn pct(v: f64) -> String {
    if v.is_nan() {
        format!("{:>5}", if v.is_sign_negative() { "-nan" } else { "nan" })
    } else if v.is_infinite() {
        format!("{:>5}", if v < 0.0 { "-inf" } else { "inf" })
    } else {
        format!("{v:5.1}")
    }
}

/// The `--percent` text from two samples.
fn render_percent(a: &Sample, b: &Sample) -> String {
    let mut s = String::new();
    if let Some(u) = b.util.or(a.util) {
        let u = u as f64;
        s += &format!("{:<15} {}%\n", "usage:", pct(u));
        s += &format!("{:<15} {}%\n", "idle:", pct(100.0 - u));
        return s;
    }
    let d: Vec<f64> = (0..4)
        .map(|i| b.vals[i].wrapping_sub(a.vals[i]) as f64)
        .collect();
    let total: f64 = d.iter().sum();
    // 0.0 / 0.0 in C on x86 yields the negative NaN virsh prints as `-nan`.
    let div = |x: f64| {
        let r = x / total * 100.0;
        if r.is_nan() {
            -f64::NAN.abs()
        } else {
            r
        }
    };
    s += &format!("{:<15} {}%\n", "usage:", pct(div(d[0] + d[1])));
    for (i, label) in LABELS.iter().enumerate() {
        if b.present[i] {
            s += &format!("{label:<15} {}%\n", pct(div(d[i])));
        }
    }
    s
}

/// Runs `nodecpustats`.
pub async fn run(conn: &Connection, args: &Args, out: &mut Output) -> Result<(), CliError> {
    let cpu = match args.cpu.as_ref().or(args.cpu_opt.as_ref()) {
        None => -1,
        Some(v) => v.parse::<i32>().map_err(|_| {
            CliError::msg(format!(
                "Numeric value '{v}' for <cpu> option is malformed or out of range"
            ))
        })?,
    };
    let get = || async {
        conn.cpu_stats(cpu, 0)
            .await
            .context(|| "Unable to get node cpu stats".into())
    };
    let first = sample(&get().await?);
    if !args.percent {
        let mut s = String::new();
        for (i, label) in LABELS.iter().enumerate() {
            if first.present[i] {
                s += &format!("{label:<15} {:>20}\n", first.vals[i]);
            }
        }
        out.text(&s);
        return Ok(());
    }
    let second = if first.util.is_some() {
        first
    } else {
        tokio::time::sleep(Duration::from_secs(1)).await;
        sample(&get().await?)
    };
    out.text(&render_percent(&first, &second));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_equal_samples_is_negative_nan() {
        let s = Sample {
            vals: [1, 2, 3, 4],
            present: [true; 4],
            util: None,
        };
        let t = render_percent(&s, &s);
        assert!(t.starts_with("usage:           -nan%\n"), "{t}");
        assert!(t.ends_with("iowait:          -nan%\n"), "{t}");
    }

    #[test]
    fn percent_shares() {
        let a = Sample {
            vals: [0, 0, 0, 0],
            present: [true; 4],
            util: None,
        };
        let b = Sample {
            vals: [10, 30, 50, 10],
            present: [true; 4],
            util: None,
        };
        let t = render_percent(&a, &b);
        assert!(
            t.starts_with("usage:           40.0%\nuser:            10.0%\n"),
            "{t}"
        );
    }
}
