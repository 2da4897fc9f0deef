//! The one place where libvirt's errors meet gRPC: [`VirtError`] to `tonic::Status` and back.
//!
//! A status carries the libvirt error whole. Its code follows [`grpc_code`] (the table in
//! ARCHITECTURE.md "Error mapping"), its message is [`VirtError::message`] (libvirt's text,
//! prefix included), and its details hold a `google.rpc.ErrorInfo`:
//!
//! - reason: the libvirt code name, e.g. `NO_DOMAIN`;
//! - domain: always [`ERROR_INFO_DOMAIN`] (`virt`), whichever daemon or layer raised it, so
//!   (reason, domain) names the error as `google.rpc.ErrorInfo` intends;
//! - metadata (all values are strings, as ErrorInfo has them; proto/README.md lists each key's
//!   type): `code` (libvirt's number, e.g. `42`), `error_domain` (libvirt's error domain name,
//!   e.g. `QEMU`, `DOMAIN`: the module that raised it), `domain_number` (its number, e.g. `10`),
//!   `name` / `uuid` / `id` of the object concerned or asked for (NO_DOMAIN), and `line` /
//!   `column` where a document that is not well-formed XML stops parsing;
//!
//! plus a `google.rpc.BadRequest` with one field violation per [`Violation`] when the error has
//! any (XPath-located problems, or field `xml` for a document that is not well-formed).
//! [`from_status`] reverses this exactly, and still reads the per-module ErrorInfo domains of
//! earlier daemons (`virt.qemu`); a status without `ErrorInfo` (a transport failure, a foreign
//! server) becomes an error from the RPC domain chosen by its gRPC code.
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
//! [`Violation`]: crate::error::Violation
//! [`grpc_code`]: crate::status::grpc_code
//! [`from_status`]: crate::status::from_status
//! [`to_status_with`]: crate::status::to_status_with

use std::collections::HashMap;

use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::error::{ErrorCode, ErrorDomain, TextPosition, Violation, VirtError};

/// The `google.rpc.ErrorInfo` domain of every error: the reasons are libvirt's error names,
/// one vocabulary whatever module raised them (that module is metadata `error_domain`).
pub const ERROR_INFO_DOMAIN: &str = "virt";

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
        ("error_domain".to_string(), err.domain.name().to_string()),
        ("domain_number".to_string(), (err.domain as i32).to_string()),
    ]);
    if let Some(name) = &err.object_name {
        metadata.insert("name".to_string(), name.to_string());
    }
    if let Some(uuid) = &err.object_uuid {
        metadata.insert("uuid".to_string(), uuid.to_string());
    }
    if let Some(id) = err.object_id {
        metadata.insert("id".to_string(), id.to_string());
    }
    if let Some(p) = err.position {
        metadata.insert("line".to_string(), p.line.to_string());
        metadata.insert("column".to_string(), p.column.to_string());
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(err.code.name(), ERROR_INFO_DOMAIN, metadata);
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
        let domain = info
            .metadata
            .get("error_domain")
            .and_then(|n| ErrorDomain::from_name(n))
            .or_else(|| ErrorDomain::from_info_domain(&info.domain))
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
        let number = |k: &str| info.metadata.get(k).and_then(|v| v.parse::<u32>().ok());
        err.object_name = info.metadata.get("name").map(|v| v.as_str().into());
        err.object_uuid = info.metadata.get("uuid").map(|v| v.as_str().into());
        err.object_id = number("id");
        err.position = number("line")
            .zip(number("column"))
            .map(|(line, column)| TextPosition { line, column });
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
        assert_eq!(info.domain, "virt");
        assert_eq!(info.metadata["code"], "42");
        assert_eq!(info.metadata["error_domain"], "TEST");
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
            VirtError::no_domain(ErrorDomain::Qemu, &crate::types::DomainLookup::Id(7)),
            {
                let mut e = VirtError::new(E::XmlError, ErrorDomain::Domain, "x:3: bad");
                e.position = Some(TextPosition { line: 3, column: 9 });
                e
            },
        ];
        for err in cases {
            assert_eq!(from_status(&to_status(&err)), err);
            let status: tonic::Status = err.clone().into();
            assert_eq!(VirtError::from(status), err);
        }
    }

    #[test]
    fn every_module_reports_under_one_info_domain_with_the_module_in_metadata() {
        for (domain, name) in [
            (ErrorDomain::Qemu, "QEMU"),
            (ErrorDomain::Domain, "DOMAIN"),
            (ErrorDomain::Remote, "REMOTE"),
            (ErrorDomain::Test, "TEST"),
        ] {
            let status = to_status(&VirtError::new(E::OperationInvalid, domain, "x"));
            let info = status.get_details_error_info().expect("error info");
            assert_eq!(info.domain, ERROR_INFO_DOMAIN);
            assert_eq!(info.metadata["error_domain"], name);
            assert_eq!(from_status(&status).domain, domain);
        }
    }

    #[test]
    fn no_domain_names_what_was_asked_for() {
        use crate::types::DomainLookup as L;
        let uuid = crate::uuid::Uuid::parse("6695eb01-f6a4-8304-79aa-97f2502e193f").expect("uuid");
        for (lookup, key, value, message) in [
            (
                L::Name("web9".into()),
                "name",
                "web9",
                "no domain with matching name 'web9'",
            ),
            (
                L::Any("web9".into()),
                "name",
                "web9",
                "no domain with matching name 'web9'",
            ),
            (
                L::Uuid(uuid),
                "uuid",
                "6695eb01-f6a4-8304-79aa-97f2502e193f",
                "no domain with matching uuid '6695eb01-f6a4-8304-79aa-97f2502e193f'",
            ),
            (L::Id(7), "id", "7", "no domain with matching id 7"),
        ] {
            let status = to_status(&VirtError::no_domain(ErrorDomain::Test, &lookup));
            assert_eq!(status.code(), Code::NotFound);
            assert_eq!(status.message(), format!("Domain not found: {message}"));
            let info = status.get_details_error_info().expect("error info");
            assert_eq!(
                info.metadata.get(key).map(String::as_str),
                Some(value),
                "{key}"
            );
        }
    }

    #[test]
    fn statuses_of_earlier_daemons_still_parse() {
        // Before ERROR_INFO_DOMAIN: the domain said the module, and no `error_domain` key.
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "NO_DOMAIN",
            "virt.qemu",
            HashMap::from([("code".to_string(), "42".to_string())]),
        );
        let status = tonic::Status::with_error_details(
            Code::NotFound,
            "Domain not found: no domain with matching name 'a'",
            details,
        );
        let err = from_status(&status);
        assert_eq!((err.code, err.domain), (E::NoDomain, ErrorDomain::Qemu));
        assert_eq!(err.detail, "no domain with matching name 'a'");
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
