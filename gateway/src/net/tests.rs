//! Three parties over QUIC on loopback: workloads equal plaintext and the in-memory byte
//! counts, unpinned peers are refused, bad frames end one stream only, silence times out.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use hdg_mpc::Security;
use hdg_mpc::workloads::{Workload, dataset, run_workload_on, run_workload_with};
use hdg_mpc::{Channel, ChannelError, PartyId, SessionId};
use hdg_wire::consortium::NodeId;
use quinn::crypto::rustls::QuicClientConfig;

use super::identity::{CERT_NAME, TlsIdentity};
use super::links::{LinkConfig, LinkError, PeerLinks};
use super::loopback::{LoopbackCluster, three_nodes};
use super::pinning::client_config;
use super::quic_channel::QuicChannel;
use super::rpc::{Request, Response};

fn keys() -> [SigningKey; 3] {
    [0, 1, 2].map(|_| SigningKey::from_bytes(&rand::random::<[u8; 32]>()))
}

fn cluster(config: LinkConfig) -> LoopbackCluster {
    LoopbackCluster::start(&keys(), config).expect("loopback cluster starts")
}

fn boxed(channels: [QuicChannel; 3]) -> [Box<dyn Channel>; 3] {
    channels.map(|c| Box::new(c) as Box<dyn Channel>)
}

#[test]
fn workloads_over_quic_equal_plaintext_and_send_the_in_memory_bytes() {
    let cluster = cluster(LinkConfig::default());
    for w in Workload::ALL {
        let (x, y) = dataset(3_000);
        let session = SessionId::random();
        let channels = cluster.open_session(&session).unwrap();
        let quic = run_workload_with(w, (&x, &y), Security::default(), &session, boxed(channels));
        let memory = run_workload_on(w, (&x, &y), Security::default());
        assert!(quic.correct, "{w:?} over QUIC: {}", quic.result);
        assert_eq!(quic.result, memory.result, "{w:?}");
        assert_eq!(
            quic.bytes_sent_per_party, memory.bytes_sent_per_party,
            "{w:?}"
        );
        assert_eq!(quic.messages_per_party, memory.messages_per_party, "{w:?}");
    }
}

#[test]
fn messages_arrive_whole_in_order_and_are_counted() {
    let cluster = cluster(LinkConfig::default());
    let [mut a, mut b, mut c] = cluster.open_session(&SessionId::random()).unwrap();
    let big: Vec<u64> = (0..300_001u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    a.send(PartyId::P1, &big).unwrap();
    a.send(PartyId::P1, &[]).unwrap();
    a.send(PartyId::P1, &[7]).unwrap();
    c.send(PartyId::P1, &[1, 2, 3]).unwrap();
    assert_eq!(b.recv(PartyId::P2).unwrap(), vec![1, 2, 3]);
    assert_eq!(b.recv(PartyId::P0).unwrap(), big);
    assert_eq!(b.recv(PartyId::P0).unwrap(), Vec::<u64>::new());
    assert_eq!(b.recv(PartyId::P0).unwrap(), vec![7]);
    assert_eq!(a.stats().bytes_sent, 8 * (big.len() as u64 + 1));
    assert_eq!(a.stats().messages_sent, 3);
    assert_eq!(b.stats().bytes_received, 8 * (big.len() as u64 + 4));
    assert_eq!(b.stats().messages_received, 4);
}

#[test]
fn sessions_are_separate_streams() {
    let cluster = cluster(LinkConfig::default());
    let (s1, s2) = (SessionId::random(), SessionId::random());
    let [mut a1, mut b1, _c1] = cluster.open_session(&s1).unwrap();
    let [mut a2, mut b2, _c2] = cluster.open_session(&s2).unwrap();
    a2.send(PartyId::P1, &[2]).unwrap();
    a1.send(PartyId::P1, &[1]).unwrap();
    b2.send(PartyId::P0, &[20]).unwrap();
    assert_eq!(b1.recv(PartyId::P0).unwrap(), vec![1]);
    assert_eq!(b2.recv(PartyId::P0).unwrap(), vec![2]);
    assert_eq!(a2.recv(PartyId::P1).unwrap(), vec![20]);
}

#[test]
fn recv_times_out_when_a_peer_never_sends() {
    let cluster = cluster(LinkConfig {
        recv_timeout: Duration::from_millis(200),
        ..LinkConfig::default()
    });
    let [mut a, _b, _c] = cluster.open_session(&SessionId::random()).unwrap();
    let start = Instant::now();
    assert_eq!(
        a.recv(PartyId::P1),
        Err(ChannelError::Timeout { peer: PartyId::P1 })
    );
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        a.send(PartyId::P0, &[1]),
        Err(ChannelError::SelfMessage { peer: PartyId::P0 })
    );
}

