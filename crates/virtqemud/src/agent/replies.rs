//! Guest agent commands and their replies in libvirt's terms: the commands libvirt sends for
//! each API, and its reading of the answers (interfaces and addresses, and the typed
//! parameters of virDomainGetGuestInfo under libvirt's names and in libvirt's order).
//!
//! A reply missing what libvirt requires is INTERNAL_ERROR with libvirt's wording ("'name'
//! missing in reply of guest-get-fsinfo"); optional members are left out, as libvirt leaves
//! them out.

use serde_json::{json, Value};
use virt_core::error::{ErrorCode, ErrorDomain};
use virt_core::guest::{DomainInterface, FsInfo, IpAddrType, IpAddress};
use virt_core::model::devices::Address;
use virt_core::model::DomainDef;
use virt_core::types::{TypedParam, TypedValue};
use virt_core::VirtError;

fn malformed(detail: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::InternalError, ErrorDomain::Qemu, detail)
}

/// `guest-set-time`: with `sync` the guest re-reads its RTC; otherwise the time in
/// nanoseconds, refused past what the agent's signed 64-bit field holds (libvirt's check).
pub fn set_time_command(seconds: i64, nseconds: u32, sync: bool) -> Result<Value, VirtError> {
    if sync {
        return Ok(json!({"execute": "guest-set-time"}));
    }
    let ns = seconds
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(i64::from(nseconds)))
        .ok_or_else(|| {
            VirtError::new(
                ErrorCode::InvalidArg,
                ErrorDomain::Qemu,
                format!("Time '{seconds}' is too big for guest agent"),
            )
        })?;
    Ok(json!({"execute": "guest-set-time", "arguments": {"time": ns}}))
}

/// `guest-fsfreeze-freeze`, or `guest-fsfreeze-freeze-list` for the mount points given.
pub fn freeze_command(mountpoints: &[String]) -> Value {
    if mountpoints.is_empty() {
        json!({"execute": "guest-fsfreeze-freeze"})
    } else {
        json!({"execute": "guest-fsfreeze-freeze-list", "arguments": {"mountpoints": mountpoints}})
    }
}

/// The count a freeze or thaw answers.
pub fn count(v: &Value) -> Result<u32, VirtError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| malformed("malformed return value"))
}

/// `guest-get-time`'s nanoseconds as (seconds, nanoseconds).
pub fn time(v: &Value) -> Result<(i64, u32), VirtError> {
    let ns = v
        .as_i64()
        .ok_or_else(|| malformed("malformed return value"))?;
    Ok((
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    ))
}

/// `guest-get-host-name`'s host name.
pub fn hostname(v: &Value) -> Result<String, VirtError> {
    v.get("host-name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| malformed("'host-name' missing in guest-get-host-name reply"))
}

/// `guest-network-get-interfaces` as libvirt reads it: aliases (`eth0:1`) join their
/// interface, addresses keep the agent's order.
pub fn interfaces(v: &Value) -> Result<Vec<DomainInterface>, VirtError> {
    let list = v
        .as_array()
        .ok_or_else(|| malformed("qemu agent didn't return an array of interfaces"))?;
    let mut out: Vec<DomainInterface> = Vec::new();
    for entry in list {
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("qemu agent didn't provide 'name' field"))?;
        let base = name.split(':').next().unwrap_or(name);
        let at = match out.iter().position(|i| i.name == base) {
            Some(i) => i,
            None => {
                out.push(DomainInterface {
                    name: base.to_string(),
                    hwaddr: entry
                        .get("hardware-address")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    addrs: Vec::new(),
                });
                out.len() - 1
            }
        };
        for a in entry
            .get("ip-addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out[at].addrs.push(address(a, name)?);
        }
    }
    Ok(out)
}

