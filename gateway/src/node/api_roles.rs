//! Which API endpoints a node serves, by its roles in the cluster: the one table that says it,
//! without I/O (the router applies it to every request before its handler runs).
//!
//! A node that holds no records refuses what concerns records (ingest, enrolment, raw access);
//! a node that does not compute refuses what only the computing parties keep (researchers'
//! budgets). Both answer 421 Misdirected Request, naming the nodes that serve it. Everything
//! else (health, the ledger, consents, audits, erasures, registry changes, queries, which any
//! node coordinates) is served by every node.

use hdg_wire::consortium::{Consortium, Roles};

/// What serving an endpoint takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Any node.
    Any,
    /// A node that holds records.
    Hospital,
    /// A computing party.
    Party,
}

/// What serving `path` takes.
pub fn needs(path: &str) -> Needs {
    match path {
        "/v1/observations" | "/v1/enrolments" | "/v1/access" => Needs::Hospital,
        "/v1/budget" => Needs::Party,
        _ => Needs::Any,
    }
}

/// Why a node named `name` with roles `me` does not serve `path` (the nodes of `cluster` that
/// do are named), or `None` when it does.
pub fn refusal(path: &str, name: &str, me: Roles, cluster: &Consortium) -> Option<String> {
    let serving = |keep: &dyn Fn(Roles) -> bool| {
        let names: Vec<String> = cluster
            .members()
            .iter()
            .filter(|m| keep(m.roles))
            .map(|m| m.to_string())
            .collect();
        names.join(", ")
    };
    match needs(path) {
        Needs::Hospital if !me.hospital => Some(format!(
            "{name} holds no records; {path} is served by the hospitals: {}",
            serving(&|r| r.hospital)
        )),
        Needs::Party if me.party.is_none() => Some(format!(
            "{name} does not compute; {path} is served by the computing parties: {}",
            serving(&|r| r.party.is_some())
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_mpc::PartyId;
    use hdg_wire::consortium::{Member, NodeId};

    /// node0-node2 are the parties (node0 keeps no records), node3 a hospital only.
    fn cluster() -> Consortium {
        let member = |id: u16, hospital, party| Member {
            id: NodeId(id),
            name: format!("node{id}"),
            key: [id as u8 + 1; 32],
            roles: Roles { hospital, party },
        };
        Consortium::new(vec![
            member(0, false, Some(PartyId::P0)),
            member(1, true, Some(PartyId::P1)),
            member(2, true, Some(PartyId::P2)),
            member(3, true, None),
        ])
        .unwrap()
    }

    #[test]
    fn each_endpoint_is_served_by_the_nodes_with_its_role() {
        let c = cluster();
        let roles: Vec<(String, Roles)> = c
            .members()
            .iter()
            .map(|m| (m.name.clone(), m.roles))
            .collect();
        let paths = [
            "/v1/health",
            "/v1/head",
            "/v1/witness",
            "/v1/consistency",
            "/v1/consent",
            "/v1/audit",
            "/v1/erasure",
            "/v1/registry",
            "/v1/query",
            "/v1/observations",
            "/v1/enrolments",
            "/v1/access",
            "/v1/budget",
        ];
        for path in paths {
            for (name, r) in &roles {
                let served = refusal(path, name, *r, &c).is_none();
                let expected = match needs(path) {
                    Needs::Any => true,
                    Needs::Hospital => r.hospital,
                    Needs::Party => r.party.is_some(),
                };
                assert_eq!(served, expected, "{path} at {name}");
            }
        }
    }

    #[test]
    fn a_refusal_names_the_nodes_that_serve_it() {
        let c = cluster();
        let at_node0 = c.members()[0].roles;
        assert_eq!(
            refusal("/v1/observations", "node0", at_node0, &c).unwrap(),
            "node0 holds no records; /v1/observations is served by the hospitals: \
             node1 (P1), node2 (P2), node3"
        );
        let at_node3 = c.members()[3].roles;
        assert_eq!(
            refusal("/v1/budget", "node3", at_node3, &c).unwrap(),
            "node3 does not compute; /v1/budget is served by the computing parties: \
             node0 (P0), node1 (P1), node2 (P2)"
        );
    }
}
