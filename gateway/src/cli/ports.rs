//! Free listening ports for a cluster on one machine (`hdg init` without `--base-port`).
//!
//! A port is chosen now and bound later, when the node starts. A port the kernel hands out for
//! `bind(0)` comes from its ephemeral range, the same range it takes the source ports of
//! outgoing connections from; so between the choice and the node's start, any program's next
//! connection could take it, and the node would then fail with "address already in use" (seen
//! in the process tests, which connect a lot while clusters start). So the ports are chosen
//! below the ephemeral range, at random, each probed by binding it; the kernel never gives those
//! to a connection on its own.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::ops::Range;

use anyhow::Context;

/// Lowest port chosen: above the well-known and most registered services' ports.
const LOWEST: u16 = 10_000;

/// Candidates tried per port before giving up.
const ATTEMPTS: usize = 1_000;

/// The ports to choose from, given the kernel's ephemeral range as Linux writes it
/// (`/proc/sys/net/ipv4/ip_local_port_range`: "low high"): [`LOWEST`] up to its low end, or
/// nothing when it cannot be read or leaves too few below it.
fn below_ephemeral(range_file: Option<&str>) -> Option<Range<u16>> {
    let low: u16 = range_file?.split_whitespace().next()?.parse().ok()?;
    (low > LOWEST + 1_000).then_some(LOWEST..low)
}

/// `nodes` QUIC (UDP) and `nodes` HTTP (TCP) addresses on 127.0.0.1, all different and free
/// now: below the ephemeral range where the kernel says where it is, else from `bind(0)`.
pub fn cluster_ports(nodes: usize) -> anyhow::Result<(Vec<SocketAddr>, Vec<SocketAddr>)> {
    let at = |port: u16| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let range = below_ephemeral(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .as_deref(),
    );
    // Every probe is held until all are chosen, so no two nodes get the same port.
    let mut udp: Vec<UdpSocket> = Vec::with_capacity(nodes);
    let mut tcp: Vec<TcpListener> = Vec::with_capacity(nodes);
    let mut taken: Vec<u16> = Vec::with_capacity(2 * nodes);
    let mut pick =
        |bind: &mut dyn FnMut(SocketAddr) -> std::io::Result<u16>| -> anyhow::Result<()> {
            let Some(range) = range.clone() else {
                taken.push(bind(at(0)).context("cannot find a free port")?);
                return Ok(());
            };
            for _ in 0..ATTEMPTS {
                let port = range.start + (rand::random::<u16>() % (range.end - range.start));
                if !taken.contains(&port) && bind(at(port)).is_ok() {
                    taken.push(port);
                    return Ok(());
                }
            }
            anyhow::bail!("no free port found in {}..{}", range.start, range.end)
        };
    for _ in 0..nodes {
        pick(&mut |a| {
            let s = UdpSocket::bind(a)?;
            let port = s.local_addr()?.port();
            udp.push(s);
            Ok(port)
        })?;
    }
    for _ in 0..nodes {
        pick(&mut |a| {
            let s = TcpListener::bind(a)?;
            let port = s.local_addr()?.port();
            tcp.push(s);
            Ok(port)
        })?;
    }
    let addrs = |ports: &[u16]| ports.iter().map(|p| at(*p)).collect();
    Ok((addrs(&taken[..nodes]), addrs(&taken[nodes..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_chosen_below_the_kernels_ephemeral_range() {
        assert_eq!(
            below_ephemeral(Some("32768\t60999\n")),
            Some(10_000..32_768)
        );
        assert_eq!(below_ephemeral(Some("10500 60999")), None, "too few below");
        assert_eq!(below_ephemeral(Some("garbage")), None);
        assert_eq!(below_ephemeral(None), None);
    }

    #[test]
    fn a_clusters_ports_are_distinct_free_and_outside_the_ephemeral_range() {
        let (quic, http) = cluster_ports(3).unwrap();
        let mut all: Vec<u16> = quic.iter().chain(&http).map(|a| a.port()).collect();
        let range = below_ephemeral(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
                .ok()
                .as_deref(),
        );
        if let Some(range) = range {
            assert!(
                all.iter().all(|p| range.contains(p)),
                "{all:?} outside {range:?}"
            );
        }
        // free once the probes are dropped: the nodes can bind them
        for a in &quic {
            UdpSocket::bind(a).unwrap();
        }
        for a in &http {
            TcpListener::bind(a).unwrap();
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 6);
    }
}