fn address(a: &Value, name: &str) -> Result<IpAddress, VirtError> {
    let addr_type = match a.get("ip-address-type").and_then(Value::as_str) {
        Some("ipv4") => IpAddrType::Ipv4,
        Some("ipv6") => IpAddrType::Ipv6,
        Some(t) => return Err(malformed(format!("unknown ip address type '{t}'"))),
        None => {
            return Err(malformed(format!(
                "qemu agent didn't provide 'ip-address-type' field for interface '{name}'"
            )))
        }
    };
    let addr = a
        .get("ip-address")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            malformed(format!(
                "qemu agent didn't provide 'ip-address' field for interface '{name}'"
            ))
        })?
        .to_string();
    let prefix = a
        .get("prefix")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| malformed("malformed 'prefix' field"))?;
    Ok(IpAddress {
        addr_type,
        addr,
        prefix,
    })
}

/// Typed parameters in the making.
#[derive(Debug, Default)]
pub struct Params(pub Vec<TypedParam>);

impl Params {
    fn add(&mut self, field: impl Into<String>, value: TypedValue) {
        self.0.push(TypedParam::new(field, value));
    }

    fn string(&mut self, field: impl Into<String>, value: &str) {
        self.add(field, TypedValue::String(value.to_string()));
    }

    fn count(&mut self, field: impl Into<String>, n: usize) {
        self.add(
            field,
            TypedValue::UInt(u32::try_from(n).unwrap_or(u32::MAX)),
        );
    }
}

fn array<'a>(v: &'a Value, command: &str) -> Result<&'a Vec<Value>, VirtError> {
    v.as_array()
        .ok_or_else(|| malformed(format!("{command} reply was missing return data")))
}

fn required<'a>(v: &'a Value, member: &str, command: &str) -> Result<&'a Value, VirtError> {
    v.get(member)
        .ok_or_else(|| malformed(format!("'{member}' missing in reply of {command}")))
}

/// `guest-get-users` as `user.count`, `user.N.name`, `user.N.domain`, `user.N.login-time`
/// (milliseconds).
pub fn users(v: &Value, p: &mut Params) -> Result<(), VirtError> {
    let list = array(v, "guest-get-users")?;
    p.count("user.count", list.len());
    for (i, u) in list.iter().enumerate() {
        let name = required(u, "user", "guest-get-users")?
            .as_str()
            .unwrap_or_default();
        p.string(format!("user.{i}.name"), name);
        if let Some(d) = u.get("domain").and_then(Value::as_str) {
            p.string(format!("user.{i}.domain"), d);
        }
        let login = required(u, "login-time", "guest-get-users")?
            .as_f64()
            .ok_or_else(|| malformed("'login-time' missing in reply of guest-get-users"))?;
        p.add(
            format!("user.{i}.login-time"),
            TypedValue::ULLong((login * 1000.0) as u64),
        );
    }
    Ok(())
}

/// `guest-get-osinfo` as `os.*`, members the agent gave only.
pub fn os(v: &Value, p: &mut Params) -> Result<(), VirtError> {
    if !v.is_object() {
        return Err(malformed("guest-get-osinfo reply was missing return data"));
    }
    for key in [
        "id",
        "name",
        "pretty-name",
        "version",
        "version-id",
        "machine",
        "variant",
        "variant-id",
        "kernel-release",
        "kernel-version",
    ] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            p.string(format!("os.{key}"), s);
        }
    }
    Ok(())
}

/// `guest-get-timezone` as `timezone.name` (when given) and `timezone.offset`.
pub fn timezone(v: &Value, p: &mut Params) -> Result<(), VirtError> {
    if let Some(z) = v.get("zone").and_then(Value::as_str) {
        p.string("timezone.name", z);
    }
    let offset = v
        .get("offset")
        .and_then(Value::as_i64)
        .and_then(|o| i32::try_from(o).ok())
        .ok_or_else(|| malformed("'offset' missing in reply of guest-get-timezone"))?;
    p.add("timezone.offset", TypedValue::Int(offset));
    Ok(())
}

