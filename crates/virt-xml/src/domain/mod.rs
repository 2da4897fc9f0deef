//! `<domain>`: the top-level parse and format, in libvirt's element order.
//!
//! Parsing reads each element with a `Cursor` (so nothing unread passes silently), then
//! `postparse` applies the normalisations libvirt's generic post-parse step makes (defaults,
//! disk order, serial/console pairing, boot checks). Formatting prints the model in the order
//! of libvirt's `virDomainDefFormatInternal`.

mod cpu;
mod cputune;
mod features;
mod general;
mod implicit;
mod os;
pub(crate) mod postparse;
mod sysinfo;
mod tuning;

use virt_core::model::DomainDef;
use virt_core::uuid::Uuid;
use virt_core::xml::FormatOptions;

use crate::devices;
use crate::metadata;
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

/// Domain types libvirt knows (`virDomainVirt`).
const VIRT_TYPES: &[&str] = &[
    "none",
    "qemu",
    "kqemu",
    "kvm",
    "xen",
    "lxc",
    "uml",
    "openvz",
    "test",
    "vmware",
    "hyperv",
    "vbox",
    "phyp",
    "parallels",
    "bhyve",
    "vz",
    "hvf",
];

/// libvirt's QEMU namespace (`<qemu:commandline>`).
pub(crate) const QEMU_NS: &str = "http://libvirt.org/schemas/domain/qemu/1.0";
/// libvirt's LXC namespace (`<lxc:namespace>`).
pub(crate) const LXC_NS: &str = "http://libvirt.org/schemas/domain/lxc/1.0";
/// libvirt's Xen namespace (`<xen:commandline>`).
pub(crate) const XEN_NS: &str = "http://libvirt.org/schemas/domain/xen/1.0";

/// Top-level elements this parser reads.
const KNOWN: &[&str] = &[
    "name",
    "uuid",
    "title",
    "description",
    "metadata",
    "memory",
    "maxMemory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "iothreads",
    "iothreadids",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
];

/// Parses a `<domain>` element whose XPath the cursor carries.
pub fn parse(mut c: Cursor<'_>) -> Result<DomainDef, XmlError> {
    // Name unknown elements first: they explain later failures (no <memory> because the
    // size sits in an unsupported <numa>, say) better than those failures do.
    c.refuse_elements(|e| match e.prefix {
        Some(_) => {
            !((e.ns.as_deref() == Some(QEMU_NS) && e.name == "commandline")
                || (e.ns.as_deref() == Some(LXC_NS) && e.name == "namespace")
                || (e.ns.as_deref() == Some(XEN_NS) && e.name == "commandline"))
        }
        None => !KNOWN.contains(&e.name.as_str()),
    })?;
    let mut def = DomainDef::default();
    let virt_type = c.attr_req("type")?;
    if !VIRT_TYPES.contains(&virt_type) {
        return Err(XmlError::Unsupported {
            path: c.attr_path("type"),
            message: format!("invalid domain type '{virt_type}'"),
        });
    }
    def.virt_type = virt_type.to_string();
    // The runtime ID is ignored on input, as libvirt does.
    if let Some(id) = c.attr("id") {
        if crate::strict::parse_i32(id).is_none() {
            return Err(c.invalid_attr("id", id, "expected an integer"));
        }
    }
    let uuid_given = sysinfo::uuid_given(c.element());
    parse_identity(&mut c, &mut def)?;
    general::parse_memory(&mut c, &mut def)?;
    tuning::parse_blkiotune(&mut c, &mut def)?;
    tuning::parse_memtune(&mut c, &mut def)?;
    tuning::parse_memory_backing(&mut c, &mut def)?;
    general::parse_vcpu(&mut c, &mut def)?;
    cputune::parse_iothreads(&mut c, &mut def)?;
    cputune::parse_cputune(&mut c, &mut def)?;
    general::parse_numatune(&mut c, &mut def)?;
    general::parse_resource(&mut c, &mut def)?;
    sysinfo::parse(&mut c, &mut def)?;
    sysinfo::reconcile_uuid(&mut def, uuid_given, c.path())?;
    def.bootloader = non_empty(c.child_text("bootloader")?);
    def.bootloader_args = non_empty(c.child_text("bootloader_args")?);
    os::parse(&mut c, &mut def)?;
    tuning::parse_idmap(&mut c, &mut def)?;
    features::parse_features(&mut c, &mut def)?;
    cpu::parse_cpu(&mut c, &mut def)?;
    cpu::parse_clock(&mut c, &mut def)?;
    general::parse_lifecycle(&mut c, &mut def)?;
    general::parse_pm(&mut c, &mut def)?;
    general::parse_perf(&mut c, &mut def)?;
    if let Some(d) = c.child("devices")? {
        def.devices = devices::parse(d)?;
    }
    general::parse_seclabels(&mut c, &mut def)?;
    if let Some(q) = c.child_in(Some(QEMU_NS), "commandline")? {
        def.qemu_commandline = Some(general::parse_qemu_commandline(q)?);
    }
    if let Some(mut x) = c.child_in(Some(XEN_NS), "commandline")? {
        if def.virt_type != "xen" {
            return Err(XmlError::Unsupported {
                path: x.path().to_string(),
                message: "the Xen namespace applies only to type='xen' domains".into(),
            });
        }
        let mut args = Vec::new();
        for mut a in x.children_in(Some(XEN_NS), "arg") {
            args.push(a.attr_req("value")?.to_string());
            a.finish()?;
        }
        x.finish()?;
        def.xen_commandline = Some(args);
    }
    if let Some(n) = c.child_in(Some(LXC_NS), "namespace")? {
        def.lxc_namespace = Some(general::parse_lxc_namespace(n)?);
    }
    let path = c.path().to_string();
    c.finish()?;
    postparse::apply(&mut def, &path)?;
    Ok(def)
}

