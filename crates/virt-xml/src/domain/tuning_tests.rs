//! Tests of `<blkiotune>`, `<memtune>`, `<memoryBacking>`, `<iothreads>`, `<cputune>` and
//! `<idmap>`: expected text is libvirt 9.0's test driver output for the same input.

use virt_core::xml::{DomainXmlCodec, FormatOptions};
use virt_core::ErrorCode;

use crate::LibvirtXml;

fn doc(top: &str, after_os: &str) -> String {
    format!(
        "<domain type='test'><name>t</name><memory unit='MiB'>1024</memory>{top}\
         <os><type>hvm</type></os>{after_os}</domain>"
    )
}

/// Parses and formats `xml`, checking that the output is a fixed point and passes libvirt's
/// schema (`label` names the temporary file).
fn format(xml: &str, label: &str) -> String {
    let def = LibvirtXml.parse_domain(xml).expect("accepted");
    let out = LibvirtXml.format_domain(&def, FormatOptions::default());
    let again = LibvirtXml.parse_domain(&out).expect("own output parses");
    assert_eq!(again, def, "not a fixed point:\n{out}");
    if crate::corpus_tests::validator_present() {
        let label = format!("tuning-{label}");
        assert_eq!(
            crate::corpus_tests::validate(&out, "domain", &label),
            Some(Ok(()))
        );
    }
    out
}

fn refused(xml: &str, path: &str, value: &str) -> ErrorCode {
    let e = LibvirtXml.parse_domain(xml).expect_err(path);
    assert!(e.message().contains(path), "{path}: {}", e.message());
    assert!(e.message().contains(value), "{value}: {}", e.message());
    e.code
}

/// Input, in libvirt's test-driver session `virsh define t1.xml; dumpxml t1`.
const TUNED: &str = "<blkiotune><weight>500</weight>\
    <device><path>/dev/sda</path><weight>100</weight><read_bytes_sec>1000</read_bytes_sec>\
    <write_bytes_sec>2000</write_bytes_sec><read_iops_sec>10</read_iops_sec>\
    <write_iops_sec>20</write_iops_sec></device>\
    <device><path>/dev/sdb</path><write_iops_sec>20</write_iops_sec></device></blkiotune>\
    <memtune><swap_hard_limit unit='G'>4</swap_hard_limit><min_guarantee>5</min_guarantee>\
    <soft_limit unit='M'>1</soft_limit><hard_limit unit='MB'>3</hard_limit></memtune>\
    <memoryBacking><discard/><allocation mode='immediate' threads='4'/><access mode='shared'/>\
    <source type='memfd'/><locked/><nosharepages/><hugepages><page size='2' unit='M'/></hugepages>\
    </memoryBacking><vcpu>4</vcpu><iothreads>2</iothreads>\
    <cputune><iothreadpin iothread='1' cpuset='3'/><emulatorpin cpuset='1-3'/>\
    <vcpupin vcpu='1' cpuset='2,3'/><vcpupin vcpu='0' cpuset='1'/><shares>2048</shares>\
    <period>100000</period><quota>-1</quota><global_period>100000</global_period>\
    <global_quota>50000</global_quota><emulator_period>100000</emulator_period>\
    <emulator_quota>50000</emulator_quota><iothread_period>100000</iothread_period>\
    <iothread_quota>50000</iothread_quota></cputune>";

/// libvirt 9.0's output for `TUNED` (test driver), from `<currentMemory>` to `<os>`.
const TUNED_OUT: &str = "  <currentMemory unit='KiB'>1048576</currentMemory>
  <blkiotune>
    <weight>500</weight>
    <device>
      <path>/dev/sda</path>
      <weight>100</weight>
      <read_iops_sec>10</read_iops_sec>
      <write_iops_sec>20</write_iops_sec>
      <read_bytes_sec>1000</read_bytes_sec>
      <write_bytes_sec>2000</write_bytes_sec>
    </device>
    <device>
      <path>/dev/sdb</path>
      <write_iops_sec>20</write_iops_sec>
    </device>
  </blkiotune>
  <memtune>
    <hard_limit unit='KiB'>2930</hard_limit>
    <soft_limit unit='KiB'>1024</soft_limit>
    <min_guarantee unit='KiB'>5</min_guarantee>
    <swap_hard_limit unit='KiB'>4194304</swap_hard_limit>
  </memtune>
  <memoryBacking>
    <hugepages>
      <page size='2048' unit='KiB'/>
    </hugepages>
    <nosharepages/>
    <locked/>
    <source type='memfd'/>
    <access mode='shared'/>
    <allocation mode='immediate' threads='4'/>
    <discard/>
  </memoryBacking>
  <vcpu placement='static'>4</vcpu>
  <iothreads>2</iothreads>
  <cputune>
    <shares>2048</shares>
    <period>100000</period>
    <quota>-1</quota>
    <global_period>100000</global_period>
    <global_quota>50000</global_quota>
    <emulator_period>100000</emulator_period>
    <emulator_quota>50000</emulator_quota>
    <iothread_period>100000</iothread_period>
    <iothread_quota>50000</iothread_quota>
    <vcpupin vcpu='0' cpuset='1'/>
    <vcpupin vcpu='1' cpuset='2-3'/>
    <emulatorpin cpuset='1-3'/>
    <iothreadpin iothread='1' cpuset='3'/>
  </cputune>
  <os>
