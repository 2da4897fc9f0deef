//! The host side of virtnetworkd's networks ([`HostBackend`]): persistent definitions in
//! CONFIG/network/NAME.xml with autostart links in CONFIG/network/autostart/ (as libvirt keeps
//! them), live status in RUN/network/NAME.json (written atomically), and starting a network:
//! one `ip -batch -` (bridge, MAC, MTU, addresses, up), the forwarding sysctls, one `nft -f -`
//! (a table of the network's own) and dnsmasq with a generated configuration, everything
//! rolled back when a step fails.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use virt_core::error::{ErrorCode, ErrorDomain, VirtError};
use virt_core::fsutil::write_atomic;
use virt_core::network::manager::{LiveStatus, LoadedNetwork, NetworkBackend, RunInfo};
use virt_core::network::model::{subnets_overlap, ForwardMode, IpDef, NetworkDef};
use virt_core::network::{DhcpLease, NetworkFormat, NetworkXmlCodec};

fn internal(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InternalError, ErrorDomain::Network, detail)
}

fn system(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::SystemError, ErrorDomain::Network, detail)
}

/// Where a network's files are.
#[derive(Debug, Clone)]
pub struct NetPaths {
    /// CONFIG/network.
    pub config: PathBuf,
    /// CONFIG/network/autostart.
    pub autostart: PathBuf,
    /// RUN/network.
    pub run: PathBuf,
}

impl NetPaths {
    /// The directories under a daemon's config and run dirs.
    pub fn new(config_dir: &Path, run_dir: &Path) -> NetPaths {
        let config = config_dir.join("network");
        NetPaths {
            autostart: config.join("autostart"),
            config,
            run: run_dir.join("network"),
        }
    }

    fn file(&self, name: &str, ext: &str) -> PathBuf {
        self.run.join(format!("{name}.{ext}"))
    }
}

/// Live status as stored in RUN/network/NAME.json.
#[derive(Debug, Serialize, Deserialize)]
struct StatusFile {
    xml: String,
    dnsmasq_pid: Option<i32>,
    table: Option<String>,
    ports: Vec<String>,
}

/// The host backend.
pub struct HostBackend {
    paths: NetPaths,
    codec: Arc<dyn NetworkXmlCodec>,
    active: Arc<AtomicUsize>,
    dnsmasq: Option<PathBuf>,
}

