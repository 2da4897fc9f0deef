//! The one place where libvirt's errors meet gRPC: [`VirtError`] to `tonic::Status` and back.
//!
//! A status carries the libvirt error whole. Its code follows [`grpc_code`] (the table in
//! ARCHITECTURE.md "Error mapping"), its message is [`VirtError::message`] (libvirt's text,
//! prefix included), and its details hold a `google.rpc.ErrorInfo`:
//!
//! - reason: the libvirt code name, e.g. `NO_DOMAIN`;
//! - domain: the error domain, e.g. `virt.test` ([`ErrorDomain::info_domain`]);
//! - metadata: `code` (libvirt's number, e.g. `42`), `domain_number` (e.g. `12`), and `name` /
//!   `uuid` of the object concerned when there is one;
//!
//! plus a `google.rpc.BadRequest` with one field violation per [`Violation`] when the error has
//! any. [`from_status`] reverses this exactly; a status without `ErrorInfo` (a transport failure,
//! a foreign server) becomes an error from the RPC domain chosen by its gRPC code.
//!
//! Choices beyond the architecture's table, made here once:
//! - SYSTEM_ERROR is UNAVAILABLE: in practice it reports a dead or refused socket, which a client
//!   may retry; INTERNAL would tell it not to bother.
//! - RESOURCE_BUSY and OPERATION_FAILED are ABORTED: the call may succeed when retried at a higher
//!   level, but is not safe for transparent transport-level retry as UNAVAILABLE would invite.
//!   Where a caller knows better (the test driver's "already exists with uuid" is an
//!   OPERATION_FAILED that means ALREADY_EXISTS), it picks the code with [`to_status_with`]; the
//!   details still say OPERATION_FAILED, so the libvirt code survives the trip.
//! - OK is not an error; should one be sent it becomes UNKNOWN rather than a successful status.
//!
//! [`VirtError`]: crate::error::VirtError
//! [`VirtError::message`]: crate::error::VirtError::message
//! [`ErrorDomain::info_domain`]: crate::error::ErrorDomain::info_domain
//! [`Violation`]: crate::error::Violation
//! [`grpc_code`]: crate::status::grpc_code
//! [`from_status`]: crate::status::from_status
//! [`to_status_with`]: crate::status::to_status_with

use std::collections::HashMap;

use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::error::{ErrorCode, ErrorDomain, Violation, VirtError};