";

#[test]
fn tuning_elements_print_as_libvirt_test_driver_does() {
    let out = format(&doc(TUNED, ""), "all");
    assert!(out.contains(TUNED_OUT), "got\n{out}");
}

#[test]
fn idmap_is_sorted_and_printed_after_os() {
    let out = format(
        &doc(
            "",
            "<idmap><gid start='0' target='1000' count='10'/><uid start='10' target='2000' \
         count='10'/><uid start='0' target='1000' count='10'/></idmap>",
        ),
        "idmap",
    );
    assert!(
        out.contains(
            "  </os>\n  <idmap>\n    <uid start='0' target='1000' count='10'/>\n    \
             <uid start='10' target='2000' count='10'/>\n    \
             <gid start='0' target='1000' count='10'/>\n  </idmap>\n"
        ),
        "got\n{out}"
    );
}

#[test]
fn unset_values_print_nothing_as_in_libvirt() {
    let out = format(
        &doc(
            "<memoryBacking><source/><access/><allocation threads='0'/></memoryBacking>\
         <memtune/><blkiotune><weight>0</weight></blkiotune><iothreads>0</iothreads>\
         <cputune><period>0</period><quota>0</quota></cputune>",
            "<idmap/>",
        ),
        "unset",
    );
    for absent in [
        "memoryBacking",
        "memtune",
        "blkiotune",
        "iothreads",
        "cputune",
        "idmap",
    ] {
        assert!(!out.contains(absent), "{absent} in\n{out}");
    }
    // `<hugepages/>` alone is a setting (default huge page size) and stays.
    let out = format(
        &doc(
            "<memoryBacking><hugepages/></memoryBacking><memtune><hard_limit>0</hard_limit>\
         </memtune><cputune><shares>0</shares></cputune>",
            "",
        ),
        "zero",
    );
    assert!(out.contains("  <memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n"));
    assert!(out.contains("<hard_limit unit='KiB'>0</hard_limit>"));
    assert!(out.contains("<shares>0</shares>"));
    // libvirt's "unlimited" memtune value means no limit.
    let out = format(
        &doc(
            "<memtune><hard_limit>9007199254740991</hard_limit></memtune>",
            "",
        ),
        "unlimited",
    );
    assert!(!out.contains("memtune"));
}