/// The definition's disk target at the PCI address the agent reports (virtio disks).
fn disk_alias(def: &DomainDef, addr: &Value) -> Option<String> {
    let pci = addr.get("pci-controller")?;
    let field = |k: &str| pci.get(k).and_then(Value::as_u64);
    let (domain, bus, slot, function) = (
        field("domain")?,
        field("bus")?,
        field("slot")?,
        field("function")?,
    );
    def.devices.disks.iter().find_map(|d| match &d.address {
        Some(Address::Pci(a))
            if u64::from(a.domain) == domain
                && u64::from(a.bus) == bus
                && u64::from(a.slot) == slot
                && u64::from(a.function) == function =>
        {
            Some(d.target_dev.clone())
        }
        _ => None,
    })
}

/// `guest-get-fsinfo` as `fs.*`, in mount order (the agent lists the last mount first).
pub fn filesystems(v: &Value, def: &DomainDef, p: &mut Params) -> Result<(), VirtError> {
    let list = v
        .as_array()
        .ok_or_else(|| malformed("guest-get-fsinfo reply was missing or not an array"))?;
    p.count("fs.count", list.len());
    for (i, fs) in list.iter().rev().enumerate() {
        let s = |k: &str| {
            required(fs, k, "guest-get-fsinfo").and_then(|v| {
                v.as_str()
                    .ok_or_else(|| malformed(format!("'{k}' missing in reply of guest-get-fsinfo")))
            })
        };
        p.string(format!("fs.{i}.mountpoint"), s("mountpoint")?);
        p.string(format!("fs.{i}.name"), s("name")?);
        p.string(format!("fs.{i}.fstype"), s("type")?);
        for key in ["total-bytes", "used-bytes"] {
            if let Some(n) = fs.get(key).and_then(Value::as_u64) {
                p.add(format!("fs.{i}.{key}"), TypedValue::ULLong(n));
            }
        }
        let disks = fs.get("disk").and_then(Value::as_array).ok_or_else(|| {
            malformed("'disk' missing or not an array in reply of guest-get-fsinfo")
        })?;
        p.count(format!("fs.{i}.disk.count"), disks.len());
        for (j, d) in disks.iter().enumerate() {
            if let Some(alias) = disk_alias(def, d) {
                p.string(format!("fs.{i}.disk.{j}.alias"), &alias);
            }
            if let Some(serial) = d.get("serial").and_then(Value::as_str) {
                p.string(format!("fs.{i}.disk.{j}.serial"), serial);
            }
            if let Some(dev) = d.get("dev").and_then(Value::as_str) {
                p.string(format!("fs.{i}.disk.{j}.device"), dev);
            }
        }
    }
    Ok(())
}

/// `guest-get-fsinfo` as virDomainGetFSInfo's list, in mount order (the agent lists the last
/// mount first); a disk the definition has no target for at the agent's address is left out
/// of `dev_aliases`, as libvirt leaves it out.
pub fn fs_info(v: &Value, def: &DomainDef) -> Result<Vec<FsInfo>, VirtError> {
    let list = v
        .as_array()
        .ok_or_else(|| malformed("guest-get-fsinfo reply was missing or not an array"))?;
    list.iter()
        .rev()
        .map(|fs| {
            let s = |k: &str| {
                required(fs, k, "guest-get-fsinfo").and_then(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        malformed(format!("'{k}' missing in reply of guest-get-fsinfo"))
                    })
                })
            };
            let disks = fs.get("disk").and_then(Value::as_array).ok_or_else(|| {
                malformed("'disk' missing or not an array in reply of guest-get-fsinfo")
            })?;
            Ok(FsInfo {
                mountpoint: s("mountpoint")?,
                name: s("name")?,
                fstype: s("type")?,
                dev_aliases: disks.iter().filter_map(|d| disk_alias(def, d)).collect(),
            })
        })
        .collect()
}

/// `guest-fstrim` of every file system; ranges shorter than `minimum` bytes may stay.
pub fn fstrim_command(minimum: u64) -> Value {
    json!({"execute": "guest-fstrim", "arguments": {"minimum": minimum}})
}