#[test]
fn a_peer_that_drops_its_channel_is_reported_closed() {
    let cluster = cluster(LinkConfig::default());
    let [mut a, mut b, _c] = cluster.open_session(&SessionId::random()).unwrap();
    b.send(PartyId::P0, &[5]).unwrap();
    drop(b);
    assert_eq!(a.recv(PartyId::P1), Ok(vec![5]));
    assert_eq!(
        a.recv(PartyId::P1),
        Err(ChannelError::Closed { peer: PartyId::P1 })
    );
}

#[test]
fn an_oversized_frame_is_refused_and_the_link_keeps_serving() {
    let small = LinkConfig {
        frame_cap: 1024,
        recv_timeout: Duration::from_secs(20),
        ..LinkConfig::default()
    };
    let configs = [LinkConfig::default(), small.clone(), small];
    let cluster = LoopbackCluster::start_with(&keys(), configs).unwrap();
    let [mut a, mut b, mut c] = cluster.open_session(&SessionId::random()).unwrap();
    a.send(PartyId::P1, &vec![9; 1000]).unwrap();
    match b.recv(PartyId::P0) {
        Err(ChannelError::Transport { peer, reason }) => {
            assert_eq!(peer, PartyId::P0);
            assert!(
                reason.contains("8000") && reason.contains("1024"),
                "{reason}"
            );
        }
        other => panic!("oversized frame accepted: {other:?}"),
    }
    // Other streams and later sessions on the same connection still work.
    c.send(PartyId::P1, &[3]).unwrap();
    assert_eq!(b.recv(PartyId::P2).unwrap(), vec![3]);
    let [mut a2, mut b2, _] = cluster.open_session(&SessionId::random()).unwrap();
    a2.send(PartyId::P1, &[4; 128]).unwrap();
    assert_eq!(b2.recv(PartyId::P0).unwrap(), vec![4; 128]);
    assert!(cluster.links(PartyId::P1).connection(NodeId(0)).is_some());
}

/// A message longer than a frame is cut into frames and arrives whole, in order with the
/// messages around it; one beyond the receiver's message cap is refused naming sizes, and the
/// rest of its frames are not taken for messages (the peer's stream is closed to the channel).
#[test]
fn long_messages_travel_in_frames_and_the_message_cap_holds() {
    let small_frames = LinkConfig {
        frame_cap: 1024,
        message_cap: 64 << 10,
        recv_timeout: Duration::from_secs(20),
        ..LinkConfig::default()
    };
    let cluster = LoopbackCluster::start_with(
        &keys(),
        [small_frames.clone(), small_frames.clone(), small_frames],
    )
    .unwrap();
    let [mut a, mut b, _c] = cluster.open_session(&SessionId::random()).unwrap();
    let long: Vec<u64> = (0..5000).collect();
    a.send(PartyId::P1, &[1]).unwrap();
    a.send(PartyId::P1, &long).unwrap();
    a.send(PartyId::P1, &[]).unwrap();
    a.send(PartyId::P1, &long[..128]).unwrap();
    assert_eq!(b.recv(PartyId::P0).unwrap(), vec![1]);
    assert_eq!(b.recv(PartyId::P0).unwrap(), long);
    assert_eq!(b.recv(PartyId::P0).unwrap(), Vec::<u64>::new());
    assert_eq!(b.recv(PartyId::P0).unwrap(), long[..128]);
    assert_eq!(b.stats().bytes_received, 8 * (1 + 5000 + 128));
    assert_eq!(b.stats().messages_received, 4);
    // The sender refuses a message over its own message cap.
    let err = a.send(PartyId::P1, &vec![0; 8193]).unwrap_err();
    assert!(
        err.to_string().contains("65544") && err.to_string().contains("65536"),
        "{err}"
    );
    // A sender with a larger cap: the receiver refuses once the frames pass its cap.
    let big = LinkConfig {
        recv_timeout: Duration::from_secs(20),
        ..LinkConfig::default()
    };
    let small = LinkConfig {
        message_cap: 64 << 10,
        ..big.clone()
    };
    let cluster = LoopbackCluster::start_with(&keys(), [big.clone(), small, big]).unwrap();
    let [mut a, mut b, mut c] = cluster.open_session(&SessionId::random()).unwrap();
    a.send(PartyId::P1, &vec![7; 3 << 20]).unwrap();
    a.send(PartyId::P1, &[8]).unwrap();
    match b.recv(PartyId::P0) {
        Err(ChannelError::Transport { peer, reason }) => {
            assert_eq!(peer, PartyId::P0);
            assert!(reason.contains("65536"), "{reason}");
        }
        other => panic!("a message over the cap accepted: {other:?}"),
    }
    assert_eq!(
        b.recv(PartyId::P0),
        Err(ChannelError::Closed { peer: PartyId::P0 })
    );
    // The other peer's stream is untouched.
    c.send(PartyId::P1, &[3]).unwrap();
    assert_eq!(b.recv(PartyId::P2).unwrap(), vec![3]);
}

