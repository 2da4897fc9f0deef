//! Interface bandwidth of real guests (libvirt: virDomainGet/SetInterfaceParameters,
//! `<interface><bandwidth>`), applied with `tc` on the host side of the guest's tap the way
//! libvirt's virNetDevBandwidthSet does (without the hierarchical class, which only a
//! network's `floor` needs):
//!
//! - the old rules go first (`tc qdisc del dev TAP root`, `... ingress`, failures ignored);
//! - the direction the host transmits on the tap (for bridge and network taps the guest's
//!   inbound; ethernet taps "share the host's view" and take the outbound) is shaped: an htb
//!   root qdisc `1:` defaulting to class `1:1` with `rate AVGkbps [ceil PEAKkbps] [burst
//!   BURSTkb] quantum Q` (Q = average * 1024 / 8 / 1500, at least 1), an sfq qdisc under it
//!   and a `fw` filter;
//! - the direction the host receives is policed: an ingress qdisc and a u32 filter matching
//!   everything with `police rate AVGkbps burst BURSTkb mtu 64kb drop` (burst defaults to the
//!   average).
//!
//! At start (and for a hot-plugged tap) the definition's `<bandwidth>` is applied once the
//! tap exists. LIVE changes merge the parameters into the live `<bandwidth>` and re-apply it;
//! CONFIG edits the persistent definition. `floor` (a network's guaranteed rate) is refused.

use std::process::Command;

use virt_core::driver::DriverResult;
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::kit::flags::modify::{CONFIG, LIVE};
use virt_core::kit::flags::typed_param::STRING_OKAY;
use virt_core::kit::modify::{affect_exclusive, impact_read};
use virt_core::kit::table::Entry as _;
use virt_core::kit::tune as rules;
use virt_core::kit::typed_params;
use virt_core::model::devices::{Bandwidth, Interface};
use virt_core::model::enums::InterfaceType;
use virt_core::model::DomainDef;
use virt_core::types::{DomainLookup, TypedParam, TypedValue};
use virt_core::VirtError;

use crate::QemuDriver;