/// First of `names` found in PATH or the usual sbin directories.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn run_with_input(prog: &str, args: &[&str], input: &str) -> Result<(), VirtError> {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| system(format!("cannot run {prog}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| system(format!("cannot run {prog}: {e}")))?;
    if !out.status.success() {
        return Err(internal(format!(
            "{prog} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn quiet(prog: &str, args: &[&str]) {
    let _ = Command::new(prog)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether network device `name` exists.
pub fn device_exists(name: &str) -> bool {
    // Asked of the kernel (a socket ioctl in this process's network namespace), not of
    // /sys/class/net, which shows the namespace of whoever mounted sysfs: a daemon started in
    // a namespace of its own without a fresh /sys would see the host's devices there.
    !name.is_empty() && nix::net::if_::if_nametoindex(name).is_ok()
}

/// Whether `pid` is a live (not zombie) process whose command is `comm`.
pub fn process_alive(pid: i32, comm: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "PID (comm) S ...": the state follows the last ')'.
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let name = stat
        .find('(')
        .map(|o| &stat[o + 1..close])
        .unwrap_or_default();
    let state = stat[close + 1..].trim_start().chars().next();
    name == comm && !matches!(state, Some('Z') | Some('X'))
}

/// IPv4 routes of the host (or namespace): (destination, prefix, device) from /proc/net/route.
pub fn host_routes() -> Vec<(IpAddr, u8, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // The kernel prints the network-order word as a little-endian number.
        let dest = std::net::Ipv4Addr::from(dest.swap_bytes());
        let mask = mask.swap_bytes();
        if mask == 0 {
            continue;
        }
        out.push((IpAddr::V4(dest), mask.count_ones() as u8, f[0].to_string()));
    }
    out
}

/// A sanitised nftables table name for network `name`.
pub fn table_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("virtnet_{clean}")
}

fn random_mac() -> String {
    let u = virt_core::uuid::Uuid::random().0;
    format!("52:54:00:{:02x}:{:02x}:{:02x}", u[0], u[1], u[2])
}

/// The nftables ruleset of a started network; `None` when it needs no rules (open, bridge).
pub fn nft_ruleset(def: &NetworkDef, table: &str) -> Option<String> {
    let mode = def.forward.mode;
    if matches!(mode, ForwardMode::Open | ForwardMode::Bridge) {
        return None;
    }
    let br = def.bridge_name()?;
    let out_dev = def
        .forward
        .dev
        .as_deref()
        .map(|d| format!(" oifname \"{d}\""))
        .unwrap_or_default();
    let in_dev = def
        .forward
        .dev
        .as_deref()
        .map(|d| format!(" iifname \"{d}\""))
        .unwrap_or_default();
    let mut fwd = String::new();
    let mut post = String::new();
    for ip in &def.ips {
        let fam = if ip.is_ipv6() { "ip6" } else { "ip" };
        let net = format!("{}/{}", ip.network(), ip.prefix_len());
        match mode {
            ForwardMode::Nat if !ip.is_ipv6() => {
                let _ = writeln!(
                    fwd,
                    "    iifname \"{br}\"{out_dev} {fam} saddr {net} accept\n    oifname \"{br}\"{in_dev} {fam} daddr {net} ct state related,established accept"
                );
                let _ = writeln!(
                    post,
                    "    {fam} saddr {net} {fam} daddr 224.0.0.0/24 return\n    {fam} saddr {net} {fam} daddr 255.255.255.255 return"
                );
                let (lo, hi) = def.forward.nat_ports.unwrap_or((1024, 65535));
                let _ = writeln!(
                    post,
                    "    meta l4proto {{ tcp, udp }} {fam} saddr {net} {fam} daddr != {net}{out_dev} masquerade to :{lo}-{hi}\n    {fam} saddr {net} {fam} daddr != {net}{out_dev} masquerade"
                );
            }
            ForwardMode::Nat | ForwardMode::Route => {
                let _ = writeln!(
                    fwd,
                    "    iifname \"{br}\"{out_dev} {fam} saddr {net} accept\n    oifname \"{br}\"{in_dev} {fam} daddr {net} accept"
                );
            }
            _ => {}
        }
    }
    let mut s = format!("table inet {table} {{\n  chain forward {{\n    type filter hook forward priority 0; policy accept;\n");
    s.push_str(&fwd);
    let _ = writeln!(
        s,
        "    iifname \"{br}\" oifname \"{br}\" accept\n    iifname \"{br}\" reject\n    oifname \"{br}\" reject\n  }}"
    );
    if !post.is_empty() {
        let _ = writeln!(
            s,
            "  chain postrouting {{\n    type nat hook postrouting priority 100; policy accept;\n{post}  }}"
        );
    }
    s.push_str("}\n");
    Some(s)
}

/// The `ip -batch` commands that create and configure the bridge.
pub fn ip_batch(def: &NetworkDef, br: &str) -> String {
    let mut s = format!(
        "link add name {br} type bridge stp_state {} forward_delay {}\n",
        u8::from(def.bridge.stp),
        def.bridge.delay * 100
    );
    if let Some(m) = &def.mac {
        let _ = writeln!(s, "link set dev {br} address {m}");
    }
    if let Some(mtu) = def.mtu {
        let _ = writeln!(s, "link set dev {br} mtu {mtu}");
    }
    for ip in &def.ips {
        let nodad = if ip.is_ipv6() { " nodad" } else { "" };
        let bcast = if ip.is_ipv6() { "" } else { " broadcast +" };
        let _ = writeln!(
            s,
            "addr add {}/{}{bcast} dev {br}{nodad}",
            ip.address,
            ip.prefix_len()
        );
    }
    let _ = writeln!(s, "link set dev {br} up");
    s
}

fn netmask_text(ip: &IpDef) -> String {
    if ip.is_ipv6() {
        ip.prefix_len().to_string()
    } else {
        let p = u32::from(ip.prefix_len());
        let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
        std::net::Ipv4Addr::from(m).to_string()
    }
}

/// Whether a network runs dnsmasq: it has addresses and DNS is not disabled, or it has DHCP.
pub fn needs_dnsmasq(def: &NetworkDef) -> bool {
    def.forward.mode != ForwardMode::Bridge
        && !def.ips.is_empty()
        && (def.dns.enable != Some(false) || def.ips.iter().any(|i| i.dhcp.is_some()))
}

/// dnsmasq's configuration for `def`, after bridge_driver.c's networkDnsmasqConfContents.
pub fn dnsmasq_conf(def: &NetworkDef, paths: &NetPaths) -> String {
    let name = &def.name;
    let br = def.bridge_name().unwrap_or_default();
    let mut s = String::from("## generated by virtnetworkd: changes are overwritten\n");
    s.push_str("strict-order\nuser=root\n");
    let _ = writeln!(s, "pid-file={}", paths.file(name, "pid").display());
    s.push_str("except-interface=lo\nbind-interfaces\n");
    let _ = writeln!(s, "interface={br}");
    if def.dns.enable == Some(false) {
        s.push_str("port=0\n");
    } else {
        s.push_str("no-resolv\n");
        for f in &def.dns.forwarders {
            match (&f.domain, &f.addr) {
                (Some(d), Some(a)) => {
                    let _ = writeln!(s, "server=/{d}/{a}");
                }
                (Some(d), None) => {
                    let _ = writeln!(s, "server=/{d}/#");
                }
                (None, Some(a)) => {
                    let _ = writeln!(s, "server={a}");
                }
                (None, None) => {}
            }
        }
        if let Some(d) = &def.domain {
            if d.local_only == Some(true) {
                let _ = writeln!(s, "local=/{}/", d.name);
            }
            let _ = writeln!(s, "domain={}\nexpand-hosts", d.name);
        }
        for h in &def.dns.hosts {
            for n in &h.hostnames {
                let _ = writeln!(s, "host-record={n},{}", h.ip);
            }
        }
    }
    let mut any_dhcp = false;
    let mut lease_max: u128 = 0;
    for ip in &def.ips {
        let Some(d) = &ip.dhcp else { continue };
        for (a, b) in &d.ranges {
            any_dhcp = true;
            let _ = writeln!(s, "dhcp-range={a},{b},{}", netmask_text(ip));
            lease_max += match (a, b) {
                (IpAddr::V4(x), IpAddr::V4(y)) => u128::from(u32::from(*y) - u32::from(*x) + 1),
                (IpAddr::V6(x), IpAddr::V6(y)) => u128::from(*y) - u128::from(*x) + 1,
                _ => 0,
            };
        }
        for h in &d.hosts {
            let mut parts = Vec::new();
            if let Some(m) = &h.mac {
                parts.push(m.clone());
            }
            if let Some(id) = &h.id {
                parts.push(format!("id:{id}"));
            }
            if let Some(ip) = &h.ip {
                parts.push(if ip.is_ipv6() {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                });
            }
            if let Some(n) = &h.name {
                parts.push(n.clone());
            }
            if !parts.is_empty() {
                any_dhcp = true;
                let _ = writeln!(s, "dhcp-host={}", parts.join(","));
            }
        }
        if let Some((file, server)) = &d.bootp {
            match server {
                Some(sv) => {
                    let _ = writeln!(s, "dhcp-boot={file},,{sv}");
                }
                None => {
                    let _ = writeln!(s, "dhcp-boot={file}");
                }
            }
        }
        if ip.is_ipv6() {
            s.push_str("enable-ra\n");
        }
    }
    if any_dhcp {
        s.push_str("dhcp-no-override\ndhcp-authoritative\n");
        let _ = writeln!(s, "dhcp-lease-max={}", lease_max.clamp(1, 1_000_000));
        let _ = writeln!(s, "dhcp-leasefile={}", paths.file(name, "leases").display());
    }
    s
}

/// Parses dnsmasq's lease file into leases of `def` (on bridge `iface`).
pub fn parse_leases(text: &str, def: &NetworkDef, iface: &str) -> Vec<DhcpLease> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[0] == "duid" {
            continue;
        }
        let Ok(expiry) = f[0].parse::<i64>() else {
            continue;
        };
        let Ok(ip) = f[2].parse::<IpAddr>() else {
            continue;
        };
        let prefix = def
            .ips
            .iter()
            .find(|i| i.contains(ip))
            .map_or(0, |i| u32::from(i.prefix_len()));
        let hostname = if f[3] == "*" { "" } else { f[3] };
        let clientid = f.get(4).filter(|c| **c != "*").copied().unwrap_or("");
        let v6 = ip.is_ipv6();
        out.push(DhcpLease {
            iface: iface.to_string(),
            expiry_time: expiry,
            r#type: i32::from(v6),
            mac: if v6 { String::new() } else { f[1].to_string() },
            iaid: if v6 { f[1].to_string() } else { String::new() },
            ipaddr: ip.to_string(),
            prefix,
            hostname: hostname.to_string(),
            clientid: clientid.to_string(),
        });
    }
    out
}

