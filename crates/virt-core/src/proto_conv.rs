//! Conversions between the proto messages and the driver vocabulary (handles, lookups, states,
//! info, typed parameters, stats records, snapshots, guest interfaces), in one place.
//!
//! This sits in the bottom layer with the types and the generated code, so that everything
//! above (events, the drivers, the gRPC services, the client) converts the same way without
//! depending on the gRPC service adapters. Events convert in [`crate::events::wire`], which
//! builds on these.

use tonic::Status;

use crate::proto;
use crate::state::{DomainState, StateReason};
use crate::types::{
    DomainHandle, DomainInfo, DomainLookup, DomainSummary, SnapshotInfo, StatsRecord, TypedParam,
    TypedValue,
};
use crate::uuid::Uuid;

/// A proto DomainRef as a lookup; INVALID_ARGUMENT when empty or malformed.
pub fn lookup(r: Option<&proto::DomainRef>) -> Result<DomainLookup, Status> {
    use proto::domain_ref::Ref;
    let err = |m: &str| {
        crate::status::to_status(&crate::VirtError::new(
            crate::ErrorCode::InvalidArg,
            crate::ErrorDomain::Domain,
            m,
        ))
    };
    match r.and_then(|r| r.r#ref.as_ref()) {
        None => Err(err("no domain given: set one of name, uuid, id or any")),
        Some(Ref::Name(n)) => Ok(DomainLookup::Name(n.clone())),
        Some(Ref::Uuid(u)) => Uuid::parse(u)
            .map(DomainLookup::Uuid)
            .ok_or_else(|| err(&format!("Invalid UUID '{u}'"))),
        Some(Ref::Id(id)) => Ok(DomainLookup::Id(*id)),
        Some(Ref::Any(s)) => Ok(DomainLookup::Any(s.clone())),
    }
}

/// A lookup as a proto DomainRef.
pub fn domain_ref(l: &DomainLookup) -> proto::DomainRef {
    use proto::domain_ref::Ref;
    proto::DomainRef {
        r#ref: Some(match l {
            DomainLookup::Name(n) => Ref::Name(n.clone()),
            DomainLookup::Uuid(u) => Ref::Uuid(u.to_string()),
            DomainLookup::Id(i) => Ref::Id(*i),
            DomainLookup::Any(s) => Ref::Any(s.clone()),
        }),
    }
}

/// A handle as a proto Domain.
pub fn domain(h: &DomainHandle) -> proto::Domain {
    proto::Domain {
        name: h.name.clone(),
        uuid: h.uuid.to_string(),
        id: h.id,
    }
}

/// A proto Domain as a handle (UUID zero when malformed).
pub fn handle(d: &proto::Domain) -> DomainHandle {
    DomainHandle {
        name: d.name.clone(),
        uuid: Uuid::parse(&d.uuid).unwrap_or_default(),
        id: d.id,
    }
}

/// State and reason as proto.
pub fn state(s: StateReason) -> proto::DomainStateReason {
    proto::DomainStateReason {
        state: s.state as i32,
        reason: s.reason,
    }
}

/// Proto state and reason back.
pub fn state_from(s: Option<&proto::DomainStateReason>) -> StateReason {
    s.map(|s| StateReason::new(DomainState::from_number(s.state), s.reason))
        .unwrap_or(StateReason::new(DomainState::NoState, 0))
}

/// A summary as proto.
pub fn summary(s: &DomainSummary) -> proto::DomainSummary {
    proto::DomainSummary {
        domain: Some(domain(&s.handle)),
        state: Some(state(s.state)),
        persistent: s.persistent,
        autostart: s.autostart,
        has_managed_save: s.has_managed_save,
        title: s.title.clone(),
    }
}

/// Info as proto.
pub fn info(i: &DomainInfo) -> proto::DomainInfo {
    proto::DomainInfo {
        state: Some(state(i.state)),
        max_memory_kib: i.max_memory_kib,
        memory_kib: i.memory_kib,
        vcpus: i.vcpus,
        cpu_time_ns: i.cpu_time_ns,
        os_type: i.os_type.clone(),
        persistent: i.persistent,
        autostart: i.autostart,
        has_managed_save: i.has_managed_save,
        security_labels: i
            .security_labels
            .iter()
            .map(|l| proto::SecurityLabel {
                model: l.model.clone(),
                label: l.label.clone(),
                enforcing: l.enforcing,
            })
            .collect(),
        updated: i.updated,
        messages: i.messages.clone(),
    }
}

