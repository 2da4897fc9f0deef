//! `virt net-dhcp-leases NETWORK [--mac MAC]`: virsh's lease table, sorted by MAC, expiry in
//! local time.

use virt_client::{ClientError, Connection};
use virt_core::proto::{DhcpLease, GetDhcpLeasesRequest, IpAddrType};

use super::net_common::{by_uuid, resolve, NetArg};
use super::output::Output;
use super::report::{CliError, Context};
use super::table::Table;

/// Options of `net-dhcp-leases`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The network.
    #[command(flatten)]
    pub network: NetArg,
    /// MAC address.
    #[arg(long)]
    pub mac: Option<String>,
}

/// `secs` since the epoch as local `%Y-%m-%d %H:%M:%S`.
pub fn local_time(secs: i64) -> String {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return secs.to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// The table for `leases`.
pub fn render(leases: &[DhcpLease], quiet: bool) -> String {
    let mut sorted: Vec<&DhcpLease> = leases.iter().collect();
    sorted.sort_by_key(|l| l.mac.to_lowercase());
    let mut t = Table::new(&[
        "Expiry Time",
        "MAC address",
        "Protocol",
        "IP address",
        "Hostname",
        "Client ID or DUID",
    ]);
    for l in sorted {
        let proto = if l.r#type == IpAddrType::Ipv6 as i32 {
            "ipv6"
        } else {
            "ipv4"
        };
        t.row(vec![
            local_time(l.expiry_time),
            dash(&l.mac),
            proto.into(),
            format!("{}/{}", l.ipaddr, l.prefix),
            dash(&l.hostname),
            dash(&l.clientid),
        ]);
    }
    t.render(quiet)
}

/// Runs `net-dhcp-leases`.
pub async fn run(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let arg = a.network.get();
    let net = resolve(conn, arg).await?;
    let req = GetDhcpLeasesRequest {
        network: Some(by_uuid(&net)),
        mac: a.mac.clone(),
        flags: 0,
    };
    let leases = conn
        .network_client()
        .get_dhcp_leases(req)
        .await
        .map_err(ClientError::from)
        .context(|| format!("Failed to get leases info for {arg}"))?
        .into_inner()
        .leases;
    let quiet = out.quiet();
    out.text(&render(&leases, quiet));
    Ok(())
}
