//! The host facts libvirt 9.0's test driver answers (Host and Hypervisor group, issue 15):
//! fixed SMBIOS data, two NUMA cells, eight CPUs of which three are online, fixed CPU time
//! counters.

use crate::driver::DriverResult;
use crate::error::{ErrorCode, ErrorDomain, VirtError};

/// The `<sysinfo>` the test driver reports.
pub const SYSINFO: &str = "<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>LENOVO</entry>
    <entry name='version'>G4ETA1WW (2.61 )</entry>
    <entry name='date'>05/07/2014</entry>
    <entry name='release'>2.61</entry>
  </bios>
</sysinfo>
";

/// One NUMA cell of the test host.
pub struct Cell {
    /// The cell's memory, bytes.
    pub mem_bytes: u64,
    /// The cell's free memory, bytes.
    pub free_bytes: u64,
}

/// The test host's two cells: cell i has (i+1) * 2 MiB, (i+1) MiB of it free.
pub const CELLS: [Cell; 2] = [
    Cell {
        mem_bytes: 2048 * 1024,
        free_bytes: 1024 * 1024,
    },
    Cell {
        mem_bytes: 2 * 2048 * 1024,
        free_bytes: 2 * 1024 * 1024,
    },
];

/// virNodeGetCellsFreeMemory as the test driver answers it. Like libvirt's, it reports each
/// cell's memory size (not its free part): `virsh freecell --all` shows those numbers.
pub fn cells_free_memory(start: i32, max: i32) -> DriverResult<Vec<u64>> {
    let start = usize::try_from(start).unwrap_or(0);
    if start >= CELLS.len() {
        return Err(VirtError::new(
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "Range exceeds available cells",
        ));
    }
    let max = usize::try_from(max).unwrap_or(0);
    Ok(CELLS[start..]
        .iter()
        .take(max)
        .map(|c| c.mem_bytes)
        .collect())
}

/// The test host's CPU map: eight present, 0, 2 and 4 online.
pub fn cpu_map() -> Vec<bool> {
    (0..8).map(|i| matches!(i, 0 | 2 | 4)).collect()
}

/// The test host's CPU time counters (nanoseconds), whatever CPU is asked for.
pub const CPU_STATS: [(&str, u64); 4] = [
    ("kernel", 34_678_723_400_000),
    ("user", 9_797_400_000),
    ("idle", 87_264_900_000),
    ("iowait", 763_600_000),
];

/// virNodeGetFreePages as the test driver answers it: whatever the sizes and cells, the
/// counts run 19, 45, 97, 201, ... (each twice the last plus seven, from six) across the
/// cells and sizes of one call.
pub fn free_pages(npages: usize, cells: usize) -> Vec<u64> {
    let mut x = 6u64;
    (0..npages * cells)
        .map(|_| {
            x = x.wrapping_mul(2).wrapping_add(7);
            x
        })
        .collect()
}
