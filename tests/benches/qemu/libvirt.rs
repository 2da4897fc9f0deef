//! libvirt's side: libvirt 9.0's daemon (`libvirtd`) and its QEMU driver at `qemu:///system`,
//! driven through libvirt's own Rust binding (the `virt` crate over libvirt.so, whose remote
//! driver speaks libvirt's RPC on `/run/libvirt/libvirt-sock`).
//!
//! `/work/shared/tools/libvirt-anchor.sh` runs first (as root; idempotent): it installs
//! libvirt's packages and starts virtlogd and libvirtd when they are missing. The daemon is
//! shared with whatever else uses it on this machine: only domains named [`PREFIX`] are ever
//! touched, destroyed and undefined before and after.

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Instant;

use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::enumutil::Enum;
use virt::stream::Stream;
use virt::sys;

use crate::{measure, Backend, Plan, Results, Watch, PREFIX};

/// libvirt's QEMU driver, system instance.
const URI: &str = "qemu:///system";
/// Installs and starts libvirt's daemon when missing.
const ANCHOR: &str = "/work/shared/tools/libvirt-anchor.sh";
/// Where libvirtd writes its process ID.
const PIDFILE: &str = "/run/libvirtd.pid";
/// Threads destroying domains at once while cleaning up (each destroy waits for its QEMU).
const CLEANUP_THREADS: usize = 8;

/// Measures every figure of `plan` against libvirt's daemon; `Err` says why it cannot.
pub fn run(plan: &Plan) -> Result<Results, String> {
    anchor()?;
    let conn = Connect::open(Some(URI))
        .map_err(|e| format!("libvirt's daemon is not reachable at {URI}: {e}"))?;
    let version = conn.lib_version().unwrap_or(0);
    eprintln!(
        "  libvirt {}.{}.{} at {URI}, libvirtd pid {:?}",
        version / 1_000_000,
        version / 1000 % 1000,
        version % 1000,
        libvirtd_pid()
    );
    measure::run(plan, &mut Libvirt { conn })
}

/// Runs the anchor script when it exists and we are root; its failure is libvirt's column
/// missing, not the benchmark failing.
fn anchor() -> Result<(), String> {
    if !Path::new(ANCHOR).is_file() || !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let out = Command::new(ANCHOR)
        .output()
        .map_err(|e| format!("cannot run {ANCHOR}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{ANCHOR} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// libvirtd's process ID from its pidfile, when that process is a live libvirtd.
fn libvirtd_pid() -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(PIDFILE).ok()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "libvirtd" && crate::rss_kib(pid).is_some()).then_some(pid)
}

struct Libvirt {
    conn: Connect,
}

impl Libvirt {
    fn domain(&self, name: &str) -> Result<Domain, String> {
        self.conn
            .lookup_domain_by_name(name)
            .map_err(|e| format!("libvirt: lookup {name}: {e}"))
    }
}

/// Maps a binding error to a message naming the call and the domain.
fn err(what: &str, name: &str) -> impl Fn(virt::error::Error) -> String {
    let (what, name) = (what.to_string(), name.to_string());
    move |e| format!("libvirt: {what} {name}: {e}")
}

impl Backend for Libvirt {
    fn define(&mut self, xml: &str) -> Result<(), String> {
        self.conn
            .define_domain_xml(xml)
            .map(drop)
            .map_err(err("define", ""))
    }

    fn start(&mut self, name: &str) -> Result<(), String> {
        self.domain(name)?.create().map_err(err("start", name))
    }

    fn destroy(&mut self, name: &str) -> Result<(), String> {
        self.domain(name)?.destroy().map_err(err("destroy", name))
    }

    fn shutdown(&mut self, name: &str) -> Result<(), String> {
        self.domain(name)?.shutdown().map_err(err("shutdown", name))
    }

    fn is_shutoff(&mut self, name: &str) -> Result<bool, String> {
        let (state, _) = self.domain(name)?.state().map_err(err("state of", name))?;
        Ok(matches!(state, Enum::Known(DomainState::Shutoff)))
    }

    fn all_stats(&mut self) -> Result<(usize, usize), String> {
        all_stats(&self.conn)
    }

    fn daemon_pid(&self) -> Option<i32> {
        libvirtd_pid()
    }

    fn watch_console(&mut self, name: &str, marker: &'static str) -> Watch {
        let (tx, rx) = mpsc::channel();
        let name = name.to_string();
        std::thread::spawn(move || {
            let _ = tx.send(read_until(&name, marker));
        });
        rx
    }

    fn remove_bench_domains(&mut self) -> Result<usize, String> {
        let all = self
            .conn
            .list_all_domains(0)
            .map_err(err("list domains", ""))?;
        let mut ours = Vec::new();
        for d in all {
            if d.name().is_ok_and(|n| n.starts_with(PREFIX)) {
                ours.push(d);
            }
        }
        let active: Vec<String> = ours
            .iter()
            .filter(|d| d.is_active().unwrap_or(true))
            .filter_map(|d| d.name().ok())
            .collect();
        destroy_all(&active)?;
        for d in &ours {
            // UEFI guests keep an NVRAM file, which a plain undefine refuses to leave behind.
            d.undefine_flags(virt::sys::VIR_DOMAIN_UNDEFINE_NVRAM)
                .map_err(err("undefine", ""))?;
        }
        Ok(ours.len())
    }
}

/// Destroys `names` from a few threads, each on its own connection.
fn destroy_all(names: &[String]) -> Result<(), String> {
    let chunk = names.len().div_ceil(CLEANUP_THREADS).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> Result<(), String> {
                    let conn = Connect::open(Some(URI)).map_err(err("connect", URI))?;
                    for n in part {
                        let d = conn.lookup_domain_by_name(n).map_err(err("lookup", n))?;
                        d.destroy().map_err(err("destroy", n))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("destroy thread"))
    })
}

