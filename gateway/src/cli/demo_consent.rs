//! `hdg demo --consent`: the demo on a cluster where patients decide. The synthetic patients are
//! enrolled with keys of their own (`hdg init --patients N`), so their values stay at their
//! home node until a consent covers them; three in five grant research use, and the sample
//! statistics must then agree with the plaintext of exactly their rows. One patient revokes:
//! the same count is asked before and after, and that patient's audit, checked against every
//! node's signed ledger, lists the first query and not the second.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use hdg_client::query::{Answer, Question, ask};
use hdg_mpc::stats::StatValue;
use hdg_schema::Pseudonym;
use hdg_wire::Purpose;
use hdg_wire::consent::ConsentBody;
use hdg_wire::query::Statistic;

use super::audit::{Audit, audit};
use super::consent::post_consent;
use super::demo_queries::Rows;
use super::init::ClusterLayout;
use super::local_cluster::LocalCluster;
use crate::net::identity::NodeKey;

/// Patients in each group of five who grant: three.
const GRANTING_OF_FIVE: usize = 3;
/// Threads posting grants at once (each grant is stored and anchored at the three nodes).
const GRANT_THREADS: usize = 4;
/// The indicator of the count asked before and after the revocation (heart rate).
pub const REVOCATION_INDICATOR: &str = "8867-4";

/// A demo patient: their name and key (`identities/patient-{i}.key`) and the pseudonym their
/// records are filed under (their key's).
pub struct DemoPatient {
    /// `patient-{i}`.
    pub name: String,
    /// Their signing key.
    pub key: SigningKey,
    /// Their pseudonym at every node.
    pub pseudonym: Pseudonym,
}

/// The `n` demo patients `hdg init --patients n` wrote into `layout`.
pub fn demo_patients(layout: &ClusterLayout, n: u64) -> anyhow::Result<Vec<DemoPatient>> {
    (1..=n)
        .map(|i| {
            let name = format!("patient-{i}");
            let key = hdg_client::key::read_seed(&layout.identities.join(format!("{name}.key")))?;
            let pseudonym = Pseudonym::from_public_key(key.verifying_key().as_bytes());
            Ok(DemoPatient {
                name,
                key,
                pseudonym,
            })
        })
        .collect()
}

/// Whether patient `index` (0-based) grants: three in each five.
pub fn grants(index: usize) -> bool {
    index % 5 < GRANTING_OF_FIVE
}

/// `plain` restricted to the rows of the patients who grant.
pub fn consented_rows(plain: &Rows, patients: &[DemoPatient]) -> Rows {
    let granting: std::collections::HashSet<Pseudonym> = patients
        .iter()
        .enumerate()
        .filter(|(i, _)| grants(*i))
        .map(|(_, p)| p.pseudonym)
        .collect();
    plain
        .iter()
        .map(|(code, rows)| {
            let kept = rows
                .iter()
                .filter(|r| granting.contains(&r.patient()))
                .copied()
                .collect();
            (code.clone(), kept)
        })
        .collect()
}

