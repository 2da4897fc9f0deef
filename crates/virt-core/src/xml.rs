//! The XML codec seam. The domain model lives here in virt-core, and virt-xml (which depends on
//! virt-core) turns it into libvirt XML and back. Drivers that live in virt-core, the in-memory
//! test driver first, take the codec as an `Arc<dyn DomainXmlCodec>`; virt-xml provides the
//! implementation (`virt_xml::LibvirtXml`). This keeps the crate graph acyclic while the test
//! driver stays in virt-core, as the architecture places it.

use crate::error::VirtError;
use crate::honour::Honoured;
use crate::model::{Capabilities, DomainCapabilities, DomainDef, NodeDef, SnapshotDef};

/// How to format a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatOptions {
    /// ID to put on the root element (`<domain id='1'>`); `None` for inactive XML.
    pub id: Option<u32>,
    /// Include secrets (graphics passwords).
    pub secure: bool,
    /// Inactive (next boot) form: no runtime-only data.
    pub inactive: bool,
}

/// Parses and formats libvirt XML documents.
///
/// Parse errors are [`VirtError`]s: XML_ERROR for malformed documents, XML_DETAIL or
/// CONFIG_UNSUPPORTED naming the XPath of an element or attribute that is unknown or out of
/// range, NO_NAME for a domain without a name.
pub trait DomainXmlCodec: Send + Sync + 'static {
    /// Parses a `<domain>` document as a definition (define, create, attach): device aliases
    /// a driver generated for some run are dropped, user aliases (`ua-...`) kept, as libvirt
    /// parses definitions.
    fn parse_domain(&self, xml: &str) -> Result<DomainDef, VirtError>;
    /// Parses the live definition of a running domain as a driver saved it (its status
    /// file): like [`DomainXmlCodec::parse_domain`], but every device alias is kept.
    fn parse_live_domain(&self, xml: &str) -> Result<DomainDef, VirtError>;
    /// Formats a domain in libvirt's canonical order and indentation.
    fn format_domain(&self, def: &DomainDef, opts: FormatOptions) -> String;
    /// Parses a `<node>` test-driver description.
    fn parse_node(&self, xml: &str) -> Result<NodeDef, VirtError>;
    /// Formats `<capabilities>`.
    fn format_capabilities(&self, caps: &Capabilities) -> String;
    /// Formats `<domainCapabilities>`.
    fn format_domain_capabilities(&self, caps: &DomainCapabilities) -> String;
    /// Parses a `<domainsnapshot>` document.
    fn parse_snapshot(&self, xml: &str) -> Result<SnapshotDef, VirtError>;
    /// Checks that a driver with the `honoured` set acts on everything `def` asks for:
    /// CONFIG_UNSUPPORTED with one violation per element, attribute or value it does not
    /// honour, each naming its XPath ([`crate::honour`]).
    fn check_honoured(&self, def: &DomainDef, honoured: &Honoured) -> Result<(), VirtError>;
    /// The network XML codec that goes with this one, when there is one (the test driver's
    /// networks need it; `None` leaves them out).
    fn network_codec(&self) -> Option<std::sync::Arc<dyn crate::network::NetworkXmlCodec>> {
        None
    }
    /// The `<pool>` / `<volume>` codec that goes with this one, when there is one (the test
    /// driver serves pools only with it).
    fn storage_codec(&self) -> Option<std::sync::Arc<dyn crate::storage::StorageXmlCodec>> {
        None
    }
    /// Parses one element given as a document of its own (virDomainSetMetadata's
    /// `metadata`), namespaced or not. XML_ERROR when it is not well-formed.
    fn parse_metadata_element(
        &self,
        xml: &str,
    ) -> Result<crate::model::xmlnode::XmlElement, VirtError> {
        let _ = xml;
        Err(VirtError::new(
            crate::error::ErrorCode::NoSupport,
            crate::error::ErrorDomain::Domain,
            "metadata elements",
        ))
    }
    /// Formats one element on its own, as libxml2 prints a node (virDomainGetMetadata).
    fn format_metadata_element(&self, el: &crate::model::xmlnode::XmlElement) -> String {
        let _ = el;
        String::new()
    }
}