/// `guest-set-user-password`: the password travels base64-encoded; `crypted` says it is a
/// crypt(3) hash already.
pub fn set_password_command(user: &str, password: &str, crypted: bool) -> Value {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(password.as_bytes());
    json!({"execute": "guest-set-user-password",
           "arguments": {"crypted": crypted, "username": user, "password": encoded}})
}

/// `guest-ssh-get-authorized-keys`' `keys`.
pub fn ssh_keys(v: &Value) -> Result<Vec<String>, VirtError> {
    v.get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("qemu agent didn't return an array of keys"))?
        .iter()
        .map(|k| {
            k.as_str()
                .map(str::to_string)
                .ok_or_else(|| malformed("qemu agent returned a key that is not a string"))
        })
        .collect()
}

/// The command of virDomainAuthorizedSSHKeysSet: remove the keys, or add them (`reset`: the
/// keys replace the user's keys).
pub fn ssh_keys_set_command(user: &str, keys: &[String], remove: bool, reset: bool) -> Value {
    if remove {
        json!({"execute": "guest-ssh-remove-authorized-keys",
               "arguments": {"username": user, "keys": keys}})
    } else {
        json!({"execute": "guest-ssh-add-authorized-keys",
               "arguments": {"username": user, "keys": keys, "reset": reset}})
    }
}

/// `guest-get-disks` as `disk.*`.
pub fn disks(v: &Value, def: &DomainDef, p: &mut Params) -> Result<(), VirtError> {
    let list = v
        .as_array()
        .ok_or_else(|| malformed("qemu agent didn't return an array of disks"))?;
    p.count("disk.count", list.len());
    for (i, d) in list.iter().enumerate() {
        let name = d
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("'name' missing in reply of guest-get-disks"))?;
        p.string(format!("disk.{i}.name"), name);
        let partition = d
            .get("partition")
            .and_then(Value::as_bool)
            .ok_or_else(|| malformed("'partition' missing in reply of guest-get-disks"))?;
        p.add(format!("disk.{i}.partition"), TypedValue::Bool(partition));
        if let Some(deps) = d.get("dependencies").and_then(Value::as_array) {
            p.count(format!("disk.{i}.dependency.count"), deps.len());
            for (j, dep) in deps.iter().enumerate() {
                p.string(
                    format!("disk.{i}.dependency.{j}.name"),
                    dep.as_str().unwrap_or_default(),
                );
            }
        }
        if let Some(addr) = d.get("address") {
            if let Some(serial) = addr.get("serial").and_then(Value::as_str) {
                p.string(format!("disk.{i}.serial"), serial);
            }
            if let Some(alias) = disk_alias(def, addr) {
                p.string(format!("disk.{i}.alias"), &alias);
            }
        }
        if let Some(alias) = d.get("alias").and_then(Value::as_str) {
            p.string(format!("disk.{i}.guest_alias"), alias);
        }
    }
    Ok(())
}