/// Posts the grant (research, every indicator, until revoked) of every patient who grants, to
/// node `index % 3`, [`GRANT_THREADS`] at a time; each grant's consent id, by patient index.
pub fn post_grants(
    cluster: &LocalCluster,
    patients: &[DemoPatient],
) -> anyhow::Result<BTreeMap<usize, String>> {
    let nodes = (0..3)
        .map(|i| cluster.url(i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let grant = ConsentBody::Grant {
        purposes: vec![Purpose::Research],
        indicators: Vec::new(),
        from: None,
        to: None,
        institution: None,
        expires: None,
    };
    let todo: Vec<usize> = (0..patients.len()).filter(|i| grants(*i)).collect();
    let ids = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        let workers: Vec<_> = todo
            .chunks(todo.len().div_ceil(GRANT_THREADS).max(1))
            .map(|chunk| {
                let (nodes, grant, ids) = (&nodes, &grant, &ids);
                s.spawn(move || -> anyhow::Result<()> {
                    for &i in chunk {
                        let (status, answer) =
                            post_consent(&nodes[i % 3], &patients[i].key, grant)?;
                        if status != 200 {
                            bail!("{}'s grant: {status} {answer}", patients[i].name);
                        }
                        let id = answer["consent_id"]
                            .as_str()
                            .context("a stored grant has an id")?;
                        ids.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(i, id.to_owned());
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })?;
    Ok(ids
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// One revocation and its effect, printed: the count of [`REVOCATION_INDICATOR`] asked
/// before and after `patient` revokes the grant `consent_id`, and what the patient's audit
/// says of each query. `expected` is the count of granting patients with such values, in
/// plaintext. Whether the audit lists the first query at every node and the second at none.
#[allow(clippy::too_many_arguments)] // the demo's one scene: each argument is one of its actors
pub fn show_revocation(
    cluster: &LocalCluster,
    pins: &[NodeKey; 3],
    researcher: &SigningKey,
    patient: &DemoPatient,
    consent_id: &str,
    expected: usize,
    epsilon: f64,
) -> anyhow::Result<bool> {
    let node = cluster.url(0)?;
    let before = count(&node, pins, researcher, epsilon)?;
    let (status, answer) = post_consent(
        &cluster.url(1)?,
        &patient.key,
        &ConsentBody::Revoke {
            consent: consent_id.to_owned(),
        },
    )?;
    if status != 200 {
        bail!("{}'s revocation: {status} {answer}", patient.name);
    }
    let after = count(&node, pins, researcher, epsilon)?;
    println!(
        "count of heart-rate patients: {} before {} revoked (plaintext {expected}), {} after (plaintext {})",
        before.1,
        patient.name,
        after.1,
        expected - 1
    );
    let Some(audit) = audit(&node, &cluster.layout.node_keys()?, &patient.key)? else {
        return Ok(false);
    };
    let listed = |answer: &Answer| {
        (0..3)
            .filter(|&i| {
                let leaf = answer.ledger.get(i).copied().flatten();
                audit.nodes[i]["entries"].as_array().is_some_and(|entries| {
                    entries
                        .iter()
                        .any(|e| e["kind"] == "query" && e["leaf_index"].as_u64() == leaf)
                })
            })
            .count()
    };
    let (used_before, used_after) = (listed(&before.0), listed(&after.0));
    println!(
        "{}'s audit: the query before the revocation is in the ledger of {used_before} of 3 \
         nodes as using their rows, the query after it in {used_after}",
        patient.name
    );
    print_audit(&patient.name, &audit);
    Ok(audit.ok && used_before == 3 && used_after == 0)
}

/// A private count of [`REVOCATION_INDICATOR`]: the answer, and its estimate as text.
fn count(
    node: &super::http::NodeUrl,
    pins: &[NodeKey; 3],
    researcher: &SigningKey,
    epsilon: f64,
) -> anyhow::Result<(Answer, String)> {
    let question = Question {
        statistic: Statistic::Count,
        indicator: REVOCATION_INDICATOR.to_owned(),
        window: (None, None),
        purpose: Purpose::Research,
        epsilon: Some(epsilon),
        clip: None,
        pair_clip: None,
    };
    let answer = ask(
        node,
        pins,
        researcher,
        question,
        Duration::from_secs(120),
        None,
    )?
    .map_err(|r| anyhow::anyhow!("the count was refused ({}): {}", r.status, r.reason))?;
    let text = match &answer.value {
        StatValue::Private { estimates } => estimates
            .iter()
            .map(|e| format!("{:.1} [{:.1}, {:.1}]", e.value, e.low, e.high))
            .collect::<Vec<_>>()
            .join(", "),
        other => format!("{other:?}"),
    };
    Ok((answer, text))
}

/// The patient's audit as they read it, without the one line per stored record.
fn print_audit(name: &str, audit: &Audit) {
    let records = audit
        .lines
        .iter()
        .filter(|l| l.contains("record stored"))
        .count();
    println!("\n{name}'s audit, every entry proven under its node's signed head:");
    for line in audit.lines.iter().filter(|l| !l.contains("record stored")) {
        println!("  {line}");
    }
    println!("  (and {records} records stored at their home node, one entry each)");
}