/// virConnectGetAllDomainStats(stats = 0: every group, flags = 0): (records, parameters).
/// The records are freed as a C client frees them (the binding's `all_domain_stats` would
/// leak them).
fn all_stats(conn: &Connect) -> Result<(usize, usize), String> {
    let mut records: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: `conn` stays open for the call; on success libvirt stores in `records` a
    // NULL-terminated array it allocated, freed below with libvirt's own function.
    let n = unsafe { sys::virConnectGetAllDomainStats(conn.as_ptr(), 0, &mut records, 0) };
    if n < 0 {
        return Err(format!(
            "libvirt: virConnectGetAllDomainStats: {}",
            virt::error::Error::last_error()
        ));
    }
    let mut params = 0;
    for i in 0..n as usize {
        // SAFETY: the array holds `n` valid record pointers before its NULL terminator.
        let nparams = unsafe { (**records.add(i)).nparams };
        params += usize::try_from(nparams).unwrap_or(0);
    }
    // SAFETY: `records` came from the successful call above and is freed exactly once.
    unsafe { sys::virDomainStatsRecordListFree(records) };
    Ok((n as usize, params))
}

/// Reads `name`'s console on a connection of its own (a blocking stream) until `marker`
/// shows; answers when.
fn read_until(name: &str, marker: &str) -> Result<Instant, String> {
    let conn = Connect::open(Some(URI)).map_err(err("connect", URI))?;
    let dom = conn
        .lookup_domain_by_name(name)
        .map_err(err("lookup", name))?;
    let stream = Stream::new(&conn, 0).map_err(err("new stream for", name))?;
    dom.open_console(None, &stream, 0)
        .map_err(err("open console of", name))?;
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let result = loop {
        match stream.recv(&mut buf) {
            Ok(n) if n > 0 => {
                seen.extend_from_slice(&buf[..n as usize]);
                if crate::contains(&seen, marker) {
                    break Ok(Instant::now());
                }
                if seen.len() > 4096 {
                    seen.drain(..seen.len() - 64);
                }
            }
            Ok(_) => break Err(format!("libvirt: console of {name} ended")),
            Err(e) => break Err(format!("libvirt: console of {name}: {e}")),
        }
    };
    let _ = stream.abort();
    result
}
