//! The domain argument of a command and how virsh resolves it: by ID, UUID or name, in that
//! order, limited to the kinds the command accepts (`start` takes no ID, `domname` no name).
//! The resolved domain is then addressed by UUID, so later calls hit the same domain.

use virt_client::{ClientError, Connection};
use virt_core::proto;
use virt_core::types::DomainLookup;
use virt_core::uuid::Uuid;
use virt_core::ErrorCode;

use super::report::CliError;

/// Which kinds of domain argument a command accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct By {
    /// A running domain's ID.
    pub id: bool,
    /// A UUID.
    pub uuid: bool,
    /// A name.
    pub name: bool,
}

/// Any of ID, UUID and name.
pub const ANY: By = By {
    id: true,
    uuid: true,
    name: true,
};

/// UUID or name (commands on possibly inactive domains, such as `start`).
pub const NAME_OR_UUID: By = By {
    id: false,
    uuid: true,
    name: true,
};

/// ID or UUID (`domname`).
pub const ID_OR_UUID: By = By {
    id: true,
    uuid: true,
    name: false,
};

/// A domain argument, positional or as `--domain`.
#[derive(clap::Args, Debug, Clone)]
pub struct DomArg {
    /// Domain name, id or uuid.
    #[arg(value_name = "DOMAIN", required_unless_present = "domain_opt")]
    domain: Option<String>,
    /// Domain name, id or uuid.
    #[arg(long = "domain", value_name = "DOMAIN", conflicts_with = "domain")]
    domain_opt: Option<String>,
}

impl DomArg {
    /// The argument as given.
    pub fn get(&self) -> &str {
        self.domain
            .as_deref()
            .or(self.domain_opt.as_deref())
            .expect("clap requires one of the two")
    }
}

/// A resolved domain argument.
#[derive(Debug, Clone)]
pub struct Target {
    /// The argument as given (virsh's messages quote it).
    pub arg: String,
    /// The domain found.
    pub domain: proto::Domain,
    /// How to address it from now on.
    pub lookup: DomainLookup,
}

/// Resolves `arg` as virsh's `virshCommandOptDomainBy` does.
pub async fn resolve(conn: &Connection, arg: &str, by: By) -> Result<Target, CliError> {
    let found = if by == ANY {
        conn.lookup(&DomainLookup::Any(arg.to_string())).await
    } else {
        lookup_by(conn, arg, by).await
    };
    let domain = found.map_err(|source| CliError::Lookup {
        arg: arg.to_string(),
        source: Box::new(source),
    })?;
    let lookup = match Uuid::parse(&domain.uuid) {
        Some(u) => DomainLookup::Uuid(u),
        None => DomainLookup::Name(domain.name.clone()),
    };
    Ok(Target {
        arg: arg.to_string(),
        domain,
        lookup,
    })
}

/// Tries each allowed kind in virsh's order; a NO_DOMAIN miss moves on to the next.
async fn lookup_by(conn: &Connection, arg: &str, by: By) -> Result<proto::Domain, ClientError> {
    let mut attempts = Vec::new();
    if by.id {
        if let Ok(id) = arg.parse::<u32>() {
            attempts.push(DomainLookup::Id(id));
        }
    }
    if by.uuid {
        if let Some(u) = Uuid::parse(arg) {
            attempts.push(DomainLookup::Uuid(u));
        }
    }
    if by.name {
        attempts.push(DomainLookup::Name(arg.to_string()));
    }
    let mut last = None;
    for attempt in attempts {
        match conn.lookup(&attempt).await {
            Ok(d) => return Ok(d),
            Err(e) if e.code() == ErrorCode::NoDomain => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        ClientError::Virt(virt_core::VirtError::new(
            ErrorCode::NoDomain,
            virt_core::ErrorDomain::Domain,
            format!("no domain matching '{arg}'"),
        ))
    }))
}
