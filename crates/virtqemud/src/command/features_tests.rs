//! `<features>` and clock properties against libvirt 9.0's `virsh domxml-to-native` output
//! for the same XML (QEMU 7.2).

use virt_core::error::ErrorCode;

use super::super::build;
use super::super::tests::ctx;

fn domain(virt: &str, machine: &str, features: &str, cpu: &str, timers: &str) -> String {
    format!(
        "<domain type='{virt}'><name>demo</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>\
         <memory unit='MiB'>128</memory><os><type arch='x86_64' machine='{machine}'>hvm</type></os>\
         <features><acpi/>{features}</features>{cpu}<clock offset='utc'>{timers}</clock>\
         <devices><memballoon model='none'/></devices></domain>"
    )
}

fn args(xml: &str) -> Vec<String> {
    let def = virt_xml::parse_domain(xml).expect("test XML parses");
    build(&def, &ctx()).expect("builds").args
}

/// The value after the first `flag`.
fn value<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args.iter().position(|a| a == flag).expect(flag);
    &args[i + 1]
}

/// The Hyper-V set virt-install gives Windows guests.
const WINDOWS: &str = "<hyperv><relaxed state='on'/><vapic state='on'/>\
    <spinlocks state='on' retries='8191'/><vpindex state='on'/><runtime state='on'/>\
    <synic state='on'/><stimer state='on'/><reset state='on'/><frequencies state='on'/>\
    <tlbflush state='on'/></hyperv>";
const WINDOWS_CLOCK: &str = "<timer name='rtc' tickpolicy='catchup'/><timer name='pit' \
    tickpolicy='delay'/><timer name='hpet' present='no'/><timer name='hypervclock' present='yes'/>";

#[test]
fn the_windows_hyperv_set_follows_libvirt_and_drops_vpindex_under_tcg() {
    // libvirt 9.0, type='kvm': the same list with hv-vpindex=on after hv-spinlocks.
    let kvm = args(&domain("kvm", "pc", WINDOWS, "", WINDOWS_CLOCK));
    assert_eq!(
        value(&kvm, "-cpu"),
        "qemu64,hv-time=on,hv-relaxed=on,hv-vapic=on,hv-spinlocks=0x1fff,hv-vpindex=on,\
         hv-runtime=on,hv-synic=on,hv-stimer=on,hv-reset=on,hv-frequencies=on,hv-tlbflush=on"
    );
    // type='qemu': QEMU 7.2 refuses hv-vpindex under TCG, so it is left out.
    let tcg = args(&domain("qemu", "pc", WINDOWS, "", WINDOWS_CLOCK));
    assert_eq!(
        value(&tcg, "-cpu"),
        "qemu64,hv-time=on,hv-relaxed=on,hv-vapic=on,hv-spinlocks=0x1fff,\
         hv-runtime=on,hv-synic=on,hv-stimer=on,hv-reset=on,hv-frequencies=on,hv-tlbflush=on"
    );
    assert!(tcg.iter().any(|a| a == "-no-hpet"));
}

const ALL: &str = "<apic/><hyperv mode='custom'><relaxed state='on'/><vapic state='on'/>\
    <spinlocks state='on' retries='4096'/><vpindex state='on'/><runtime state='on'/>\
    <synic state='on'/><stimer state='on'><direct state='on'/></stimer><reset state='on'/>\
    <vendor_id state='on' value='KVM Hv'/><frequencies state='on'/>\
    <reenlightenment state='on'/><tlbflush state='on'/><ipi state='on'/><evmcs state='on'/>\
    <avic state='on'/></hyperv><kvm><hidden state='on'/><hint-dedicated state='on'/>\
    <poll-control state='on'/><pv-ipi state='off'/><dirty-ring state='on' size='4096'/></kvm>\
    <pvspinlock state='on'/><pmu state='off'/><vmport state='off'/><smm state='on'/>\
    <ioapic driver='kvm'/><vmcoreinfo state='on'/>";
const ALL_CLOCK: &str = "<timer name='hypervclock' present='yes'/>\
    <timer name='kvmclock' present='no'/><timer name='hpet' present='no'/>";

