//! Three parties on 127.0.0.1 for tests and benches: each with its own QUIC endpoint, connected
//! pairwise, on one runtime.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use hdg_mpc::{PartyId, SessionId};
use hdg_wire::consortium::{Consortium, NodeId};
use tokio::runtime::Runtime;

use super::identity::TlsIdentity;
use super::links::{LinkConfig, LinkError, PeerLinks};
use super::quic_channel::QuicChannel;

/// Three parties' links on 127.0.0.1, each with its own endpoint, connected pairwise.
pub struct LoopbackCluster {
    links: [PeerLinks; 3],
    runtime: Runtime,
}

impl LoopbackCluster {
    /// Starts the three parties with node keys `keys` and the same `config`.
    pub fn start(keys: &[SigningKey; 3], config: LinkConfig) -> Result<LoopbackCluster, LinkError> {
        LoopbackCluster::start_with(keys, [config.clone(), config.clone(), config])
    }

    /// Starts the three parties, party i with `configs[i]`.
    pub fn start_with(
        keys: &[SigningKey; 3],
        configs: [LinkConfig; 3],
    ) -> Result<LoopbackCluster, LinkError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let identities = [0, 1, 2].map(|i| TlsIdentity::from_signing_key(&keys[i]));
        let [a, b, c] = identities;
        let identities = [a?, b?, c?];
        let cluster = Arc::new(three_nodes([0, 1, 2].map(|i| identities[i].public_key())));
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let [c0, c1, c2] = configs;
        let links = {
            let _inside = runtime.enter();
            [
                PeerLinks::bind(NodeId(0), &identities[0], cluster.clone(), bind, c0)?,
                PeerLinks::bind(NodeId(1), &identities[1], cluster.clone(), bind, c1)?,
                PeerLinks::bind(NodeId(2), &identities[2], cluster, bind, c2)?,
            ]
        };
        let addrs: BTreeMap<NodeId, SocketAddr> = [
            (NodeId(0), links[0].local_addr()?),
            (NodeId(1), links[1].local_addr()?),
            (NodeId(2), links[2].local_addr()?),
        ]
        .into();
        runtime.block_on(async {
            tokio::try_join!(
                links[0].connect(addrs.clone()),
                links[1].connect(addrs.clone()),
                links[2].connect(addrs)
            )
        })?;
        Ok(LoopbackCluster { links, runtime })
    }

    /// The three parties' channels for `session`, in party order.
    pub fn open_session(&self, session: &SessionId) -> Result<[QuicChannel; 3], LinkError> {
        self.runtime.block_on(async {
            let (a, b, c) = tokio::try_join!(
                self.links[0].open_session(session),
                self.links[1].open_session(session),
                self.links[2].open_session(session)
            )?;
            Ok([a, b, c])
        })
    }

    /// Party `p`'s links.
    pub fn links(&self, p: PartyId) -> &PeerLinks {
        &self.links[p.index()]
    }

    /// The runtime the links run on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

/// The three-node layout over `keys` (node i is party i), as tests and benches name it.
pub fn three_nodes(keys: [[u8; 32]; 3]) -> Consortium {
    let names = [0, 1, 2].map(|i| format!("node{i}"));
    Consortium::three_nodes(names, keys).expect("three distinct keys")
}