/// A typed parameter as proto.
pub fn param(p: &TypedParam) -> proto::TypedParameter {
    use proto::typed_parameter::Value;
    proto::TypedParameter {
        field: p.field.clone(),
        value: Some(match &p.value {
            TypedValue::Int(v) => Value::Int(*v),
            TypedValue::UInt(v) => Value::Uint(*v),
            TypedValue::LLong(v) => Value::Llong(*v),
            TypedValue::ULLong(v) => Value::Ullong(*v),
            TypedValue::Double(v) => Value::Double(*v),
            TypedValue::Bool(v) => Value::Boolean(*v),
            TypedValue::String(v) => Value::String(v.clone()),
        }),
    }
}

/// A proto typed parameter back (`None` when it carries no value).
pub fn param_from(p: &proto::TypedParameter) -> Option<TypedParam> {
    use proto::typed_parameter::Value;
    let value = match p.value.as_ref()? {
        Value::Int(v) => TypedValue::Int(*v),
        Value::Uint(v) => TypedValue::UInt(*v),
        Value::Llong(v) => TypedValue::LLong(*v),
        Value::Ullong(v) => TypedValue::ULLong(*v),
        Value::Double(v) => TypedValue::Double(*v),
        Value::Boolean(v) => TypedValue::Bool(*v),
        Value::String(v) => TypedValue::String(v.clone()),
    };
    Some(TypedParam::new(p.field.clone(), value))
}

/// The typed parameters of a set request; one without a value is INVALID_ARG.
pub fn params_from(ps: &[proto::TypedParameter]) -> Result<Vec<TypedParam>, Status> {
    ps.iter()
        .map(|p| {
            param_from(p).ok_or_else(|| {
                crate::status::to_status(&crate::VirtError::new(
                    crate::ErrorCode::InvalidArg,
                    crate::ErrorDomain::Domain,
                    format!("typed parameter '{}' has no value", p.field),
                ))
            })
        })
        .collect()
}

/// Interface counters as proto.
pub fn interface_stats(s: &crate::types::InterfaceStats) -> proto::GetInterfaceStatsResponse {
    proto::GetInterfaceStatsResponse {
        rx_bytes: s.rx_bytes,
        rx_packets: s.rx_packets,
        rx_errs: s.rx_errs,
        rx_drop: s.rx_drop,
        tx_bytes: s.tx_bytes,
        tx_packets: s.tx_packets,
        tx_errs: s.tx_errs,
        tx_drop: s.tx_drop,
    }
}

/// A stats record as proto.
pub fn record(r: &StatsRecord) -> proto::DomainStatsRecord {
    proto::DomainStatsRecord {
        domain: Some(domain(&r.handle)),
        params: r.params.iter().map(param).collect(),
    }
}

/// A snapshot as proto.
pub fn snapshot(s: &SnapshotInfo) -> proto::Snapshot {
    proto::Snapshot {
        name: s.name.clone(),
        parent: s.parent.clone(),
        creation_time: s.creation_time,
        state: s.state.clone(),
        current: s.current,
        description: s.description.clone(),
    }
}

/// The proto DomainEventId (libvirt's ID plus one) of a payload.
pub fn event_id(p: &proto::domain_event::Payload) -> proto::DomainEventId {
    use proto::domain_event::Payload as P;
    use proto::DomainEventId as Id;
    match p {
        P::Lifecycle(_) => Id::Lifecycle,
        P::Reboot(_) => Id::Reboot,
        P::RtcChange(_) => Id::RtcChange,
        P::Watchdog(_) => Id::Watchdog,
        P::IoError(e) if e.reason.is_empty() => Id::IoError,
        P::IoError(_) => Id::IoErrorReason,
        P::Graphics(_) => Id::Graphics,
        P::ControlError(_) => Id::ControlError,
        P::BlockJob(b) if b.by_target => Id::BlockJob2,
        P::BlockJob(_) => Id::BlockJob,
        P::DiskChange(_) => Id::DiskChange,
        P::TrayChange(_) => Id::TrayChange,
        P::PmWakeup(_) => Id::Pmwakeup,
        P::PmSuspend(_) => Id::Pmsuspend,
        P::BalloonChange(_) => Id::BalloonChange,
        P::PmSuspendDisk(_) => Id::PmsuspendDisk,
        P::DeviceRemoved(_) => Id::DeviceRemoved,
        P::Tunable(_) => Id::Tunable,
        P::AgentLifecycle(_) => Id::AgentLifecycle,
        P::DeviceAdded(_) => Id::DeviceAdded,
        P::MigrationIteration(_) => Id::MigrationIteration,
        P::JobCompleted(_) => Id::JobCompleted,
        P::DeviceRemovalFailed(_) => Id::DeviceRemovalFailed,
        P::MetadataChange(_) => Id::MetadataChange,
        P::BlockThreshold(_) => Id::BlockThreshold,
        P::MemoryFailure(_) => Id::MemoryFailure,
        P::MemoryDeviceSizeChange(_) => Id::MemoryDeviceSizeChange,
    }
}