/// Runs `tc ARGS`; a failure is libvirt's virCommandRun error with tc's stderr.
fn tc(args: &[&str]) -> DriverResult<()> {
    let out = Command::new("tc").args(args).output().map_err(|e| {
        VirtError::new(
            ErrorCode::SystemError,
            ErrorDomain::None,
            format!("Cannot find 'tc' in path: {e}"),
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(VirtError::new(
        ErrorCode::InternalError,
        ErrorDomain::None,
        format!(
            "Child process (tc {}) unexpected exit status {}: {}",
            args.join(" "),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ),
    ))
}

/// virNetDevBandwidthClear: removes the root and ingress qdiscs, ignoring failures (there
/// may be none).
fn clear(ifname: &str) {
    for q in ["root", "ingress"] {
        let _ = Command::new("tc")
            .args(["qdisc", "del", "dev", ifname, q])
            .output();
    }
}

/// Whether libvirt can shape interfaces of this type (virNetDevSupportsBandwidth).
fn supports_bandwidth(t: InterfaceType) -> bool {
    matches!(
        t,
        InterfaceType::Bridge
            | InterfaceType::Network
            | InterfaceType::Direct
            | InterfaceType::Ethernet
    )
}

/// Whether the host and the guest see the interface's traffic the same way round
/// (virDomainNetTypeSharesHostView): not for taps on a bridge or network.
fn shares_host_view(t: InterfaceType) -> bool {
    matches!(t, InterfaceType::Ethernet | InterfaceType::Direct)
}

/// The `tc` commands (arguments) of virNetDevBandwidthSet(ifname, bandwidth,
/// hierarchical_class=false, swapped), after the clearing.
pub(crate) fn commands(ifname: &str, b: &Bandwidth, swapped: bool) -> Vec<Vec<String>> {
    let (rx, tx) = if swapped {
        (b.outbound.as_ref(), b.inbound.as_ref())
    } else {
        (b.inbound.as_ref(), b.outbound.as_ref())
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = Vec::new();
    if let Some((tx, avg)) = tx.and_then(|t| t.average.map(|a| (t, a))) {
        let average = format!("{avg}kbps");
        out.push(words(&[
            "qdisc", "add", "dev", ifname, "root", "handle", "1:", "htb", "default", "1",
        ]));
        let mut class = words(&[
            "class", "add", "dev", ifname, "parent", "1:", "classid", "1:1", "htb", "rate",
            &average,
        ]);
        if let Some(p) = tx.peak {
            class.extend(["ceil".to_string(), format!("{p}kbps")]);
        }
        if let Some(b) = tx.burst {
            class.extend(["burst".to_string(), format!("{b}kb")]);
        }
        let quantum = (avg.saturating_mul(1024) / 8 / 1500).max(1);
        class.extend(["quantum".to_string(), quantum.to_string()]);
        out.push(class);
        out.push(words(&[
            "qdisc", "add", "dev", ifname, "parent", "1:1", "handle", "2:", "sfq", "perturb", "10",
        ]));
        out.push(words(&[
            "filter", "add", "dev", ifname, "parent", "1:0", "protocol", "all", "prio", "1",
            "handle", "1", "fw", "flowid", "1",
        ]));
    }
    if let Some(rx) = rx {
        let avg = rx.average.unwrap_or(0);
        let average = format!("{avg}kbps");
        let burst = match rx.burst {
            Some(b) => format!("{b}kb"),
            None => format!("{}kb", avg.min(u64::from(u32::MAX) / 1024)),
        };
        out.push(words(&["qdisc", "add", "dev", ifname, "ingress"]));
        out.push(words(&[
            "filter", "add", "dev", ifname, "parent", "ffff:", "protocol", "all", "u32", "match",
            "u32", "0", "0", "police", "rate", &average, "burst", &burst, "mtu", "64kb", "drop",
            "flowid", ":1",
        ]));
    }
    out
}

/// virNetDevBandwidthSet: clears the old rules, then runs [`commands`].
pub(crate) fn set(ifname: &str, b: &Bandwidth, swapped: bool) -> DriverResult<()> {
    clear(ifname);
    for c in commands(ifname, b, swapped) {
        tc(&c.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(())
}

/// The start (or hot-plug) of an interface: its `<bandwidth>` on its tap, where the type
/// supports it (others are left alone, as libvirt does).
pub(crate) fn apply_at_start(nic: &Interface) -> DriverResult<()> {
    let (Some(b), Some(ifname)) = (&nic.bandwidth, &nic.target_dev) else {
        return Ok(());
    };
    if !supports_bandwidth(nic.interface_type) {
        return Ok(());
    }
    set(ifname, b, !shares_host_view(nic.interface_type))
}

/// Starts the definition's interface bandwidths (each tap-backed interface with one).
pub(crate) fn apply_all(def: &DomainDef) -> DriverResult<()> {
    def.devices
        .interfaces
        .iter()
        .filter(|n| crate::tap::uses_tap(n))
        .try_for_each(apply_at_start)
}

fn has_floor(params: &[TypedParam]) -> bool {
    params
        .iter()
        .any(|p| p.field == "inbound.floor" && matches!(p.value, TypedValue::UInt(v) if v != 0))
}

/// An empty `<bandwidth>` (neither direction) is no `<bandwidth>`.
fn normalise(b: &mut Option<Bandwidth>) {
    if matches!(
        b,
        Some(Bandwidth {
            inbound: None,
            outbound: None
        })
    ) {
        *b = None;
    }
}

impl QemuDriver {
    /// libvirt: virDomainGetInterfaceParameters.
    pub(crate) fn qemu_interface_parameters(
        &self,
        lookup: &DomainLookup,
        device: &str,
        flags: u32,
    ) -> DriverResult<Vec<TypedParam>> {
        affect_exclusive(flags)?;
        self.check_flags(
            flags,
            LIVE | CONFIG | STRING_OKAY,
            "qemuDomainGetInterfaceParameters",
        )?;
        let st = self.lock();
        let d = st.get(lookup)?;
        let live = impact_read(&d.facts(), flags & (LIVE | CONFIG))?;
        let def = match (&d.run, live) {
            (Some(r), true) => &r.live,
            _ => &d.def,
        };
        let i = virt_core::kit::devices::net_index(def, device, ErrorDomain::Domain)?;
        Ok(rules::bandwidth_params(
            def.devices.interfaces[i].bandwidth.as_ref(),
        ))
    }

    /// libvirt: virDomainSetInterfaceParameters.
    pub(crate) async fn qemu_set_interface_parameters(
        &self,
        lookup: &DomainLookup,
        device: &str,
        params: &[TypedParam],
        flags: u32,
    ) -> DriverResult<()> {
        self.check_flags(flags, LIVE | CONFIG, "qemuDomainSetInterfaceParameters")?;
        typed_params::validate(params, rules::BANDWIDTH_PARAMS, ErrorDomain::Qemu)?;
        let (_job, uuid) = self.job(lookup, "virDomainSetInterfaceParameters").await?;
        let lookup = DomainLookup::Uuid(uuid);
        let (live, config) = self.impact(&lookup, flags)?;
        let live_run = if live {
            let a = self.active(&uuid)?;
            let def = self
                .with_run(&uuid, a.gen, |r| r.live.clone())
                .ok_or_else(|| {
                    VirtError::new(
                        ErrorCode::OperationInvalid,
                        ErrorDomain::Qemu,
                        "domain is not running",
                    )
                })?;
            let i = virt_core::kit::devices::net_index(&def, device, ErrorDomain::Domain)?;
            Some((a, def, i))
        } else {
            None
        };
        let persistent = if config {
            let st = self.lock();
            let d = st.get(&lookup)?;
            Some(virt_core::kit::devices::net_index(
                &d.def,
                device,
                ErrorDomain::Domain,
            )?)
        } else {
            None
        };
        let persistent_type = match persistent {
            Some(i) => {
                let st = self.lock();
                Some(st.get(&lookup)?.def.devices.interfaces[i].interface_type)
            }
            None => None,
        };
        let live_type = live_run
            .as_ref()
            .map(|(_, def, i)| def.devices.interfaces[*i].interface_type);
        for t in live_type.into_iter().chain(persistent_type) {
            if !supports_bandwidth(t) {
                return Err(VirtError::new(
                    ErrorCode::OperationUnsupported,
                    ErrorDomain::Qemu,
                    format!(
                        "setting bandwidth on interfaces of type '{}' is not implemented yet",
                        t.as_str()
                    ),
                ));
            }
        }
        if has_floor(params) {
            return Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Qemu,
                "'floor' is only supported for interfaces of a network with bandwidth, which this driver does not manage",
            ));
        }
        if let Some((a, def, i)) = live_run {
            let nic = &def.devices.interfaces[i];
            let mut new = nic.bandwidth.clone();
            rules::apply_bandwidth(&mut new, params);
            normalise(&mut new);
            let ifname = nic.target_dev.clone().ok_or_else(|| {
                VirtError::new(
                    ErrorCode::OperationUnsupported,
                    ErrorDomain::None,
                    "Unable to set bandwidth for interface because device name is unknown",
                )
            })?;
            let empty = Bandwidth {
                inbound: None,
                outbound: None,
            };
            set(
                &ifname,
                new.as_ref().unwrap_or(&empty),
                !shares_host_view(nic.interface_type),
            )?;
            self.update_run(&uuid, a.gen, |r| {
                if let Some(n) = r.live.devices.interfaces.get_mut(i) {
                    n.bandwidth = new;
                }
            });
        }
        if let Some(i) = persistent {
            self.edit_config(&lookup, |def| {
                let b = &mut def.devices.interfaces[i].bandwidth;
                rules::apply_bandwidth(b, params);
                normalise(b);
                Ok(())
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::model::devices::BandwidthRate;

    fn rate(average: u64, peak: Option<u64>, burst: Option<u64>) -> Option<BandwidthRate> {
        Some(BandwidthRate {
            average: Some(average),
            peak,
            burst,
            floor: None,
        })
    }

    fn lines(c: Vec<Vec<String>>) -> Vec<String> {
        c.into_iter().map(|w| w.join(" ")).collect()
    }

    #[test]
    fn a_bridge_tap_shapes_inbound_and_polices_outbound_as_libvirt() {
        let b = Bandwidth {
            inbound: rate(1000, Some(2000), Some(256)),
            outbound: rate(500, None, None),
        };
        assert_eq!(
            lines(commands("vnet0", &b, true)),
            [
                "qdisc add dev vnet0 root handle 1: htb default 1",
                "class add dev vnet0 parent 1: classid 1:1 htb rate 1000kbps ceil 2000kbps burst 256kb quantum 85",
                "qdisc add dev vnet0 parent 1:1 handle 2: sfq perturb 10",
                "filter add dev vnet0 parent 1:0 protocol all prio 1 handle 1 fw flowid 1",
                "qdisc add dev vnet0 ingress",
                "filter add dev vnet0 parent ffff: protocol all u32 match u32 0 0 police rate 500kbps burst 500kb mtu 64kb drop flowid :1",
            ]
        );
    }

    #[test]
    fn unswapped_directions_a_small_quantum_and_a_given_burst() {
        let b = Bandwidth {
            inbound: rate(8, None, Some(16)),
            outbound: rate(1, None, None),
        };
        assert_eq!(
            lines(commands("t", &b, false)),
            [
                "qdisc add dev t root handle 1: htb default 1",
                "class add dev t parent 1: classid 1:1 htb rate 1kbps quantum 1",
                "qdisc add dev t parent 1:1 handle 2: sfq perturb 10",
                "filter add dev t parent 1:0 protocol all prio 1 handle 1 fw flowid 1",
                "qdisc add dev t ingress",
                "filter add dev t parent ffff: protocol all u32 match u32 0 0 police rate 8kbps burst 16kb mtu 64kb drop flowid :1",
            ]
        );
        let none = Bandwidth {
            inbound: None,
            outbound: None,
        };
        assert!(commands("t", &none, true).is_empty());
    }
}
