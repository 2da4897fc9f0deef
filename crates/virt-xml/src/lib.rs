//! virt-xml: libvirt-compatible XML for the domain model of virt-core — domain definitions,
//! test-driver `<node>` files, snapshots, capabilities and domain capabilities.
//!
//! # What this crate owns
//!
//! [`LibvirtXml`] implements [`virt_core::xml::DomainXmlCodec`]: it turns libvirt XML into the
//! typed model in `virt_core::model` and prints the model back byte for byte as libvirt 9.0's
//! `virsh dumpxml` does (element order, two-space indentation, single-quoted attributes, KiB
//! units, the defaults libvirt fills in).
//!
//! # What it refuses
//!
//! libvirt silently drops XML it does not understand; this crate does not. Every element,
//! attribute and stray text the parser does not read is an error naming its XPath
//! (`unsupported element /domain/devices/foo`, XML_DETAIL), values outside libvirt's word
//! lists are XML_ERROR, values libvirt knows but this project cannot honour are
//! CONFIG_UNSUPPORTED. Documents that are not well-formed, carry a DTD or entity declarations,
//! exceed 10 MiB, nest deeper than 64 elements or hold more than 200 000 elements are
//! XML_ERROR with a line and column. No input makes it panic.
//!
//! # Why quick-xml
//!
//! quick-xml is the project's chosen XML crate: a pull parser in safe Rust with no C
//! dependency (libxml2 is what libvirt uses and what we leave behind), no DTD processing or
//! entity expansion to disable, no network access, and events small enough to build the strict
//! element tree in [`dom`] on top of. Formatting does not need it: libvirt's output style is
//! simple enough to write directly ([`writer`]).

#![warn(missing_docs)]

/// Host capabilities and domain capabilities output.
pub mod caps;
/// `<devices>` and every device element.
pub mod devices;
/// The owned element tree built from quick-xml events, with the well-formedness checks.
pub mod dom;
/// `<domain>`: top-level parse and format, and libvirt's post-parse normalisations.
pub mod domain;
/// [`XmlError`] and its libvirt error numbers.
pub mod error;
/// The define-time check against a driver's honoured set.
pub mod honour;
/// `<metadata>`: foreign-namespace application data kept as written.
pub mod metadata;
pub mod network;
/// Test-driver `<node>` files.
pub mod node;
/// `<domainsnapshot>`.
pub mod snapshot;
/// `<pool>` and `<volume>`.
pub mod storage;
/// The strict cursor that turns anything unread into an error.
pub mod strict;
/// Scaled integers and memory units.
pub mod units;
/// libvirt-style XML output.
pub mod writer;

pub use error::XmlError;

use virt_core::error::{ErrorDomain, VirtError};
use virt_core::honour::Honoured;
use virt_core::model::{Capabilities, DomainCapabilities, DomainDef, NodeDef, SnapshotDef};
use virt_core::xml::{DomainXmlCodec, FormatOptions};

/// The libvirt XML codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct LibvirtXml;

/// Parses `xml` and checks that its root is the unprefixed element `expected`.
pub(crate) fn parse_root(
    xml: &str,
    document: &'static str,
    expected: &'static str,
) -> Result<dom::Element, XmlError> {
    let root = dom::parse(xml, document)?;
    if root.prefix.is_some() || root.name != expected {
        return Err(XmlError::WrongRoot {
            expected,
            found: root.qname(),
        });
    }
    Ok(root)
}

/// Parses a `<domain>` document into the model.
///
/// Unknown elements, attributes and stray text do not stop the parse: every one in the
/// document is reported, together with the error that ended the parse if any, as one
/// [`XmlError::Several`] (or the single problem when there is only one). A document that is
/// not well-formed XML is one `Malformed` error.
pub fn parse_domain(xml: &str) -> Result<DomainDef, XmlError> {
    let root = parse_root(xml, "(domain_definition)", "domain")?;
    let (cursor, problems) = strict::Cursor::collecting(&root, "/domain");
    let outcome = domain::parse(cursor);
    problems.into_result(outcome)
}

impl DomainXmlCodec for LibvirtXml {
    fn parse_domain(&self, xml: &str) -> Result<DomainDef, VirtError> {
        let mut def = parse_domain(xml).map_err(|e| e.into_virt(ErrorDomain::Domain))?;
        def.devices.clear_generated_aliases();
        // A backing chain is live state (libvirt reads it from status XML only).
        for d in &mut def.devices.disks {
            d.backing_chain.clear();
        }
        // libvirt's inactive parse blanks generated host device names (`vnet3`).
        let virt_type = def.virt_type.clone();
        for n in &mut def.devices.interfaces {
            if n.target_dev
                .as_deref()
                .is_some_and(|t| devices::is_generated_ifname(t, &virt_type))
            {
                n.target_dev = None;
            }
        }
        Ok(def)
    }

    fn parse_live_domain(&self, xml: &str) -> Result<DomainDef, VirtError> {
        parse_domain(xml).map_err(|e| e.into_virt(ErrorDomain::Domain))
    }

    fn format_domain(&self, def: &DomainDef, opts: FormatOptions) -> String {
        domain::format(def, opts)
    }

    fn parse_node(&self, xml: &str) -> Result<NodeDef, VirtError> {
        node::parse(xml).map_err(|e| e.into_virt(ErrorDomain::Domain))
    }

    fn format_capabilities(&self, caps: &Capabilities) -> String {
        caps::format_capabilities(caps)
    }

    fn format_domain_capabilities(&self, caps: &DomainCapabilities) -> String {
        caps::format_domain_capabilities(caps)
    }

    fn parse_metadata_element(
        &self,
        xml: &str,
    ) -> Result<virt_core::model::xmlnode::XmlElement, VirtError> {
        metadata::parse_element(xml).map_err(|e| e.into_virt(ErrorDomain::Domain))
    }

    fn format_metadata_element(&self, el: &virt_core::model::xmlnode::XmlElement) -> String {
        metadata::format_element(el)
    }

    fn parse_snapshot(&self, xml: &str) -> Result<SnapshotDef, VirtError> {
        snapshot::parse(xml).map_err(|e| e.into_virt(ErrorDomain::DomainSnapshot))
    }

    fn check_honoured(&self, def: &DomainDef, honoured: &Honoured) -> Result<(), VirtError> {
        honour::check(def, honoured).map_err(|e| e.into_virt(ErrorDomain::Domain))
    }

    fn network_codec(&self) -> Option<std::sync::Arc<dyn virt_core::network::NetworkXmlCodec>> {
        Some(std::sync::Arc::new(LibvirtXml))
    }

    fn storage_codec(&self) -> Option<std::sync::Arc<dyn virt_core::storage::StorageXmlCodec>> {
        Some(std::sync::Arc::new(LibvirtXml))
    }
}

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod lxc_tests;
#[cfg(test)]
mod tests;