/// Interfaces (as [`interfaces`] reads them) as `if.*`.
pub fn interface_params(ifaces: &[DomainInterface], p: &mut Params) {
    p.count("if.count", ifaces.len());
    for (i, iface) in ifaces.iter().enumerate() {
        p.string(format!("if.{i}.name"), &iface.name);
        if let Some(mac) = &iface.hwaddr {
            p.string(format!("if.{i}.hwaddr"), mac);
        }
        p.count(format!("if.{i}.addr.count"), iface.addrs.len());
        for (j, a) in iface.addrs.iter().enumerate() {
            p.string(format!("if.{i}.addr.{j}.type"), a.addr_type.name());
            p.string(format!("if.{i}.addr.{j}.addr"), &a.addr);
            p.add(
                format!("if.{i}.addr.{j}.prefix"),
                TypedValue::UInt(a.prefix),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_goes_base64_and_ssh_key_commands_are_qemu_gas() {
        assert_eq!(
            set_password_command("root", "s3cret:x", false).to_string(),
            r#"{"arguments":{"crypted":false,"password":"czNjcmV0Ong=","username":"root"},"execute":"guest-set-user-password"}"#
        );
        let keys = vec!["ssh-ed25519 AAAA a@b".to_string()];
        assert_eq!(
            ssh_keys_set_command("u", &keys, false, true).to_string(),
            r#"{"arguments":{"keys":["ssh-ed25519 AAAA a@b"],"reset":true,"username":"u"},"execute":"guest-ssh-add-authorized-keys"}"#
        );
        assert_eq!(
            ssh_keys_set_command("u", &keys, true, false)["execute"],
            "guest-ssh-remove-authorized-keys"
        );
        assert_eq!(
            ssh_keys(&json!({"keys": ["k1", "k2"]})).expect("keys"),
            vec!["k1".to_string(), "k2".to_string()]
        );
        assert!(ssh_keys(&json!({"nokeys": 1})).is_err());
        assert_eq!(fstrim_command(0)["arguments"]["minimum"], 0);
    }

    #[test]
    fn fs_info_is_in_mount_order_with_disk_targets_by_pci_address() {
        let def = virt_xml::parse_domain(
            "<domain type='qemu'><name>g</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices><disk type='file' device='disk'><source file='/a'/>\
             <target dev='vdb' bus='virtio'/>\
             <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>\
             </disk></devices></domain>",
        )
        .expect("definition");
        let v = json!([
            {"name": "vda1", "mountpoint": "/mnt", "type": "ext4", "disk": [
                {"pci-controller": {"domain": 0, "bus": 0, "slot": 7, "function": 0},
                 "bus-type": "virtio", "bus": 0, "unit": 0, "target": 0}]},
            {"name": "sda1", "mountpoint": "/", "type": "xfs", "disk": [
                {"pci-controller": {"domain": 0, "bus": 0, "slot": 9, "function": 0},
                 "bus-type": "scsi", "bus": 0, "unit": 0, "target": 0}]}
        ]);
        let got = fs_info(&v, &def).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].mountpoint.as_str(), got[0].name.as_str()),
            ("/", "sda1")
        );
        assert!(got[0].dev_aliases.is_empty(), "no disk at slot 9");
        assert_eq!(got[1].fstype, "ext4");
        assert_eq!(got[1].dev_aliases, vec!["vdb".to_string()]);
        let e = fs_info(&json!([{"name": "x", "type": "ext4", "disk": []}]), &def)
            .expect_err("no mountpoint");
        assert!(e.detail.contains("'mountpoint' missing"), "{}", e.detail);
    }

    #[test]
    fn set_time_sends_nanoseconds_or_nothing_for_sync_and_refuses_overflow() {
        assert_eq!(
            set_time_command(1_700_000_000, 5, false)
                .expect("fits")
                .to_string(),
            r#"{"arguments":{"time":1700000000000000005},"execute":"guest-set-time"}"#
        );
        assert_eq!(
            set_time_command(9, 9, true).expect("sync").to_string(),
            r#"{"execute":"guest-set-time"}"#
        );
        let e = set_time_command(i64::MAX / 1_000_000_000 + 1, 0, false).expect_err("too big");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert_eq!(
            e.detail,
            format!(
                "Time '{}' is too big for guest agent",
                i64::MAX / 1_000_000_000 + 1
            )
        );
    }

    #[test]
    fn interfaces_merge_aliases_and_keep_address_order() {
        let v = json!([
            {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}]},
            {"name": "eth0", "hardware-address": "52:54:00:12:34:56"},
            {"name": "eth0:1", "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24}]}
        ]);
        let got = interfaces(&v).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].addrs.len(), 2);
        assert_eq!(got[1].name, "eth0");
        assert_eq!(got[1].hwaddr.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(got[1].addrs[0].addr, "10.0.2.15");
        let bad = json!([{"name": "x", "ip-addresses": [{"ip-address-type": "ipx"}]}]);
        assert_eq!(
            interfaces(&bad).expect_err("bad type").detail,
            "unknown ip address type 'ipx'"
        );
        assert_eq!(
            interfaces(&json!([{}])).expect_err("no name").detail,
            "qemu agent didn't provide 'name' field"
        );
    }

    #[test]
    fn guest_info_params_use_libvirts_names() {
        let def = virt_xml::parse_domain(
            "<domain type='qemu'><name>g</name><memory>65536</memory><os><type>hvm</type></os>\
             <devices><disk type='file' device='disk'><source file='/d.img'/>\
             <target dev='vda' bus='virtio'/>\
             <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>\
             </devices></domain>",
        )
        .expect("xml");
        let mut p = Params::default();
        users(&json!([{"user": "root", "login-time": 1.5}]), &mut p).expect("users");
        os(&json!({"id": "debian", "version-id": "12"}), &mut p).expect("os");
        timezone(&json!({"zone": "UTC", "offset": 0}), &mut p).expect("tz");
        let pci = json!({"domain": 0, "bus": 0, "slot": 5, "function": 0});
        filesystems(
            &json!([
                {"name": "vda2", "mountpoint": "/boot", "type": "ext4", "disk": []},
                {"name": "vda1", "mountpoint": "/", "type": "ext4", "total-bytes": 10,
                 "used-bytes": 4, "disk": [{"bus-type": "virtio", "bus": 0, "target": 0,
                 "unit": 0, "pci-controller": pci, "dev": "/dev/vda1", "serial": "S1"}]}
            ]),
            &def,
            &mut p,
        )
        .expect("fs");
        disks(
            &json!([{"name": "/dev/vda", "partition": false, "dependencies": [],
                     "address": {"pci-controller": pci, "serial": "S1"}}]),
            &def,
            &mut p,
        )
        .expect("disks");
        let text: Vec<String> =
            p.0.iter()
                .map(|t| format!("{}={}", t.field, t.value.virsh_text()))
                .collect();
        assert_eq!(
            text,
            [
                "user.count=1",
                "user.0.name=root",
                "user.0.login-time=1500",
                "os.id=debian",
                "os.version-id=12",
                "timezone.name=UTC",
                "timezone.offset=0",
                "fs.count=2",
                "fs.0.mountpoint=/",
                "fs.0.name=vda1",
                "fs.0.fstype=ext4",
                "fs.0.total-bytes=10",
                "fs.0.used-bytes=4",
                "fs.0.disk.count=1",
                "fs.0.disk.0.alias=vda",
                "fs.0.disk.0.serial=S1",
                "fs.0.disk.0.device=/dev/vda1",
                "fs.1.mountpoint=/boot",
                "fs.1.name=vda2",
                "fs.1.fstype=ext4",
                "fs.1.disk.count=0",
                "disk.count=1",
                "disk.0.name=/dev/vda",
                "disk.0.partition=no",
                "disk.0.dependency.count=0",
                "disk.0.serial=S1",
                "disk.0.alias=vda",
            ]
        );
    }
}

/// One vCPU as `guest-get-vcpus` answers it (libvirt's qemuAgentCPUInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestVcpu {
    /// `logical-id`.
    pub id: u32,
    /// `online`.
    pub online: bool,
    /// `can-offline`.
    pub offlinable: bool,
}

/// `guest-get-vcpus`'s list.
pub fn guest_vcpus(v: &Value) -> Result<Vec<GuestVcpu>, VirtError> {
    let list = v
        .as_array()
        .ok_or_else(|| malformed("guest-get-vcpus return information was not an array"))?;
    list.iter()
        .map(|e| {
            let id = e
                .get("logical-id")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| malformed("'logical-id' missing in reply of guest-get-vcpus"))?;
            let online = e
                .get("online")
                .and_then(Value::as_bool)
                .ok_or_else(|| malformed("'online' missing in reply of guest-get-vcpus"))?;
            let offlinable = e
                .get("can-offline")
                .and_then(Value::as_bool)
                .ok_or_else(|| malformed("'can-offline' missing in reply of guest-get-vcpus"))?;
            Ok(GuestVcpu {
                id,
                online,
                offlinable,
            })
        })
        .collect()
}