#[test]
fn out_of_range_and_unknown_values_are_refused_by_xpath() {
    let xml = |top: &str| doc(top, "");
    let cases: &[(String, &str, &str)] = &[
        (
            xml("<memtune><hard_limit>9007199254740992</hard_limit></memtune>"),
            "/domain/memtune/hard_limit",
            "9007199254740992",
        ),
        (
            xml("<memtune><soft_limit>-1</soft_limit></memtune>"),
            "/domain/memtune/soft_limit",
            "-1",
        ),
        (
            xml("<memtune><swap_hard_limit unit='Z'>1</swap_hard_limit></memtune>"),
            "/domain/memtune/swap_hard_limit/@unit",
            "Z",
        ),
        (
            xml("<blkiotune><weight>2000</weight></blkiotune>"),
            "/domain/blkiotune/weight",
            "2000",
        ),
        (
            xml("<blkiotune><device><path>/a</path><weight>5</weight></device></blkiotune>"),
            "/domain/blkiotune/device[1]/weight",
            "5",
        ),
        (
            xml("<blkiotune><device><path>/a</path><read_iops_sec>4294967296</read_iops_sec></device></blkiotune>"),
            "/domain/blkiotune/device[1]/read_iops_sec",
            "4294967296",
        ),
        (
            xml("<blkiotune><device><weight>100</weight></device></blkiotune>"),
            "/domain/blkiotune/device[1]/path",
            "path",
        ),
        (
            xml("<blkiotune><device><path>/a</path></device><device><path>/a</path></device></blkiotune>"),
            "/domain/blkiotune/device[2]/path",
            "/a",
        ),
        (
            xml("<blkiotune><device><path>/a</path><total_iops_sec>1</total_iops_sec></device></blkiotune>"),
            "/domain/blkiotune/device[1]/total_iops_sec",
            "",
        ),
        (
            xml("<memoryBacking><source type='bogus'/></memoryBacking>"),
            "/domain/memoryBacking/source/@type",
            "bogus",
        ),
        (
            xml("<memoryBacking><access mode='x'/></memoryBacking>"),
            "/domain/memoryBacking/access/@mode",
            "x",
        ),
        (
            xml("<memoryBacking><allocation mode='later'/></memoryBacking>"),
            "/domain/memoryBacking/allocation/@mode",
            "later",
        ),
        (
            xml("<memoryBacking><allocation threads='x'/></memoryBacking>"),
            "/domain/memoryBacking/allocation/@threads",
            "x",
        ),
        (
            xml("<memoryBacking><hugepages><page size='2' unit='Z'/></hugepages></memoryBacking>"),
            "/domain/memoryBacking/hugepages/page[1]/@unit",
            "Z",
        ),
        (
            xml("<memoryBacking><hugepages><page size='x'/></hugepages></memoryBacking>"),
            "/domain/memoryBacking/hugepages/page[1]/@size",
            "x",
        ),
        (
            xml("<memoryBacking><hugepages><page unit='M'/></hugepages></memoryBacking>"),
            "/domain/memoryBacking/hugepages/page[1]/@size",
            "",
        ),
        (
            xml("<memoryBacking><hugepages><page size='0'/></hugepages></memoryBacking>"),
            "/domain/memoryBacking/hugepages/page[1]/@size",
            "0",
        ),
        (
            xml("<memoryBacking><hugepages><page size='2048'/><page size='1' unit='G'/></hugepages></memoryBacking>"),
            "/domain/memoryBacking/hugepages/page[2]",
            "two master hugepages",
        ),
        (
            xml("<memoryBacking><hugepages><page size='2048' nodeset='0'/></hugepages></memoryBacking>"),
            "/domain/memoryBacking/hugepages/page[1]/@nodeset",
            "NUMA",
        ),
        (
            xml("<memoryBacking><locked state='on'/></memoryBacking>"),
            "/domain/memoryBacking/locked/@state",
            "",
        ),
        (
            xml("<iothreads>x</iothreads>"),
            "/domain/iothreads",
            "x",
        ),
        (
            xml("<cputune><shares>1</shares></cputune>"),
            "/domain/cputune/shares",
            "1",
        ),
        (
            xml("<cputune><shares>262145</shares></cputune>"),
            "/domain/cputune/shares",
            "262145",
        ),
        (
            xml("<cputune><period>999</period></cputune>"),
            "/domain/cputune/period",
            "999",
        ),
        (
            xml("<cputune><emulator_period>1000001</emulator_period></cputune>"),
            "/domain/cputune/emulator_period",
            "1000001",
        ),
        (
            xml("<cputune><quota>999</quota></cputune>"),
            "/domain/cputune/quota",
            "999",
        ),
        (
            xml("<cputune><global_quota>-5</global_quota></cputune>"),
            "/domain/cputune/global_quota",
            "-5",
        ),
        (
            xml("<cputune><iothread_quota>17592186044416</iothread_quota></cputune>"),
            "/domain/cputune/iothread_quota",
            "17592186044416",
        ),
        (
            xml("<vcpu>2</vcpu><cputune><vcpupin vcpu='2' cpuset='1'/></cputune>"),
            "/domain/cputune/vcpupin[1]/@vcpu",
            "2",
        ),
        (
            xml("<vcpu>2</vcpu><cputune><vcpupin vcpu='1' cpuset='1'/><vcpupin vcpu='1' cpuset='2'/></cputune>"),
            "/domain/cputune/vcpupin[2]",
            "duplicate",
        ),
        (
            xml("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='^0'/></cputune>"),
            "/domain/cputune/vcpupin[1]/@cpuset",
            "^0",
        ),
        (
            xml("<cputune><emulatorpin cpuset='1'/><emulatorpin cpuset='2'/></cputune>"),
            "/domain/cputune/emulatorpin[2]",
            "duplicate",
        ),
        (
            xml("<iothreads>1</iothreads><cputune><iothreadpin iothread='2' cpuset='1'/></cputune>"),
            "/domain/cputune/iothreadpin[1]/@iothread",
            "2",
        ),
        (
            xml("<iothreads>1</iothreads><cputune><iothreadpin iothread='0' cpuset='1'/></cputune>"),
            "/domain/cputune/iothreadpin[1]/@iothread",
            "0",
        ),
        (
            xml("<cputune><vcpusched vcpus='0' scheduler='fifo' priority='1'/></cputune>"),
            "/domain/cputune/vcpusched",
            "",
        ),
        (
            doc("", "<idmap><uid start='0' target='1000' count='10'/></idmap>"),
            "/domain/idmap",
            "uid and gid",
        ),
        (
            doc("", "<idmap><uid start='1' target='1000' count='10'/><gid start='0' target='1000' count='10'/></idmap>"),
            "/domain/idmap",
            "root user",
        ),
        (
            doc("", "<idmap><uid start='0' target='1000'/><gid start='0' target='1000' count='10'/></idmap>"),
            "/domain/idmap/uid[1]/@count",
            "",
        ),
        (
            doc("", "<idmap><uid start='-1' target='1000' count='1'/><gid start='0' target='1000' count='10'/></idmap>"),
            "/domain/idmap/uid[1]/@start",
            "-1",
        ),
    ];
    for (xml, path, value) in cases {
        refused(xml, path, value);
    }
}
