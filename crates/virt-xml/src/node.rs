//! Test-driver `<node>` files (`test:///ABSOLUTE/PATH.xml`): host CPU and memory facts, inline
//! domains with their test-namespace state (`<test:runstate>`, `<test:transient/>`,
//! `<test:hasmanagedsave/>`, `<test:domainsnapshot>`), and the networks, pools, interfaces
//! and node devices this project does not serve yet, which are counted and skipped.
//!
//! A domain that fails to parse fails the whole file, with the file-level XPath
//! (`/node/domain[3]/devices/foo`).

use virt_core::model::node::{NodeCpu, NodeDef, NodeDomain};
use virt_core::state::{DomainState, StateReason};

use crate::dom::{Element, Node};
use crate::strict::{parse_u32, parse_u64, Cursor};
use crate::XmlError;

/// Namespace of the test driver's per-domain elements.
pub const TEST_NS: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// Top-level objects of a node file that are read and skipped.
const SKIPPED: &[&str] = &["network", "interface", "device"];

/// Parses a `<node>` document.
pub fn parse(xml: &str) -> Result<NodeDef, XmlError> {
    let root = crate::parse_root(xml, "(node_definition)", "node")?;
    let mut c = Cursor::new(&root, "/node");
    let mut node = NodeDef::default();
    if let Some(cpu) = c.child("cpu")? {
        node.cpu = parse_cpu(cpu)?;
    }
    if let Some(mut m) = c.child("memory")? {
        let text = m.text()?;
        node.memory_kib =
            parse_u64(text.trim()).ok_or_else(|| m.invalid_text(&text, "expected KiB"))?;
        m.finish()?;
    }
    let mut domains = 0;
    let mut pools = 0;
    for (name, e) in c.all_children() {
        let el = e.element();
        if el.prefix.is_some() {
            return Err(XmlError::UnknownElement {
                path: format!("/node/{}", el.qname()),
            });
        }
        match name.as_str() {
            "cpu" | "memory" => {}
            "domain" => {
                domains += 1;
                node.domains
                    .push(parse_domain(el, &format!("/node/domain[{domains}]"))?);
            }
            "network" => {
                node.networks.push(crate::network::parse_element(el)?);
                node.skipped_objects.push(name);
            }
            "pool" => {
                pools += 1;
                node.pools.push(crate::storage::parse_pool_at(
                    el,
                    &format!("/node/pool[{pools}]"),
                )?);
            }
            n if SKIPPED.contains(&n) => node.skipped_objects.push(name),
            _ => {
                return Err(XmlError::UnknownElement {
                    path: format!("/node/{name}"),
                })
            }
        }
    }
    c.finish()?;
    Ok(node)
}

fn parse_cpu(mut c: Cursor<'_>) -> Result<NodeCpu, XmlError> {
    let mut cpu = NodeCpu::default();
    for (name, slot) in [
        ("nodes", &mut cpu.nodes),
        ("sockets", &mut cpu.sockets),
        ("cores", &mut cpu.cores),
        ("threads", &mut cpu.threads),
        ("active", &mut cpu.active),
        ("mhz", &mut cpu.mhz),
    ] {
        if let Some(mut e) = c.child(name)? {
            let text = e.text()?;
            *slot = parse_u32(text.trim())
                .filter(|n| *n > 0)
                .ok_or_else(|| e.invalid_text(&text, "expected a positive integer"))?;
            e.finish()?;
        }
    }
    if let Some(model) = c.child_text("model")? {
        cpu.model = model.trim().to_string();
    }
    let total = u64::from(cpu.nodes)
        * u64::from(cpu.sockets)
        * u64::from(cpu.cores)
        * u64::from(cpu.threads);
    if u64::from(cpu.active) > total {
        return Err(XmlError::Invalid {
            path: format!("{}/active", c.path()),
            message: format!(
                "{} active CPUs exceed the {total} the topology has",
                cpu.active
            ),
        });
    }
    c.finish()?;
    Ok(cpu)
}