impl HostBackend {
    /// A backend keeping files under `paths`.
    pub fn new(paths: NetPaths, codec: Arc<dyn NetworkXmlCodec>) -> HostBackend {
        HostBackend {
            paths,
            codec,
            active: Arc::new(AtomicUsize::new(0)),
            // VIRT_DNSMASQ names another binary (tests use it to check the error when there
            // is none).
            dnsmasq: match std::env::var_os("VIRT_DNSMASQ") {
                Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
                None => find_program("dnsmasq"),
            },
        }
    }

    /// The count of active networks (for the daemon's idle check).
    pub fn active_count(&self) -> Arc<AtomicUsize> {
        self.active.clone()
    }

    /// The paths.
    pub fn paths(&self) -> &NetPaths {
        &self.paths
    }

    fn config_file(&self, name: &str) -> PathBuf {
        self.paths.config.join(format!("{name}.xml"))
    }

    fn autostart_link(&self, name: &str) -> PathBuf {
        self.paths.autostart.join(format!("{name}.xml"))
    }

    /// Reads definitions, autostart marks and live status; a live network whose bridge is gone
    /// or whose dnsmasq died is cleaned up and reported inactive.
    pub fn load(&self) -> Vec<LoadedNetwork> {
        let mut by_name: std::collections::BTreeMap<String, LoadedNetwork> = Default::default();
        if let Ok(dir) = std::fs::read_dir(&self.paths.config) {
            for e in dir.flatten() {
                let p = e.path();
                if p.extension().is_none_or(|x| x != "xml") {
                    continue;
                }
                match std::fs::read_to_string(&p)
                    .map_err(|e| internal(e.to_string()))
                    .and_then(|t| self.codec.parse_network(&t))
                {
                    Ok(def) => {
                        let autostart = self.autostart_link(&def.name).exists();
                        by_name.insert(
                            def.name.clone(),
                            LoadedNetwork {
                                config: Some(def),
                                autostart,
                                live: None,
                            },
                        );
                    }
                    Err(err) => {
                        tracing::warn!(file = %p.display(), error = %err.message(), "skipping network definition")
                    }
                }
            }
        }
        if let Ok(dir) = std::fs::read_dir(&self.paths.run) {
            for e in dir.flatten() {
                let p = e.path();
                if p.extension().is_none_or(|x| x != "json") {
                    continue;
                }
                let Some(live) = self.read_status(&p) else {
                    continue;
                };
                let name = live.def.name.clone();
                let br = live.def.bridge_name().unwrap_or_default().to_string();
                let bridge_ok = live.def.forward.mode == ForwardMode::Bridge || device_exists(&br);
                let dns_ok = live
                    .run
                    .dnsmasq_pid
                    .is_none_or(|pid| process_alive(pid, "dnsmasq"));
                if bridge_ok && dns_ok {
                    tracing::info!(network = %name, "reattached to running network");
                    self.active.fetch_add(1, Ordering::SeqCst);
                    by_name
                        .entry(name)
                        .or_insert(LoadedNetwork {
                            config: None,
                            autostart: false,
                            live: None,
                        })
                        .live = Some(live);
                } else {
                    tracing::warn!(network = %name, "network found dead at start; cleaning up");
                    self.teardown(&live.def, &live.run);
                    self.delete_status_files(&name);
                }
            }
        }
        by_name.into_values().collect()
    }