/// A proto address source as the driver's: unset is LEASE (libvirt's 0), the others are
/// libvirt's number plus one; anything else is ARGUMENT_UNSUPPORTED in `domain`.
pub fn address_source(
    v: i32,
    domain: crate::ErrorDomain,
) -> Result<crate::guest::AddressSource, crate::VirtError> {
    use proto::InterfaceAddressesSource as S;
    match S::try_from(v) {
        Ok(S::Unspecified) | Ok(S::Lease) => Ok(crate::guest::AddressSource::Lease),
        Ok(S::Agent) => Ok(crate::guest::AddressSource::Agent),
        Ok(S::Arp) => Ok(crate::guest::AddressSource::Arp),
        Err(_) => Err(crate::VirtError::new(
            crate::ErrorCode::ArgumentUnsupported,
            domain,
            format!("Unknown IP address data source {}", i64::from(v) - 1),
        )),
    }
}

/// A driver address source as proto.
pub fn address_source_to_proto(s: crate::guest::AddressSource) -> proto::InterfaceAddressesSource {
    use crate::guest::AddressSource as A;
    match s {
        A::Lease => proto::InterfaceAddressesSource::Lease,
        A::Agent => proto::InterfaceAddressesSource::Agent,
        A::Arp => proto::InterfaceAddressesSource::Arp,
    }
}

/// A guest file system for the wire.
pub fn fs_info(f: crate::guest::FsInfo) -> proto::FsInfo {
    proto::FsInfo {
        mountpoint: f.mountpoint,
        name: f.name,
        fstype: f.fstype,
        dev_aliases: f.dev_aliases,
    }
}

/// A guest file system from the wire.
pub fn fs_info_from(p: proto::FsInfo) -> crate::guest::FsInfo {
    crate::guest::FsInfo {
        mountpoint: p.mountpoint,
        name: p.name,
        fstype: p.fstype,
        dev_aliases: p.dev_aliases,
    }
}

/// A guest interface as proto.
pub fn interface(i: &crate::guest::DomainInterface) -> proto::DomainInterface {
    use crate::guest::IpAddrType;
    proto::DomainInterface {
        name: i.name.clone(),
        hwaddr: i.hwaddr.clone().unwrap_or_default(),
        addrs: i
            .addrs
            .iter()
            .map(|a| proto::IpAddress {
                r#type: match a.addr_type {
                    IpAddrType::Ipv4 => proto::IpAddressType::Ipv4,
                    IpAddrType::Ipv6 => proto::IpAddressType::Ipv6,
                } as i32,
                addr: a.addr.clone(),
                prefix: a.prefix,
            })
            .collect(),
    }
}

/// A proto guest interface back; addresses of an unknown family are dropped.
pub fn interface_from(p: &proto::DomainInterface) -> crate::guest::DomainInterface {
    use crate::guest::{IpAddrType, IpAddress};
    crate::guest::DomainInterface {
        name: p.name.clone(),
        hwaddr: (!p.hwaddr.is_empty()).then(|| p.hwaddr.clone()),
        addrs: p
            .addrs
            .iter()
            .filter_map(|a| {
                let addr_type = match proto::IpAddressType::try_from(a.r#type) {
                    Ok(proto::IpAddressType::Ipv4) => IpAddrType::Ipv4,
                    Ok(proto::IpAddressType::Ipv6) => IpAddrType::Ipv6,
                    _ => return None,
                };
                Some(IpAddress {
                    addr_type,
                    addr: a.addr.clone(),
                    prefix: a.prefix,
                })
            })
            .collect(),
    }
}