/// The gRPC code for a libvirt error code: the architecture's error-mapping table.
pub fn grpc_code(code: ErrorCode) -> Code {
    use ErrorCode as E;
    match code {
        E::NoDomain
        | E::NoNetwork
        | E::NoStoragePool
        | E::NoStorageVol
        | E::NoNodeDevice
        | E::NoInterface
        | E::NoNwfilter
        | E::NoSecret
        | E::NoDomainSnapshot
        | E::NoDomainCheckpoint
        | E::NoDomainBackup
        | E::NoNetworkPort
        | E::NoDomainMetadata
        | E::NoSecurityModel
        | E::NoServer
        | E::NoClient
        | E::NoNwfilterBinding
        | E::NoHostname
        | E::DeviceMissing => Code::NotFound,
        E::DomExist
        | E::NetworkExist
        | E::StorageVolExist
        | E::NetworkPortExist
        | E::StoragePoolBuilt => Code::AlreadyExists,
        E::OperationInvalid
        | E::SnapshotRevertRisky
        | E::BlockCopyActive
        | E::MigrateUnsafe
        | E::CheckpointInconsistent
        | E::CpuIncompatible => Code::FailedPrecondition,
        E::InvalidArg
        | E::XmlError
        | E::XmlDetail
        | E::ConfigUnsupported
        | E::XmlInvalidSchema
        | E::ArgumentUnsupported
        | E::InvalidMac
        | E::NoName
        | E::NoOs
        | E::OsType
        | E::NoKernel
        | E::NoRoot
        | E::NoSource
        | E::NoTarget
        | E::NoDevice
        | E::MultipleInterfaces
        | E::MultipleDomains
        | E::InvalidConn
        | E::InvalidDomain
        | E::InvalidNetwork
        | E::InvalidStoragePool
        | E::InvalidStorageVol
        | E::InvalidNodeDevice
        | E::InvalidInterface
        | E::InvalidNwfilter
        | E::InvalidSecret
        | E::InvalidDomainSnapshot
        | E::InvalidStream
        | E::InvalidNwfilterBinding
        | E::InvalidDomainCheckpoint
        | E::InvalidNetworkPort => Code::InvalidArgument,
        E::Overflow => Code::OutOfRange,
        // The WAR_NO_* codes say no driver serves that kind of object: a missing feature.
        E::NoSupport
        | E::OperationUnsupported
        | E::WarNoNetwork
        | E::WarNoStorage
        | E::WarNoNode
        | E::WarNoInterface
        | E::WarNoNwfilter
        | E::WarNoSecret => Code::Unimplemented,
        E::OperationDenied | E::AccessDenied => Code::PermissionDenied,
        E::AuthFailed | E::AuthCancelled | E::AuthUnavailable => Code::Unauthenticated,
        E::OperationTimeout | E::AgentUnresponsive => Code::DeadlineExceeded,
        E::NoConnect
        | E::Rpc
        | E::SystemError
        | E::UnknownHost
        | E::Ssh
        | E::Libssh
        | E::GnutlsError
        | E::AgentUnsynced => Code::Unavailable,
        E::OperationFailed | E::OperationAborted | E::ResourceBusy => Code::Aborted,
        E::NoMemory => Code::ResourceExhausted,
        E::Ok => Code::Unknown,
        E::InternalError
        | E::GetFailed
        | E::PostFailed
        | E::HttpError
        | E::SexprSerial
        | E::NoXen
        | E::XenCall
        | E::NoXenstore
        | E::DriverFull
        | E::CallFailed
        | E::OpenFailed
        | E::ReadFailed
        | E::ParseFailed
        | E::ConfSyntax
        | E::WriteFailed
        | E::BuildFirewall
        | E::MigratePersistFailed
        | E::HookScriptFailed
        | E::StorageProbeFailed
        | E::DbusService
        | E::MigrateFinishOk => Code::Internal,
    }
}

/// The status for `err`, its code from [`grpc_code`].
pub fn to_status(err: &VirtError) -> tonic::Status {
    let code = if err.already_exists {
        Code::AlreadyExists
    } else {
        grpc_code(err.code)
    };
    to_status_with(err, code)
}