/// Splits the test-namespace children off a `<domain>` and parses both parts.
fn parse_domain(el: &Element, path: &str) -> Result<NodeDomain, XmlError> {
    let mut plain = el.clone();
    let mut extras = el.clone();
    let is_test = |n: &Node| matches!(n, Node::Element(e) if e.prefix.is_some() && e.ns.as_deref() == Some(TEST_NS));
    plain.children.retain(|n| !is_test(n));
    extras.children.retain(is_test);
    extras.attrs.clear();
    let def = crate::domain::parse(Cursor::new(&plain, path))?;
    let mut nd = NodeDomain {
        def,
        ..NodeDomain::default()
    };
    let mut x = Cursor::new(&extras, path);
    if let Some(mut r) = x.child_in(Some(TEST_NS), "runstate")? {
        let text = r.text()?;
        let n = parse_u32(text.trim())
            .filter(|n| *n <= 7)
            .ok_or_else(|| r.invalid_text(&text, "expected a domain state number from 0 to 7"))?;
        r.finish()?;
        nd.runstate = Some(StateReason::new(DomainState::from_number(n as i32), 0));
    }
    nd.transient = empty_flag(&mut x, "transient")?;
    nd.has_managed_save = empty_flag(&mut x, "hasmanagedsave")?;
    if nd.transient && nd.runstate.is_some_and(|r| !r.state.is_active()) {
        return Err(XmlError::Invalid {
            path: format!("{path}/test:transient"),
            message: "a transient domain cannot be defined in an inactive state".into(),
        });
    }
    for s in x.children_in(Some(TEST_NS), "domainsnapshot") {
        nd.snapshots.push(crate::snapshot::parse_element(s)?);
    }
    x.finish()?;
    Ok(nd)
}

fn empty_flag(x: &mut Cursor<'_>, name: &str) -> Result<bool, XmlError> {
    match x.child_in(Some(TEST_NS), name)? {
        None => Ok(false),
        Some(mut e) => {
            e.text()?;
            e.finish()?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{corpus, LIVE, TEST_DOMAIN};
    use crate::LibvirtXml;
    use virt_core::state::DomainState;
    use virt_core::xml::DomainXmlCodec;
    use virt_core::ErrorCode;

    #[test]
    fn node_testdefault_gives_the_running_test_domain_and_cpu_facts() {
        let text = std::fs::read_to_string(corpus("node-xml/testdefault.xml")).expect("corpus");
        let node = LibvirtXml
            .parse_node(&text)
            .expect("testdefault.xml parses");
        let c = &node.cpu;
        assert_eq!(
            (c.nodes, c.sockets, c.cores, c.threads, c.active, c.mhz),
            (2, 2, 2, 2, 16, 4000)
        );
        assert_eq!(c.model, "i686");
        assert_eq!(node.memory_kib, 10_000_000);
        assert_eq!(node.domains.len(), 1);
        let d = &node.domains[0];
        assert_eq!(d.def.name, "test");
        assert_eq!(
            d.runstate.map_or(DomainState::Running, |r| r.state),
            DomainState::Running
        );
        assert_eq!(
            node.skipped_objects,
            ["network", "device", "device", "device", "device"]
        );
        assert_eq!(LibvirtXml.format_domain(&d.def, LIVE), TEST_DOMAIN);
    }

    #[test]
    fn node_test_namespace_sets_state_and_snapshots() {
        let xml = "<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
          <domain type='test'><name>a</name><memory>1024</memory><bootloader>/b</bootloader>
            <test:runstate>5</test:runstate><test:hasmanagedsave/>
            <test:domainsnapshot><name>s1</name><state>shutoff</state><creationTime>12</creationTime></test:domainsnapshot>
          </domain>
          <domain type='test'><name>b</name><memory>1024</memory><os><type>hvm</type></os><test:transient/></domain>
        </node>";
        let node = LibvirtXml.parse_node(xml).expect("valid node");
        let a = &node.domains[0];
        assert_eq!(a.runstate.map(|r| r.state), Some(DomainState::Shutoff));
        assert!(a.has_managed_save && !a.transient);
        assert_eq!(a.def.os.os_type, "xen");
        assert_eq!(a.snapshots[0].name.as_deref(), Some("s1"));
        assert_eq!(a.snapshots[0].creation_time, Some(12));
        assert!(node.domains[1].transient);
        assert_eq!(node.cpu, virt_core::model::node::NodeCpu::default());
        assert_eq!(
            node.memory_kib,
            virt_core::model::node::DEFAULT_NODE_MEMORY_KIB
        );
        let bad = xml.replace("<test:runstate>5", "<test:runstate>9");
        let e = LibvirtXml.parse_node(&bad).expect_err("out of range");
        assert!(
            e.message().contains("/node/domain[1]/test:runstate"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn node_with_an_unsupported_domain_fails_with_the_file_level_xpath() {
        let text = std::fs::read_to_string(corpus("node-xml/testdriver.xml")).expect("corpus");
        let e = LibvirtXml
            .parse_node(&text)
            .expect_err("test-many-devices uses unsupported elements");
        assert_eq!(e.code, ErrorCode::XmlDetail);
        assert_eq!(e.message(), "unsupported element /node/domain[3]/genid");
        let e = LibvirtXml
            .parse_node("<node><frob/></node>")
            .expect_err("unknown object");
        assert_eq!(e.message(), "unsupported element /node/frob");
    }
}