#[test]
fn a_malformed_frame_is_refused_and_names_the_problem() {
    let cluster = cluster(LinkConfig {
        recv_timeout: Duration::from_secs(20),
        ..LinkConfig::default()
    });
    let session = SessionId::random();
    let conn = cluster.links(PartyId::P0).connection(NodeId(1)).unwrap();
    cluster.runtime().block_on(async {
        let mut s = conn.open_uni().await.unwrap();
        s.write_all(&session.0).await.unwrap();
        // The receiver may refuse the frame from its header alone and stop the stream before
        // the rest is written, so later writes may fail with `Stopped`: that is the refusal.
        let _ = s.write_all(&12u32.to_le_bytes()).await;
        let _ = s.write_all(&[0; 12]).await;
        let _ = s.finish();
    });
    // Only P1 opens the session: P0's one stream for it is the malformed one.
    let links = cluster.links(PartyId::P1);
    let mut b = cluster
        .runtime()
        .block_on(links.open_session(&session))
        .unwrap();
    match b.recv(PartyId::P0) {
        Err(ChannelError::Transport { reason, .. }) => {
            assert!(
                reason.contains("12 bytes") && reason.contains("8-byte"),
                "{reason}"
            );
        }
        other => panic!("malformed frame accepted: {other:?}"),
    }
}

#[test]
fn a_peer_that_is_down_does_not_keep_a_node_from_the_other() {
    let keys = keys();
    let identities = [0, 1, 2].map(|i| TlsIdentity::from_signing_key(&keys[i]).unwrap());
    let cluster = Arc::new(three_nodes([0, 1, 2].map(|i| identities[i].public_key())));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let config = LinkConfig {
        connect_timeout: Duration::from_secs(2),
        ..LinkConfig::default()
    };
    let (p0, p2, down) = {
        let _inside = runtime.enter();
        let bind_as = |i: u16| {
            let identity = &identities[usize::from(i)];
            PeerLinks::bind(NodeId(i), identity, cluster.clone(), bind, config.clone()).unwrap()
        };
        // Node 1's address is taken and released: nothing answers there.
        let p1 = bind_as(1);
        let down = p1.local_addr().unwrap();
        drop(p1);
        (bind_as(0), bind_as(2), down)
    };
    let addrs: BTreeMap<NodeId, SocketAddr> = [
        (NodeId(0), p0.local_addr().unwrap()),
        (NodeId(1), down),
        (NodeId(2), p2.local_addr().unwrap()),
    ]
    .into();
    // Node 0 dials both 1 (down) and 2; node 2 waits for both 0 and 1.
    let (r0, r2) = runtime
        .block_on(async { tokio::join!(p0.connect(addrs.clone()), p2.connect(addrs.clone())) });
    for r in [r0, r2] {
        assert!(
            matches!(&r, Err(LinkError::Connect { peer, .. }) if peer.node == NodeId(1)),
            "{r:?}"
        );
    }
    assert_eq!(p0.connected(), vec![NodeId(2)]);
    assert_eq!(p2.connected(), vec![NodeId(0)]);
}

