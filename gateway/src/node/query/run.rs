//! One party's run of a query: select the rows, confirm with the two other parties that all
//! three selected the same ones, apply the minimum-cohort rule, run the statistic in MPC with
//! the catalog's value bound, and seal this party's output shares to the researcher.

use hdg_mpc::stats::{Aggregates, ValueBound, filtered, histogram, moments, order};
use hdg_mpc::{Channel, Party, PartyId, PrfKind, PublicKey, SessionId, SessionSecret};

use super::filter::indicator;
use super::limits;
use super::select::Selection;
use super::{PartyAnswer, Query, QueryError, Statistic};

/// The node's rules for queries (not the researcher's to choose; the three parties compare
/// them before computing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryPolicy {
    /// Unfiltered statistics are refused below this many rows before anything is computed;
    /// a filtered mean releases nothing below it (decided inside the MPC).
    pub min_cohort: u64,
    /// Only rows a patient's consent covers are selected ([`crate::node::consent`]).
    pub consent_required: bool,
}

/// What a party needs to join a query's MPC session.
#[derive(Clone, Copy)]
pub struct PartySetup<'a> {
    /// This party.
    pub me: PartyId,
    /// The query's session id (the same at the three parties).
    pub session: &'a SessionId,
    /// This party's X25519 secret for the session.
    pub secret: &'a SessionSecret,
    /// The three parties' session public keys, in party order.
    pub publics: &'a [PublicKey; 3],
    /// The digest of the researcher's signed query ([`super::answer::query_digest`]): the sealed
    /// output is bound to it.
    pub query: &'a [u8; 32],
}

/// Runs `q` on rows already selected (the store is not needed, so a node need not hold it during
/// the MPC): exchanges the row digest with both peers and refuses on any difference, refuses an
/// unfiltered statistic over fewer than `policy.min_cohort` patients, then computes the statistic
/// in MPC and seals the output shares to `q.researcher_x25519`.
pub fn run_selected(
    selection: &Selection,
    setup: &PartySetup<'_>,
    mut channel: Box<dyn Channel>,
    q: &Query,
    policy: &QueryPolicy,
) -> Result<PartyAnswer, QueryError> {
    let bounds = value_bounds(q)?;
    let digest = selection.digest();
    compare_digests(channel.as_mut(), setup.me, &digest, policy)?;
    let rows = selection.rows();
    // The same rows at the three parties (the digests agree), so all three refuse alike.
    limits::check_work(q, rows)?;
    let filtered = matches!(q.statistic, Statistic::FilteredMean { .. });
    // The rule counts patients, not rows: many rows of one patient are still that patient.
    if !filtered && (selection.patients.len() as u64) < policy.min_cohort {
        return Err(if policy.consent_required {
            QueryError::TooFewConsented {
                min_cohort: policy.min_cohort,
            }
        } else {
            QueryError::CohortTooSmall {
                min_cohort: policy.min_cohort,
            }
        });
    }
    let mut party = Party::establish(
        setup.me,
        setup.session,
        setup.secret,
        setup.publics,
        PrfKind::DEFAULT,
        channel,
    )?;
    let aggregates = compute(&mut party, q, selection, bounds, policy)?;
    let recipient = PublicKey::from(q.researcher_x25519);
    let sealed = aggregates.seal(&party, &recipient, setup.query, &mut rand::rng());
    Ok(PartyAnswer {
        party: setup.me.index() as u8,
        session: setup.session.0,
        sealed,
        rows,
        digest,
        ledger_index: None,
        bytes_sent: party.stats().bytes_sent,
        signature: String::new(),
    })
}

/// The catalog's bounds of the query's indicator and, for a paired statistic, the second one.
fn value_bounds(q: &Query) -> Result<[ValueBound; 2], QueryError> {
    let x = ValueBound::new(indicator(&q.indicator)?.max_abs_fixed());
    let y = match &q.statistic {
        Statistic::Pearson { pair } => ValueBound::new(indicator(pair)?.max_abs_fixed()),
        _ => x,
    };
    Ok([x, y])
}

/// Sends this party's row digest and policy to both peers and checks theirs equal them. If the
/// three do not all agree, every party sees at least one differing peer, so all three stop here
/// (a filtered mean compares with the minimum cohort inside the MPC, so a differing policy
/// would make the parties run different circuits).
fn compare_digests(
    channel: &mut dyn Channel,
    me: PartyId,
    digest: &[u8; 32],
    policy: &QueryPolicy,
) -> Result<(), QueryError> {
    let mut words = digest_words(digest);
    words.push(policy.min_cohort);
    words.push(u64::from(policy.consent_required));
    // A peer that already saw a mismatch may have left: its digest is still queued, so a failed
    // send is reported only when the receives find nothing more telling.
    let sent = [me.next(), me.prev()].map(|peer| channel.send(peer, &words));
    for peer in [me.prev(), me.next()] {
        let theirs = channel.recv(peer)?;
        if theirs.get(..4) != words.get(..4) {
            return Err(QueryError::RowSetMismatch { me, peer });
        }
        if theirs != words {
            return Err(QueryError::PolicyMismatch { me, peer });
        }
    }
    let [to_next, to_prev] = sent;
    to_next?;
    to_prev?;
    Ok(())
}

fn digest_words(digest: &[u8; 32]) -> Vec<u64> {
    digest
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")))
        .collect()
}

fn compute(
    party: &mut Party,
    q: &Query,
    selection: &Selection,
    [bx, by]: [ValueBound; 2],
    policy: &QueryPolicy,
) -> Result<Aggregates, QueryError> {
    let x = &selection.shares[0];
    let aggregates = match &q.statistic {
        Statistic::Count => moments::count(x),
        Statistic::Sum => moments::sum(x, bx)?,
        Statistic::Mean => moments::mean(x, bx)?,
        Statistic::Variance => moments::variance(party, x, bx)?,
        Statistic::Pearson { .. } => moments::pearson(party, x, &selection.shares[1], bx, by)?,
        Statistic::Histogram { edges } => histogram::histogram(party, x, edges, bx)?,
        Statistic::FilteredMean {
            threshold,
            min_cohort,
        } => {
            let k = (*min_cohort).max(policy.min_cohort);
            filtered::filtered_mean(party, x, *threshold, k, bx)?
        }
        Statistic::Median => order::median(party, x, bx)?,
    };
    Ok(aggregates)
}
