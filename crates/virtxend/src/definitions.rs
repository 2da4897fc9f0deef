//! The `Definitions` capability of the Xen driver: lookup, list, define (and its validation
//! dry run), undefine, info, state, XML, autostart. A definition is admitted only when it can
//! be written as the xl.cfg a start hands the toolstack, faithfully: what the conversion
//! cannot carry is refused at define, naming the element, never dropped at start.

use virt_core::driver::prelude::*;
use virt_core::driver::{DriverResult, ValidatedDomain};
use virt_core::error::{ErrorCode, ErrorDomain, Violation};
use virt_core::kit;
use virt_core::kit::flags::define::VALIDATE;
use virt_core::kit::keeper::Keeper;
use virt_core::kit::locate::located;
use virt_core::kit::table::Entry as _;
use virt_core::model::DomainDef;
use virt_core::state::StateReason;
use virt_core::types::{DomainHandle, DomainInfo, DomainLookup, DomainSummary};
use virt_core::VirtError;

use crate::domains::Dom;
use crate::XenDriver;

/// Fills what libvirt's Xen driver fills at parse: the architecture and the machine of the
/// guest type (`xenpv`, `xenfv`, `xenpvh`); the implicit devices: the xenbus controller, a Xen
/// memory balloon, and for a PV or PVH guest a mouse and a keyboard on the xen bus (an HVM
/// guest with graphics gets them on PS/2). A PV guest's type is written `linux`, as libvirt
/// writes it for compatibility, whether the XML said `xen` or `linux`.
pub(crate) fn post_parse(def: &mut DomainDef) {
    use virt_core::model::devices::{Controller, Memballoon};
    use virt_core::model::display::Input;
    use virt_core::model::enums::{ControllerType, InputBus, InputType, MemballoonModel};
    if def.os.os_type == "xen" {
        def.os.os_type = "linux".into();
    }
    if def.os.arch.is_none() {
        def.os.arch = Some(virt_core::hostinfo::host_arch());
    }
    if def.os.machine.is_none() {
        def.os.machine = match def.os.os_type.as_str() {
            "linux" => Some("xenpv".into()),
            "hvm" => Some("xenfv".into()),
            "xenpvh" => Some("xenpvh".into()),
            _ => None,
        };
    }
    let d = &mut def.devices;
    if !d
        .controllers
        .iter()
        .any(|c| c.controller_type == ControllerType::Xenbus)
    {
        d.controllers.push(Controller {
            controller_type: ControllerType::Xenbus,
            index: 0,
            ..Controller::default()
        });
    }
    let hvm = def.os.os_type == "hvm";
    let bus = if hvm { InputBus::Ps2 } else { InputBus::Xen };
    if !hvm || !d.graphics.is_empty() {
        for ty in [InputType::Mouse, InputType::Keyboard] {
            if !d
                .inputs
                .iter()
                .any(|i| i.input_type == ty && i.bus == Some(bus))
            {
                d.inputs.push(Input {
                    input_type: ty,
                    bus: Some(bus),
                    ..Input::default()
                });
            }
        }
    }
    if d.memballoon.is_none() {
        d.memballoon = Some(Memballoon {
            model: MemballoonModel::Xen,
            ..Memballoon::default()
        });
    }
}

impl XenDriver {
    /// Parses `xml` and checks that it is a Xen domain the toolstack can be given faithfully;
    /// with `validate`, errors carry the XPath they are at.
    pub(crate) fn parse(&self, xml: &str, validate: bool) -> DriverResult<DomainDef> {
        let loc = |e: VirtError| if validate { located(e) } else { e };
        let mut def = self.codec.parse_domain(xml).map_err(loc)?;
        self.admit(&mut def).map_err(loc)?;
        Ok(def)
    }

    /// Parses a live definition this driver wrote itself (status files).
    pub(crate) fn parse_live(&self, xml: &str) -> DriverResult<DomainDef> {
        let mut def = self.codec.parse_live_domain(xml)?;
        post_parse(&mut def);
        Ok(def)
    }

