//! The host's ARP table (`/proc/net/arp`), read for virDomainInterfaceAddresses with the ARP
//! source: the IPv4 addresses the host has seen behind each guest MAC, as libvirt reads its
//! neighbour table. Incomplete entries (flags 0) are left out.

/// One resolved neighbour: IPv4 address and MAC (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArpEntry {
    pub ip: String,
    pub mac: String,
}

/// The entries of a `/proc/net/arp` text (header line first).
pub(crate) fn parse(text: &str) -> Vec<ArpEntry> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (ip, flags, mac) = (f.first()?, f.get(2)?, f.get(3)?);
            let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
            (flags != 0).then(|| ArpEntry {
                ip: ip.to_string(),
                mac: mac.to_ascii_lowercase(),
            })
        })
        .collect()
}

/// The host's table now (empty when it cannot be read).
pub(crate) fn table() -> Vec<ArpEntry> {
    std::fs::read_to_string("/proc/net/arp")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_entries_are_read_and_incomplete_ones_skipped() {
        let text =
            "IP address       HW type     Flags       HW address            Mask     Device\n\
                    192.0.2.1        0x1         0x2         02:FC:00:00:00:05     *        eth0\n\
                    192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        assert_eq!(
            parse(text),
            vec![ArpEntry {
                ip: "192.0.2.1".into(),
                mac: "02:fc:00:00:00:05".into()
            }]
        );
        assert!(parse("").is_empty());
    }
}