#[test]
fn every_feature_libvirt_9_writes_for_x86_kvm_is_written_the_same() {
    let a = args(&domain("kvm", "q35", ALL, "", ALL_CLOCK));
    assert_eq!(
        value(&a, "-machine"),
        "pc-q35-7.2,usb=off,vmport=off,smm=on,kernel_irqchip=on,dump-guest-core=off,\
         memory-backend=pc.ram"
    );
    assert_eq!(value(&a, "-accel"), "kvm,dirty-ring-size=4096");
    assert_eq!(
        value(&a, "-cpu"),
        "qemu64,hv-time=on,kvmclock=off,kvm-pv-unhalt=on,hv-relaxed=on,hv-vapic=on,\
         hv-spinlocks=0x1000,hv-vpindex=on,hv-runtime=on,hv-synic=on,hv-stimer=on,\
         hv-stimer-direct=on,hv-reset=on,hv-vendor-id=KVM Hv,hv-frequencies=on,\
         hv-reenlightenment=on,hv-tlbflush=on,hv-ipi=on,hv-evmcs=on,hv-avic=on,kvm=off,\
         kvm-hint-dedicated=on,kvm-poll-control=on,kvm-pv-ipi=off,pmu=off"
    );
    // The vmcoreinfo device comes after the other devices, right before -sandbox.
    let sandbox = a.iter().position(|x| x == "-sandbox").expect("sandbox");
    assert_eq!(
        a[sandbox - 2..sandbox],
        ["-device", r#"{"driver":"vmcoreinfo"}"#]
    );

    let pt = ALL.replace("mode='custom'", "mode='passthrough'");
    let a = args(&domain("kvm", "q35", &pt, "", ALL_CLOCK));
    assert!(
        value(&a, "-cpu").starts_with(
            "qemu64,hv-time=on,kvmclock=off,kvm-pv-unhalt=on,hv-passthrough=on,hv-relaxed=on,"
        ),
        "{}",
        value(&a, "-cpu")
    );
}

#[test]
fn cpu_model_features_come_first_and_clocks_keep_their_document_order() {
    // libvirt 9.0, type='qemu': -cpu Westmere,vmx=on,lahf-lm=off,hv-time=on,kvmclock=off,...
    let cpu = "<cpu mode='custom' match='exact'><model>Westmere</model>\
        <feature policy='require' name='vmx'/><feature policy='disable' name='lahf_lm'/></cpu>";
    let a = args(&domain(
        "qemu",
        "q35",
        "<hyperv><relaxed state='on'/></hyperv><kvm><hidden state='on'/></kvm><pmu state='off'/>",
        cpu,
        "<timer name='hypervclock' present='yes'/><timer name='kvmclock' present='no'/>",
    ));
    assert_eq!(
        value(&a, "-cpu"),
        "Westmere,vmx=on,lahf-lm=off,hv-time=on,kvmclock=off,hv-relaxed=on,kvm=off,pmu=off"
    );
    let a = args(&domain(
        "qemu",
        "pc",
        "",
        "",
        "<timer name='kvmclock' present='no'/><timer name='hypervclock' present='yes'/>",
    ));
    assert_eq!(value(&a, "-cpu"), "qemu64,kvmclock=off,hv-time=on");
}

#[test]
fn features_that_are_off_or_absent_add_nothing_but_qemus_tristates() {
    let off = "<hyperv><relaxed state='off'/><spinlocks state='off'/><vendor_id state='off'/>\
        <stimer state='off'/></hyperv><kvm><hidden state='off'/><hint-dedicated state='off'/>\
        <poll-control state='off'/><pv-ipi state='on'/><dirty-ring state='off'/></kvm>\
        <pvspinlock state='off'/><pmu state='on'/><smm state='off'/><vmcoreinfo state='off'/>";
    let a = args(&domain(
        "kvm",
        "pc",
        off,
        "",
        "<timer name='hypervclock' present='no'/><timer name='kvmclock' present='yes'/>",
    ));
    // libvirt 9.0: -machine pc-i440fx-7.2,usb=off,smm=off,... -cpu qemu64,kvmclock=on,...
    assert_eq!(
        value(&a, "-cpu"),
        "qemu64,kvmclock=on,kvm-pv-unhalt=off,pmu=on"
    );
    assert_eq!(
        value(&a, "-machine"),
        "pc-i440fx-7.2,usb=off,smm=off,dump-guest-core=off,memory-backend=pc.ram"
    );
    assert_eq!(value(&a, "-accel"), "kvm");
    assert!(!a.iter().any(|x| x.contains("vmcoreinfo")));
    // Nothing at all: no -cpu without a <cpu> (the post-parse step adds qemu64 at define).
    let plain = args(&domain("qemu", "pc", "", "", ""));
    assert!(!plain.iter().any(|x| x == "-cpu"));
}

#[test]
fn ioapic_driver_sets_the_irqchip_and_tcg_has_no_dirty_ring() {
    let a = args(&domain("qemu", "q35", "<ioapic driver='qemu'/>", "", ""));
    assert_eq!(
        value(&a, "-machine"),
        "pc-q35-7.2,usb=off,kernel_irqchip=split,dump-guest-core=off,memory-backend=pc.ram"
    );
    let a = args(&domain(
        "qemu",
        "pc",
        "<kvm><dirty-ring state='on' size='4096'/></kvm>",
        "",
        "",
    ));
    assert_eq!(value(&a, "-accel"), "tcg");
}

#[test]
fn pvspinlock_under_tcg_is_refused_as_libvirt_refuses_it() {
    let def = virt_xml::parse_domain(&domain("qemu", "pc", "<pvspinlock state='on'/>", "", ""))
        .expect("parses");
    let e = build(&def, &ctx()).expect_err("refused");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(e.detail.contains("paravirtual spinlocks"), "{}", e.detail);
    let kvm = args(&domain("kvm", "pc", "<pvspinlock state='on'/>", "", ""));
    assert_eq!(value(&kvm, "-cpu"), "qemu64,kvm-pv-unhalt=on");
}

#[test]
fn define_honours_what_is_implemented_and_names_msrs_as_refused() {
    use virt_core::xml::DomainXmlCodec;
    let codec = virt_xml::LibvirtXml;
    let h = super::super::honoured();
    let full = domain("kvm", "q35", ALL, "", ALL_CLOCK).replace(
        "<os>",
        "<resource><partition>/machine</partition></resource>\
         <sysinfo type='smbios'><bios><entry name='vendor'>v</entry></bios></sysinfo>\
         <sysinfo type='fwcfg'><entry name='opt/x' file='/y'/></sysinfo><os>",
    );
    let full = full.replace("</type></os>", "</type><smbios mode='sysinfo'/></os>");
    let d = virt_xml::parse_domain(&full).expect("parses");
    codec.check_honoured(&d, &h).expect("honoured");
    let msrs = virt_xml::parse_domain(&domain("kvm", "pc", "<msrs unknown='ignore'/>", "", ""))
        .expect("parses");
    let e = codec.check_honoured(&msrs, &h).expect_err("msrs");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(
        e.violations
            .iter()
            .any(|v| v.path == "/domain/features/msrs"),
        "{:?}",
        e.violations
    );
}