    fn admit(&self, def: &mut DomainDef) -> DriverResult<()> {
        if def.name.contains('/') {
            let detail = format!("name '{}' cannot contain '/'", def.name);
            let mut err = VirtError::new(ErrorCode::XmlError, ErrorDomain::Domain, detail);
            err.violations.push(Violation {
                path: "/domain/name".into(),
                description: err.message(),
            });
            return Err(err);
        }
        if def.virt_type != "xen" {
            let mut err = VirtError::new(
                ErrorCode::ConfigUnsupported,
                ErrorDomain::Libxl,
                format!(
                    "domain type '{}' is not supported by the Xen driver (use type='xen')",
                    def.virt_type
                ),
            );
            err.violations.push(Violation {
                path: "/domain/@type".into(),
                description: err.message(),
            });
            return Err(err);
        }
        post_parse(def);
        crate::xl::to_native(def).map(|_| ())
    }

    /// What the kit's definition calls borrow of the driver.
    pub(crate) fn keeper(&self) -> Keeper<'_, Dom> {
        Keeper {
            table: &self.state,
            store: &self.store,
            codec: &*self.codec,
            bus: &self.bus,
        }
    }

    /// Applies `edit` to the persistent definition of `lookup` and stores it, disk before
    /// memory.
    pub(crate) fn edit_config(
        &self,
        lookup: &DomainLookup,
        edit: impl FnOnce(&mut DomainDef) -> DriverResult<()>,
    ) -> DriverResult<()> {
        self.keeper().edit_config(lookup, edit)
    }
}

#[async_trait::async_trait]
impl Definitions for XenDriver {
    async fn lookup_domain(&self, lookup: &DomainLookup) -> DriverResult<DomainHandle> {
        Ok(self.lock().get(lookup)?.handle())
    }

    async fn list_all_domains(&self, flags: u32) -> DriverResult<Vec<DomainSummary>> {
        self.check_flags(flags, kit::flags::list::ALL, "libxlConnectListAllDomains")?;
        Ok(self.lock().list(flags))
    }

    async fn define_domain(&self, xml: &str, flags: u32) -> DriverResult<DomainHandle> {
        self.check_flags(flags, VALIDATE, "libxlDomainDefineXMLFlags")?;
        let validate = flags & VALIDATE != 0;
        let def = self.parse(xml, validate)?;
        // A running domain keeps running; the new definition applies at its next start.
        self.keeper()
            .define(def, validate, |d| Dom::new(d, false, true))
    }

    async fn validate_domain(&self, xml: &str, flags: u32) -> DriverResult<ValidatedDomain> {
        self.check_flags(flags, VALIDATE, "libxlDomainDefineXMLFlags")?;
        let def = self.parse(xml, true)?;
        self.keeper().validated(&def)
    }

    async fn undefine_domain(
        &self,
        lookup: &DomainLookup,
        flags: u32,
    ) -> DriverResult<DomainHandle> {
        kit::undefine::check_flags(flags, ErrorDomain::Libxl, "libxlDomainUndefineFlags")?;
        self.keeper().undefine(lookup)
    }

    /// Memory is the balloon target and CPU time Xen's while the domain runs.
    async fn domain_info(&self, lookup: &DomainLookup) -> DriverResult<(DomainHandle, DomainInfo)> {
        let (handle, mut info, domid) = {
            let st = self.lock();
            let d = st.get(lookup)?;
            let info = d.info();
            (d.handle(), info, d.run.as_ref().map(|r| r.id))
        };
        if let Some(id) = domid {
            if let Ok(list) = self.xl.list().await {
                if let Some(x) = list.iter().find(|x| x.id == id) {
                    info.cpu_time_ns = x.cpu_ns;
                    info.memory_kib = x.mem_mib * 1024;
                }
            }
        }
        Ok((handle, info))
    }

    async fn domain_state(
        &self,
        dom: &DomainLookup,
        flags: u32,
    ) -> DriverResult<(DomainHandle, StateReason)> {
        self.check_flags(flags, 0, "libxlDomainGetState")?;
        let st = self.lock();
        let d = st.get(dom)?;
        Ok((d.handle(), d.state()))
    }

    async fn domain_xml(&self, lookup: &DomainLookup, flags: u32) -> DriverResult<String> {
        self.check_flags(
            flags,
            virt_core::kit::flags::xml::ALL,
            "libxlDomainGetXMLDesc",
        )?;
        self.lock().domain_xml(lookup, flags, self.codec.as_ref())
    }

    async fn autostart(&self, dom: &DomainLookup) -> DriverResult<bool> {
        Ok(self.lock().get(dom)?.autostart)
    }

    async fn set_autostart(&self, lookup: &DomainLookup, on: bool) -> DriverResult<()> {
        self.lock().set_autostart(lookup, on, Some(&self.store))
    }
}