fn parse_identity(c: &mut Cursor<'_>, def: &mut DomainDef) -> Result<(), XmlError> {
    let name_path = format!("{}/name", c.path());
    let name = c.child_text("name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(XmlError::MissingName {
            path: c.path().to_string(),
        });
    }
    if name.contains('/') {
        return Err(XmlError::Invalid {
            path: name_path,
            message: format!("name {name} cannot contain '/'"),
        });
    }
    if name.contains('\n') {
        return Err(XmlError::Invalid {
            path: name_path,
            message: "invalid char in name".into(),
        });
    }
    def.name = name;
    let uuid_path = format!("{}/uuid", c.path());
    def.uuid = match c.child_text("uuid")? {
        None => Uuid::random(),
        Some(text) => Uuid::parse(&text).ok_or(XmlError::BadUuid {
            path: uuid_path,
            value: text,
        })?,
    };
    let title_path = format!("{}/title", c.path());
    def.title = non_empty(c.child_text("title")?);
    if def.title.as_deref().is_some_and(|t| t.contains('\n')) {
        return Err(XmlError::Invalid {
            path: title_path,
            message: "domain title can't contain newlines".into(),
        });
    }
    def.description = non_empty(c.child_text("description")?);
    if let Some(m) = c.child("metadata")? {
        def.metadata = metadata::parse(m)?;
    }
    Ok(())
}

/// `None` for an absent or empty string, as libvirt's XPath string helper answers.
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Formats `def` as libvirt's `virDomainDefFormat` does.
pub fn format(def: &DomainDef, opts: FormatOptions) -> String {
    let mut w = Writer::default();
    w.live_aliases = !opts.inactive;
    let mut root = w.tag("domain").attr("type", &def.virt_type);
    if !opts.inactive {
        root = root.attr_opt("id", opts.id);
    }
    if def.qemu_commandline.is_some() {
        root = root.attr("xmlns:qemu", QEMU_NS);
    }
    if def.lxc_namespace.is_some() {
        root = root.attr("xmlns:lxc", LXC_NS);
    }
    if def.xen_commandline.is_some() {
        root = root.attr("xmlns:xen", XEN_NS);
    }
    root.open();
    w.tag("name").text(&def.name);
    w.tag("uuid").text(&def.uuid.to_string());
    w.text_elem("title", def.title.as_deref());
    w.text_elem("description", def.description.as_deref());
    if !def.metadata.is_empty() {
        w.tag("metadata").open();
        for m in &def.metadata {
            metadata::format(&mut w, m);
        }
        w.close("metadata");
    }
    general::format_memory_vcpu(&mut w, def);
    sysinfo::format(&mut w, def);
    w.text_elem("bootloader", def.bootloader.as_deref());
    w.text_elem("bootloader_args", def.bootloader_args.as_deref());
    os::format(&mut w, def);
    tuning::format_idmap(&mut w, def);
    features::format_features(&mut w, def);
    cpu::format_cpu(&mut w, def);
    cpu::format_clock(&mut w, def);
    general::format_lifecycle(&mut w, def);
    devices::format(&mut w, def, opts);
    general::format_seclabels(&mut w, def, opts);
    if let Some(q) = &def.qemu_commandline {
        general::format_qemu_commandline(&mut w, q);
    }
    if let Some(n) = &def.lxc_namespace {
        general::format_lxc_namespace(&mut w, n);
    }
    if let Some(args) = &def.xen_commandline {
        w.tag("xen:commandline").children(|w| {
            for a in args {
                w.tag("xen:arg").attr("value", a).empty();
            }
        });
    }
    w.close("domain");
    w.finish()
}