/// The status for `err` with the gRPC code chosen by the caller; the details still carry the
/// libvirt code, so [`from_status`] gives back `err` unchanged.
pub fn to_status_with(err: &VirtError, code: Code) -> tonic::Status {
    let mut metadata = HashMap::from([
        ("code".to_string(), (err.code as i32).to_string()),
        ("domain_number".to_string(), (err.domain as i32).to_string()),
    ]);
    if let Some(name) = &err.object_name {
        metadata.insert("name".to_string(), name.clone());
    }
    if let Some(uuid) = &err.object_uuid {
        metadata.insert("uuid".to_string(), uuid.clone());
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(err.code.name(), err.domain.info_domain(), metadata);
    if !err.violations.is_empty() {
        let violations: Vec<FieldViolation> = err
            .violations
            .iter()
            .map(|v| FieldViolation::new(&v.path, &v.description))
            .collect();
        details.set_bad_request(violations);
    }
    tonic::Status::with_error_details(code, err.message(), details)
}

/// The libvirt error a status carries. Without an `ErrorInfo` naming a libvirt code (a transport
/// failure, a foreign server) the error comes from the RPC domain with a code chosen by the
/// status's gRPC code ([`fallback_code`]) and the status message as its detail.
pub fn from_status(status: &tonic::Status) -> VirtError {
    let details = status.get_error_details();
    let violations = details
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|f| Violation {
                    path: f.field.clone(),
                    description: f.description.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let info = details.error_info();
    let known = info.and_then(|info| {
        let code = ErrorCode::from_name(&info.reason).or_else(|| {
            let n = info.metadata.get("code")?.parse().ok()?;
            ErrorCode::from_number(n)
        })?;
        let domain = ErrorDomain::from_info_domain(&info.domain)
            .or_else(|| {
                let n = info.metadata.get("domain_number")?.parse().ok()?;
                ErrorDomain::from_number(n)
            })
            .unwrap_or(ErrorDomain::Rpc);
        Some((code, domain))
    });
    let mut err = match known {
        Some((code, domain)) => VirtError::new(code, domain, strip_prefix(code, status.message())),
        None => VirtError::new(
            fallback_code(status.code()),
            ErrorDomain::Rpc,
            status.message(),
        ),
    };
    if let Some(info) = info {
        err.object_name = info.metadata.get("name").cloned();
        err.object_uuid = info.metadata.get("uuid").cloned();
    }
    err.violations = violations;
    err.already_exists = status.code() == Code::AlreadyExists;
    err
}

/// The libvirt code for a status that names none: what its gRPC code most likely means.
/// UNAVAILABLE (daemon or proxy unreachable) is NO_CONNECT; codes that only a broken or foreign
/// peer sends (UNKNOWN, NOT_FOUND, RESOURCE_EXHAUSTED, DATA_LOSS) are RPC, whose message is the
/// detail alone.
pub fn fallback_code(code: Code) -> ErrorCode {
    match code {
        Code::Unavailable => ErrorCode::NoConnect,
        Code::DeadlineExceeded => ErrorCode::OperationTimeout,
        Code::Unimplemented => ErrorCode::NoSupport,
        Code::InvalidArgument | Code::OutOfRange => ErrorCode::InvalidArg,
        Code::FailedPrecondition => ErrorCode::OperationInvalid,
        Code::PermissionDenied => ErrorCode::AccessDenied,
        Code::Unauthenticated => ErrorCode::AuthFailed,
        Code::Cancelled | Code::Aborted => ErrorCode::OperationAborted,
        Code::AlreadyExists => ErrorCode::OperationFailed,
        Code::Internal | Code::Ok => ErrorCode::InternalError,
        Code::Unknown | Code::NotFound | Code::ResourceExhausted | Code::DataLoss => ErrorCode::Rpc,
    }
}

/// The detail back from a message [`VirtError::message`] formatted: without "{prefix}: ".
fn strip_prefix(code: ErrorCode, message: &str) -> &str {
    match code.prefix() {
        Some(p) if message == p => "",
        Some(p) => message
            .strip_prefix(p)
            .and_then(|rest| {
                // "no connection driver available for URI": these prefixes join with a space.
                let joined = p.ends_with(" for") || p.ends_with(" in");
                rest.strip_prefix(": ")
                    .or_else(|| rest.strip_prefix(' ').filter(|_| joined))
            })
            .unwrap_or(message),
        None => message,
    }
}

impl From<VirtError> for tonic::Status {
    fn from(err: VirtError) -> tonic::Status {
        to_status(&err)
    }
}

impl From<&VirtError> for tonic::Status {
    fn from(err: &VirtError) -> tonic::Status {
        to_status(err)
    }
}

impl From<tonic::Status> for VirtError {
    fn from(status: tonic::Status) -> VirtError {
        from_status(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorCode as E;

    /// ARCHITECTURE.md "Error mapping", row by row, then this file's documented additions.
    #[test]
    fn error_codes_map_to_grpc_codes_as_the_architecture_says() {
        let table: &[(&[ErrorCode], Code)] = &[
            // NO_DOMAIN, NO_NETWORK, ... (no such object) -> NOT_FOUND
            (
                &[
                    E::NoDomain,
                    E::NoNetwork,
                    E::NoStoragePool,
                    E::NoStorageVol,
                    E::NoNodeDevice,
                    E::NoInterface,
                    E::NoNwfilter,
                    E::NoSecret,
                    E::NoDomainSnapshot,
                    E::NoDomainCheckpoint,
                    E::NoDomainBackup,
                    E::NoNetworkPort,
                    E::NoDomainMetadata,
                    E::NoSecurityModel,
                    E::NoServer,
                    E::NoClient,
                    E::NoNwfilterBinding,
                    E::NoHostname,
                    E::DeviceMissing,
                ],
                Code::NotFound,
            ),
            // DOM_EXIST -> ALREADY_EXISTS
            (
                &[
                    E::DomExist,
                    E::NetworkExist,
                    E::StorageVolExist,
                    E::NetworkPortExist,
                    E::StoragePoolBuilt,
                ],
                Code::AlreadyExists,
            ),
            // OPERATION_INVALID (wrong state) -> FAILED_PRECONDITION
            (&[E::OperationInvalid], Code::FailedPrecondition),
            // INVALID_ARG, XML_ERROR, XML_DETAIL, CONFIG_UNSUPPORTED -> INVALID_ARGUMENT
            (
                &[
                    E::InvalidArg,
                    E::XmlError,
                    E::XmlDetail,
                    E::ConfigUnsupported,
                    E::XmlInvalidSchema,
                    E::InvalidMac,
                    E::NoName,
                    E::NoOs,
                    E::OsType,
                    E::ArgumentUnsupported,
                ],
                Code::InvalidArgument,
            ),
            // NO_SUPPORT -> UNIMPLEMENTED
            (
                &[E::NoSupport, E::OperationUnsupported],
                Code::Unimplemented,
            ),
            // OPERATION_DENIED -> PERMISSION_DENIED
            (
                &[E::OperationDenied, E::AccessDenied],
                Code::PermissionDenied,
            ),
            // AUTH_FAILED -> UNAUTHENTICATED
            (
                &[E::AuthFailed, E::AuthCancelled, E::AuthUnavailable],
                Code::Unauthenticated,
            ),
            // OPERATION_TIMEOUT, AGENT_UNRESPONSIVE -> DEADLINE_EXCEEDED
            (
                &[E::OperationTimeout, E::AgentUnresponsive],
                Code::DeadlineExceeded,
            ),
            // NO_CONNECT, SYSTEM_ERROR on a backend socket -> UNAVAILABLE
            (&[E::NoConnect, E::SystemError, E::Rpc], Code::Unavailable),
            // INTERNAL_ERROR -> INTERNAL
            (
                &[E::InternalError, E::CallFailed, E::ConfSyntax],
                Code::Internal,
            ),
            // this file's choices
            (
                &[E::OperationFailed, E::ResourceBusy, E::OperationAborted],
                Code::Aborted,
            ),
            (&[E::Overflow], Code::OutOfRange),
            (&[E::NoMemory], Code::ResourceExhausted),
            (&[E::Ok], Code::Unknown),
        ];
        for (codes, want) in table {
            for code in *codes {
                assert_eq!(grpc_code(*code), *want, "{}", code.name());
            }
        }
    }

    #[test]
    fn status_carries_message_reason_domain_and_numbers() {
        let err = VirtError::new(
            E::NoDomain,
            ErrorDomain::Test,
            "no domain with matching name 'web1'",
        )
        .with_object("web1", "6695eb01-f6a4-8304-79aa-97f2502e193f");
        let status = to_status(&err);
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(
            status.message(),
            "Domain not found: no domain with matching name 'web1'"
        );
        let info = status
            .get_details_error_info()
            .expect("error info attached");
        assert_eq!(info.reason, "NO_DOMAIN");
        assert_eq!(info.domain, "virt.test");
        assert_eq!(info.metadata["code"], "42");
        assert_eq!(info.metadata["domain_number"], "12");
        assert_eq!(info.metadata["name"], "web1");
        assert_eq!(
            info.metadata["uuid"],
            "6695eb01-f6a4-8304-79aa-97f2502e193f"
        );
        assert!(status.get_details_bad_request().is_none());
    }

    #[test]
    fn round_trip_preserves_code_domain_detail_object_and_violations() {
        let mut with_violations = VirtError::new(
            E::XmlDetail,
            ErrorDomain::Domain,
            "2 problems in domain XML",
        );
        with_violations.violations = vec![
            Violation {
                path: "/domain/name".into(),
                description: "missing".into(),
            },
            Violation {
                path: "/domain/devices/disk[2]/target/@bus".into(),
                description: "unknown bus 'floppyx'".into(),
            },
        ];
        let cases = [
            VirtError::new(
                E::NoDomain,
                ErrorDomain::Qemu,
                "no domain with matching uuid 'x' (web1)",
            )
            .with_object("web1", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
            VirtError::new(E::NoDomain, ErrorDomain::Test, ""),
            VirtError::new(
                E::SystemError,
                ErrorDomain::Rpc,
                "Failed to connect socket to '/run/x': No such file or directory",
            ),
            VirtError::new(
                E::OperationInvalid,
                ErrorDomain::Domain,
                "domain is not running",
            ),
            VirtError::new(
                E::InternalError,
                ErrorDomain::Lxc,
                "internal error: looks like a prefix",
            ),
            VirtError::new(E::Ok, ErrorDomain::None, "odd"),
            VirtError::new(E::NoConnect, ErrorDomain::Qemu, "qemu:///session: not here"),
            with_violations,
        ];
        for err in cases {
            assert_eq!(from_status(&to_status(&err)), err);
            let status: tonic::Status = err.clone().into();
            assert_eq!(VirtError::from(status), err);
        }
    }

    #[test]
    fn override_keeps_the_libvirt_code() {
        let err = VirtError::new(
            E::OperationFailed,
            ErrorDomain::Test,
            "domain 'web1' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f",
        );
        assert_eq!(to_status(&err).code(), Code::Aborted);
        let clash = err.clone().clash();
        let status = to_status(&clash);
        assert_eq!(status.code(), Code::AlreadyExists);
        assert_eq!(from_status(&status), clash);
        assert_eq!(from_status(&status).code, E::OperationFailed);
    }

    #[test]
    fn plain_status_maps_by_grpc_code_into_the_rpc_domain() {
        let table = [
            (Code::Unavailable, E::NoConnect),
            (Code::DeadlineExceeded, E::OperationTimeout),
            (Code::Unimplemented, E::NoSupport),
            (Code::InvalidArgument, E::InvalidArg),
            (Code::FailedPrecondition, E::OperationInvalid),
            (Code::PermissionDenied, E::AccessDenied),
            (Code::Unauthenticated, E::AuthFailed),
            (Code::Cancelled, E::OperationAborted),
            (Code::Internal, E::InternalError),
            (Code::Unknown, E::Rpc),
        ];
        for (grpc, want) in table {
            let err = from_status(&tonic::Status::new(
                grpc,
                "transport error: connection refused",
            ));
            assert_eq!(err.code, want, "{grpc:?}");
            assert_eq!(err.domain, ErrorDomain::Rpc);
            assert_eq!(err.detail, "transport error: connection refused");
            assert_eq!(err.object_name, None);
        }
    }

    #[test]
    fn foreign_error_info_falls_back_to_the_grpc_code() {
        let mut details = ErrorDetails::new();
        details.set_error_info("QUOTA_EXCEEDED", "example.com", HashMap::new());
        let status = tonic::Status::with_error_details(Code::Unavailable, "busy", details);
        let err = from_status(&status);
        assert_eq!(
            (err.code, err.domain, err.detail.as_str()),
            (E::NoConnect, ErrorDomain::Rpc, "busy")
        );
    }
}