    fn read_status(&self, p: &Path) -> Option<LiveStatus> {
        let text = std::fs::read_to_string(p).ok()?;
        let st: StatusFile = serde_json::from_str(&text).ok()?;
        let def = self.codec.parse_network(&st.xml).ok()?;
        let ports = st
            .ports
            .iter()
            .filter_map(|x| self.codec.parse_port(x).ok())
            .collect();
        Some(LiveStatus {
            def,
            run: RunInfo {
                dnsmasq_pid: st.dnsmasq_pid,
                table: st.table,
            },
            ports,
        })
    }

    fn teardown(&self, def: &NetworkDef, run: &RunInfo) {
        if let Some(pid) = run.dnsmasq_pid {
            if process_alive(pid, "dnsmasq") {
                let p = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
                for _ in 0..100 {
                    if !process_alive(pid, "dnsmasq") {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
        if let Some(t) = &run.table {
            quiet("nft", &["delete", "table", "inet", t]);
        }
        if def.forward.mode != ForwardMode::Bridge {
            if let Some(br) = def.bridge_name() {
                if device_exists(br) {
                    quiet("ip", &["link", "del", "dev", br]);
                }
            }
        }
        let _ = std::fs::remove_file(self.paths.file(&def.name, "conf"));
        let _ = std::fs::remove_file(self.paths.file(&def.name, "pid"));
    }

    fn delete_status_files(&self, name: &str) {
        let _ = std::fs::remove_file(self.paths.file(name, "json"));
    }

    fn check_collisions(&self, def: &NetworkDef, active: &[NetworkDef]) -> Result<(), VirtError> {
        for ip in &def.ips {
            for other in active {
                for oip in &other.ips {
                    if subnets_overlap(ip.address, ip.prefix_len(), oip.address, oip.prefix_len()) {
                        return Err(internal(format!(
                            "Network is already in use by network '{}' ({}/{})",
                            other.name,
                            oip.network(),
                            oip.prefix_len()
                        )));
                    }
                }
            }
            for (dest, prefix, dev) in host_routes() {
                if subnets_overlap(ip.address, ip.prefix_len(), dest, prefix) {
                    return Err(internal(format!(
                        "Network is already in use by interface {dev}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn start_dnsmasq(&self, def: &NetworkDef) -> Result<Option<i32>, VirtError> {
        if !needs_dnsmasq(def) {
            return Ok(None);
        }
        let Some(bin) = self.dnsmasq.clone() else {
            return Err(internal(
                "Cannot check dnsmasq binary dnsmasq: No such file or directory",
            ));
        };
        let conf = self.paths.file(&def.name, "conf");
        let pidf = self.paths.file(&def.name, "pid");
        let _ = std::fs::remove_file(&pidf);
        write_atomic(&conf, dnsmasq_conf(def, &self.paths).as_bytes(), 0o600)
            .map_err(|e| system(format!("cannot write {}: {e}", conf.display())))?;
        let out = Command::new(&bin)
            .arg(format!("--conf-file={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| system(format!("cannot run {}: {e}", bin.display())))?;
        if !out.status.success() {
            return Err(internal(format!(
                "dnsmasq failed to start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let pid = std::fs::read_to_string(&pidf)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .ok_or_else(|| internal("dnsmasq wrote no pid file"))?;
        Ok(Some(pid))
    }

    fn set_forwarding(def: &NetworkDef) -> Result<(), VirtError> {
        if !matches!(def.forward.mode, ForwardMode::Nat | ForwardMode::Route) {
            return Ok(());
        }
        let mut files = vec!["/proc/sys/net/ipv4/ip_forward"];
        if def.ips.iter().any(IpDef::is_ipv6) {
            files.push("/proc/sys/net/ipv6/conf/all/forwarding");
        }
        for f in files {
            std::fs::write(f, "1\n")
                .map_err(|e| system(format!("cannot enable forwarding ({f}): {e}")))?;
        }
        Ok(())
    }
}

impl NetworkBackend for HostBackend {
    fn prepare_define(
        &self,
        def: &mut NetworkDef,
        others: &[&NetworkDef],
    ) -> Result<(), VirtError> {
        let v4_dhcp = def
            .ips
            .iter()
            .filter(|i| {
                !i.is_ipv6()
                    && i.dhcp
                        .as_ref()
                        .is_some_and(|d| !d.ranges.is_empty() || !d.hosts.is_empty())
            })
            .count();
        if v4_dhcp > 1 {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Network,
                "multiple IPv4 dhcp sections found -- dhcp is supported only for a single IPv4 address on each network",
            ));
        }
        if !def.forward.mode.managed_bridge() {
            return Ok(());
        }
        let taken = |n: &str| others.iter().any(|o| o.bridge_name() == Some(n));
        match def.bridge_name() {
            Some(n) if taken(n) => {
                return Err(internal(format!("bridge name '{n}' already in use.")));
            }
            Some(_) => {}
            None => {
                let n = (0..256)
                    .map(|i| format!("virbr{i}"))
                    .find(|n| !taken(n) && !device_exists(n))
                    .ok_or_else(|| internal("no free bridge name virbrN"))?;
                def.bridge.name = Some(n);
            }
        }
        if def.mac.is_none() {
            def.mac = Some(random_mac());
        }
        Ok(())
    }

    fn start(&self, def: &NetworkDef, active: &[NetworkDef]) -> Result<RunInfo, VirtError> {
        std::fs::create_dir_all(&self.paths.run)
            .map_err(|e| system(format!("cannot create {}: {e}", self.paths.run.display())))?;
        if def.forward.mode == ForwardMode::Bridge {
            let br = def.bridge_name().unwrap_or_default();
            if !device_exists(br) {
                return Err(internal(format!("host bridge '{br}' does not exist")));
            }
            self.active.fetch_add(1, Ordering::SeqCst);
            return Ok(RunInfo::default());
        }
        let br = def
            .bridge_name()
            .ok_or_else(|| internal(format!("network '{}' has no bridge name", def.name)))?
            .to_string();
        if let Some(o) = active.iter().find(|o| o.bridge_name() == Some(br.as_str())) {
            return Err(internal(format!(
                "bridge name '{br}' already in use by network '{}'",
                o.name
            )));
        }
        if device_exists(&br) {
            return Err(internal(format!("bridge name '{br}' already in use.")));
        }
        self.check_collisions(def, active)?;
        if needs_dnsmasq(def) && self.dnsmasq.is_none() {
            return Err(internal(
                "Cannot check dnsmasq binary dnsmasq: No such file or directory",
            ));
        }
        let mut run = RunInfo::default();
        let result = (|| -> Result<(), VirtError> {
            run_with_input("ip", &["-batch", "-"], &ip_batch(def, &br))?;
            Self::set_forwarding(def)?;
            let table = table_name(&def.name);
            if let Some(rules) = nft_ruleset(def, &table) {
                quiet("nft", &["delete", "table", "inet", &table]);
                run_with_input("nft", &["-f", "-"], &rules)?;
                run.table = Some(table);
            }
            run.dnsmasq_pid = self.start_dnsmasq(def)?;
            Ok(())
        })();
        if let Err(e) = result {
            // The bridge may exist even when `ip -batch` failed half-way.
            self.teardown(def, &run);
            return Err(e);
        }
        self.active.fetch_add(1, Ordering::SeqCst);
        Ok(run)
    }

    fn stop(&self, def: &NetworkDef, run: &RunInfo) {
        self.teardown(def, run);
        let _ = self
            .active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    fn leases(&self, def: &NetworkDef, _run: &RunInfo) -> Result<Vec<DhcpLease>, VirtError> {
        let text =
            std::fs::read_to_string(self.paths.file(&def.name, "leases")).unwrap_or_default();
        Ok(parse_leases(
            &text,
            def,
            def.bridge_name().unwrap_or_default(),
        ))
    }

    fn save_config(&self, def: &NetworkDef) -> Result<(), VirtError> {
        std::fs::create_dir_all(&self.paths.config).map_err(|e| {
            system(format!(
                "cannot create {}: {e}",
                self.paths.config.display()
            ))
        })?;
        let xml = self.codec.format_network(def, NetworkFormat::default());
        let p = self.config_file(&def.name);
        write_atomic(&p, xml.as_bytes(), 0o600)
            .map_err(|e| system(format!("cannot write {}: {e}", p.display())))
    }

    fn delete_config(&self, name: &str) -> Result<(), VirtError> {
        let _ = std::fs::remove_file(self.autostart_link(name));
        match std::fs::remove_file(self.config_file(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(system(format!(
                "cannot remove config for network '{name}': {e}"
            ))),
        }
    }

    fn set_autostart(&self, name: &str, on: bool) -> Result<(), VirtError> {
        let link = self.autostart_link(name);
        if on {
            std::fs::create_dir_all(&self.paths.autostart)
                .map_err(|e| system(format!("cannot create autostart directory: {e}")))?;
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(self.config_file(name), &link).map_err(|e| {
                system(format!(
                    "Failed to create symlink '{}': {e}",
                    link.display()
                ))
            })
        } else {
            match std::fs::remove_file(&link) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(system(format!(
                    "Failed to delete symlink '{}': {e}",
                    link.display()
                ))),
            }
        }
    }

    fn save_status(&self, status: &LiveStatus) -> Result<(), VirtError> {
        let st = StatusFile {
            xml: self
                .codec
                .format_network(&status.def, NetworkFormat::default()),
            dnsmasq_pid: status.run.dnsmasq_pid,
            table: status.run.table.clone(),
            ports: status
                .ports
                .iter()
                .map(|p| self.codec.format_port(p))
                .collect(),
        };
        let text = serde_json::to_string_pretty(&st)
            .map_err(|e| internal(format!("cannot encode status: {e}")))?;
        std::fs::create_dir_all(&self.paths.run)
            .map_err(|e| system(format!("cannot create {}: {e}", self.paths.run.display())))?;
        let p = self.paths.file(&status.def.name, "json");
        write_atomic(&p, text.as_bytes(), 0o600)
            .map_err(|e| system(format!("cannot write {}: {e}", p.display())))
    }

    fn delete_status(&self, name: &str) {
        self.delete_status_files(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_xml::LibvirtXml;

    fn def(xml: &str) -> NetworkDef {
        LibvirtXml.parse_network(xml).expect("parses")
    }

    #[test]
    fn nat_rules_masquerade_the_subnet_and_guard_the_bridge() {
        let d = def(
            "<network><name>n</name><forward mode='nat'/><bridge name='vb1'/>\
                     <ip address='10.9.0.1' prefix='24'/></network>",
        );
        let r = nft_ruleset(&d, "virtnet_n").expect("rules");
        assert!(
            r.contains("ip saddr 10.9.0.0/24 ip daddr != 10.9.0.0/24 masquerade"),
            "{r}"
        );
        assert!(r.contains("iifname \"vb1\" reject"));
        let iso = def("<network><name>i</name><bridge name='vb2'/><ip address='10.8.0.1' prefix='24'/></network>");
        let r = nft_ruleset(&iso, "t").expect("rules");
        assert!(!r.contains("masquerade") && !r.contains("saddr"), "{r}");
        let open =
            def("<network><name>o</name><forward mode='open'/><bridge name='vb3'/></network>");
        assert!(nft_ruleset(&open, "t").is_none());
    }

    #[test]
    fn dnsmasq_conf_has_range_hosts_and_leasefile() {
        let d = def("<network><name>n</name><bridge name='vb1'/><domain name='ex.org'/>\
                     <dns><host ip='10.9.0.7'><hostname>web</hostname></host></dns>\
                     <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.19'/>\
                     <host mac='52:54:00:00:00:01' name='h1' ip='10.9.0.5'/></dhcp></ip></network>");
        let p = NetPaths::new(Path::new("/c"), Path::new("/r"));
        let c = dnsmasq_conf(&d, &p);
        for want in [
            "interface=vb1\n",
            "bind-interfaces\n",
            "dhcp-range=10.9.0.10,10.9.0.19,255.255.255.0\n",
            "dhcp-host=52:54:00:00:00:01,10.9.0.5,h1\n",
            "host-record=web,10.9.0.7\n",
            "domain=ex.org\n",
            "dhcp-lease-max=10\n",
            "dhcp-leasefile=/r/network/n.leases\n",
            "pid-file=/r/network/n.pid\n",
        ] {
            assert!(c.contains(want), "missing {want:?} in\n{c}");
        }
    }

    #[test]
    fn lease_file_lines_become_leases() {
        let d = def("<network><name>n</name><bridge name='vb1'/><ip address='10.9.0.1' prefix='24'/></network>");
        let l = parse_leases(
            "1765000000 02:00:00:00:00:01 10.9.0.12 client1 01:02:00:00:00:00:01\n\
             1765000001 02:00:00:00:00:02 10.9.0.13 * *\n",
            &d,
            "vb1",
        );
        assert_eq!(l.len(), 2);
        assert_eq!(
            (
                l[0].expiry_time,
                l[0].mac.as_str(),
                l[0].ipaddr.as_str(),
                l[0].prefix
            ),
            (1765000000, "02:00:00:00:00:01", "10.9.0.12", 24)
        );
        assert_eq!(
            (
                l[0].hostname.as_str(),
                l[1].hostname.as_str(),
                l[1].clientid.as_str()
            ),
            ("client1", "", "")
        );
    }

    #[test]
    fn batch_creates_configures_and_raises_the_bridge() {
        let d = def(
            "<network><name>n</name><bridge name='vb1'/><mac address='52:54:00:aa:bb:cc'/>\
                     <mtu size='1400'/><ip address='10.9.0.1' prefix='24'/>\
                     <ip family='ipv6' address='fd00::1' prefix='64'/></network>",
        );
        assert_eq!(
            ip_batch(&d, "vb1"),
            "link add name vb1 type bridge stp_state 1 forward_delay 0\n\
             link set dev vb1 address 52:54:00:aa:bb:cc\n\
             link set dev vb1 mtu 1400\n\
             addr add 10.9.0.1/24 broadcast + dev vb1\n\
             addr add fd00::1/64 dev vb1 nodad\n\
             link set dev vb1 up\n"
        );
    }
}