#[test]
fn a_second_connection_that_closes_never_hides_the_link_that_still_works() {
    // A dial abandoned half-way (its deadline passed as the peer came back) can complete at the
    // peer after the dial that replaced it, and then close. The peer must keep using the link
    // that works, not the one admitted last.
    let keys = keys();
    let cluster = LoopbackCluster::start(&keys, LinkConfig::default()).unwrap();
    let mut inbox = cluster.links(PartyId::P0).serve_requests();
    cluster.runtime().spawn(async move {
        while let Some(call) = inbox.recv().await {
            let _ = call.reply.send(Response::Stored { leaf_index: None });
        }
    });
    let p2 = cluster.links(PartyId::P2);
    let target = p2.local_addr().unwrap();
    let as_p0 = TlsIdentity::from_signing_key(&keys[0]).unwrap();
    let p2_key = TlsIdentity::from_signing_key(&keys[2])
        .unwrap()
        .public_key();
    cluster.runtime().block_on(async {
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut endpoint = quinn::Endpoint::client(bind).unwrap();
        let tls = client_config(&as_p0, &[p2_key]).unwrap();
        let crypto = QuicClientConfig::try_from(tls).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let extra = endpoint.connect(target, CERT_NAME).unwrap().await.unwrap();
        // Party 2 admits it as its newest link to party 0, then it closes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        extra.close(quinn::VarInt::from_u32(0), b"abandoned");
        endpoint.wait_idle().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    assert!(p2.connected().contains(&NodeId(0)), "{:?}", p2.connected());
    let request = Request::Consent {
        signed: crate::node::signed::SignedRequest {
            body: "{}".into(),
            signer: String::new(),
            nonce: String::new(),
            time: 0,
            signature: String::new(),
        },
    };
    let answer =
        cluster
            .runtime()
            .block_on(p2.request(NodeId(0), &request, Duration::from_secs(2)));
    assert!(
        matches!(answer, Ok(Response::Stored { .. })),
        "party 2 reaches party 0 over the link that works: {answer:?}"
    );
}

#[test]
fn a_node_whose_key_is_not_pinned_cannot_connect() {
    let cluster = cluster(LinkConfig::default());
    let rogue = TlsIdentity::from_signing_key(&SigningKey::from_bytes(&[42; 32])).unwrap();
    let target = cluster.links(PartyId::P1).local_addr().unwrap();
    let target_key = {
        let conn = cluster.links(PartyId::P0).connection(NodeId(1)).unwrap();
        let certs = conn.peer_identity().unwrap();
        let certs = certs
            .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
            .unwrap();
        super::identity::peer_key(&certs[0]).unwrap()
    };
    // The rogue pins the target's real key, so only the target can refuse the handshake.
    let outcome = cluster.runtime().block_on(async {
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut endpoint = quinn::Endpoint::client(bind).unwrap();
        let tls = client_config(&rogue, &[target_key]).unwrap();
        let crypto = QuicClientConfig::try_from(tls).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        match endpoint.connect(target, CERT_NAME).unwrap().await {
            Err(e) => e.to_string(),
            // A TLS 1.3 client finishes before the server has checked it: the server must
            // then close the connection at once, with the TLS alert.
            Ok(conn) => tokio::time::timeout(Duration::from_secs(5), conn.closed())
                .await
                .expect("the server closes the rogue's connection")
                .to_string(),
        }
    });
    let rogue_hex = hex::encode(rogue.public_key());
    assert!(
        outcome.contains("crypto") && outcome.contains(&rogue_hex),
        "rogue was not refused by TLS: {outcome}"
    );
    let refusal_seen = || {
        cluster
            .links(PartyId::P1)
            .refused()
            .iter()
            .any(|r| r.contains(&rogue_hex))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refusal_seen() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        refusal_seen(),
        "refusals: {:?}",
        cluster.links(PartyId::P1).refused()
    );
    // The node keeps serving its pinned peers.
    let [mut a, mut b, _c] = cluster.open_session(&SessionId::random()).unwrap();
    a.send(PartyId::P1, &[1]).unwrap();
    assert_eq!(b.recv(PartyId::P0).unwrap(), vec![1]);
}

#[test]
fn a_lost_connection_is_made_again_for_the_next_session() {
    let cluster = cluster(LinkConfig::default());
    let old = cluster.links(PartyId::P0).connection(NodeId(1)).unwrap();
    old.close(quinn::VarInt::from_u32(0), b"test");
    // Once P1 has seen the close, the next session must bring a new connection up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while cluster.links(PartyId::P1).connection(NodeId(0)).is_some() {
        assert!(Instant::now() < deadline, "P1 never saw the close");
        std::thread::sleep(Duration::from_millis(10));
    }
    let [mut a, mut b, _c] = cluster.open_session(&SessionId::random()).unwrap();
    a.send(PartyId::P1, &[11]).unwrap();
    b.send(PartyId::P0, &[12]).unwrap();
    assert_eq!(b.recv(PartyId::P0).unwrap(), vec![11]);
    assert_eq!(a.recv(PartyId::P1).unwrap(), vec![12]);
    let new = cluster.links(PartyId::P0).connection(NodeId(1)).unwrap();
    assert_ne!(new.stable_id(), old.stable_id());
}

#[test]
fn a_session_opened_on_one_side_only_is_dropped_after_the_timeouts() {
    let cluster = cluster(LinkConfig {
        recv_timeout: Duration::from_millis(100),
        connect_timeout: Duration::from_millis(100),
        ..LinkConfig::default()
    });
    let links = cluster.links(PartyId::P0);
    let mut lonely = cluster
        .runtime()
        .block_on(links.open_session(&SessionId::random()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    // Any later session sweeps the stale entry: its queue closes instead of waiting forever.
    let _later = cluster.open_session(&SessionId::random()).unwrap();
    assert_eq!(
        lonely.recv(PartyId::P1),
        Err(ChannelError::Closed { peer: PartyId::P1 })
    );
}

/// W1-W5 at n = 10^6 over QUIC beside in memory, twice (the first pass on fresh connections);
/// run with `cargo test --release --workspace -- net::tests::measure --ignored --nocapture`
/// (HDG_NET_N sets n, HDG_NET_MTU the largest UDP payload tried).
#[test]
#[ignore = "measurement, prints figures"]
fn measure_workloads_over_quic_and_in_memory() {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let n = env("HDG_NET_N").unwrap_or(1_000_000);
    let mut config = LinkConfig::default();
    if let Some(mtu) = env("HDG_NET_MTU") {
        config.max_mtu = u16::try_from(mtu).expect("HDG_NET_MTU fits in u16");
    }
    let cluster = cluster(config.clone());
    let (x, y) = dataset(n);
    println!("n = {n}, max UDP payload {}", config.max_mtu);
    println!("pass workload quic_s memory_s bytes_sent_per_party same_as_memory correct");
    for pass in ["fresh", "warm"] {
        for w in Workload::ALL {
            let session = SessionId::random();
            let channels = cluster.open_session(&session).unwrap();
            let quic =
                run_workload_with(w, (&x, &y), Security::default(), &session, boxed(channels));
            let memory = run_workload_on(w, (&x, &y), Security::default());
            println!(
                "{pass} {w:?} {:.3} {:.3} {:?} {} {}",
                quic.seconds,
                memory.seconds,
                quic.bytes_sent_per_party,
                quic.bytes_sent_per_party == memory.bytes_sent_per_party,
                quic.correct && memory.correct
            );
        }
    }
}

/// Five nodes: three computing parties (nodes 0-2) and two hospitals that do not compute
/// (nodes 3 and 4), each with its own endpoint, all connected.
fn five_nodes() -> (tokio::runtime::Runtime, Vec<PeerLinks>) {
    use hdg_wire::consortium::{Consortium, Member, Roles};
    let keys: Vec<SigningKey> = (0..5)
        .map(|_| SigningKey::from_bytes(&rand::random::<[u8; 32]>()))
        .collect();
    let identities: Vec<TlsIdentity> = keys
        .iter()
        .map(|k| TlsIdentity::from_signing_key(k).unwrap())
        .collect();
    let members = (0..5u16)
        .map(|i| Member {
            id: NodeId(i),
            name: format!("node{i}"),
            key: identities[usize::from(i)].public_key(),
            roles: Roles {
                hospital: true,
                party: PartyId::ALL.get(usize::from(i)).copied(),
            },
        })
        .collect();
    let cluster = Arc::new(Consortium::new(members).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let links: Vec<PeerLinks> = {
        let _inside = runtime.enter();
        (0..5u16)
            .map(|i| {
                let identity = &identities[usize::from(i)];
                let config = LinkConfig::default();
                PeerLinks::bind(NodeId(i), identity, cluster.clone(), bind, config).unwrap()
            })
            .collect()
    };
    let addrs: BTreeMap<NodeId, SocketAddr> = (0..5u16)
        .map(|i| (NodeId(i), links[usize::from(i)].local_addr().unwrap()))
        .collect();
    runtime.block_on(async {
        let all = links.iter().map(|l| l.connect(addrs.clone()));
        for r in futures_util::future::join_all(all).await {
            r.unwrap();
        }
    });
    (runtime, links)
}

#[test]
fn every_node_of_a_consortium_links_to_every_other_and_only_parties_run_sessions() {
    let (runtime, links) = five_nodes();
    for (i, l) in links.iter().enumerate() {
        let others: Vec<NodeId> = (0..5u16)
            .filter(|j| usize::from(*j) != i)
            .map(NodeId)
            .collect();
        assert_eq!(l.connected(), others, "node{i}");
    }
    // A hospital that does not compute asks a party; the party learns who asked from TLS.
    let mut inbox = links[1].serve_requests();
    let seen = runtime.spawn(async move {
        let call = inbox.recv().await.unwrap();
        let _ = call.reply.send(Response::Stored { leaf_index: None });
        call.from
    });
    let request = Request::Consent {
        signed: crate::node::signed::SignedRequest {
            body: "{}".into(),
            signer: String::new(),
            nonce: String::new(),
            time: 0,
            signature: String::new(),
        },
    };
    let answer = runtime.block_on(links[4].request(NodeId(1), &request, Duration::from_secs(5)));
    assert!(matches!(answer, Ok(Response::Stored { .. })), "{answer:?}");
    let from = runtime.block_on(seen).unwrap();
    assert_eq!((from.node, from.party), (NodeId(4), None));
    assert_eq!(from.to_string(), "node4");

    // It opens no MPC session; a session stream it opens anyway is stopped and recorded.
    let session = SessionId::random();
    let opened = runtime.block_on(links[3].open_session(&session));
    assert!(
        matches!(opened, Err(LinkError::NotAParty)),
        "{:?}",
        opened.err()
    );
    let conn = links[3].connection(NodeId(0)).unwrap();
    runtime.block_on(async {
        let mut s = conn.open_uni().await.unwrap();
        let _ = s.write_all(&session.0).await;
        let _ = s.finish();
    });
    let refused = || {
        links[0]
            .refused()
            .iter()
            .any(|r| r.contains("node3") && r.contains("computing parties only"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(refused(), "{:?}", links[0].refused());

    // The three parties still run a session among themselves.
    let [mut a, mut b, mut c] = runtime
        .block_on(async {
            tokio::try_join!(
                links[0].open_session(&session),
                links[1].open_session(&session),
                links[2].open_session(&session)
            )
        })
        .map(|(a, b, c)| [a, b, c])
        .unwrap();
    a.send(PartyId::P1, &[7]).unwrap();
    b.send(PartyId::P2, &[8]).unwrap();
    c.send(PartyId::P0, &[9]).unwrap();
    assert_eq!(b.recv(PartyId::P0).unwrap(), vec![7]);
    assert_eq!(c.recv(PartyId::P1).unwrap(), vec![8]);
    assert_eq!(a.recv(PartyId::P2).unwrap(), vec![9]);
}
