//! One party's run of a query: select the rows, confirm with the two other parties that all
//! three selected the same ones, apply the minimum-cohort rule, run the statistic in MPC with
//! the catalog's value bound, and seal this party's output shares to the researcher.

use hdg_mpc::dp::accounting::Draws;
use hdg_mpc::stats::private::{PrivateInput, private_release};
use hdg_mpc::stats::{
    Aggregates, StatsError, ValueBound, filtered, histogram, moments, order, regression,
};
use hdg_mpc::{
    Channel, Party, PartyId, PrfKind, PublicKey, Security, SessionId, SessionSecret, VerdictKeys,
    words,
};
use sha2::{Digest, Sha256};

use super::filter::indicator;
use super::limits;
use super::privacy::{self, NANO, Privacy};
use super::select::Selection;
use super::{PartyAnswer, Query, QueryError, Statistic};

/// The node's rules for queries (not the researcher's to choose; the three parties compare
/// them before computing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueryPolicy {
    /// In exact mode, unfiltered statistics are refused below this many patients before
    /// anything is computed, and a filtered mean releases nothing below it (decided inside the
    /// MPC). A private cluster relies on its noise instead: a refusal on an exact count would
    /// itself leak that count.
    pub min_cohort: u64,
    /// Only rows a patient's consent covers are selected ([`crate::node::consent`]).
    pub consent_required: bool,
    /// Exact or differentially private answers ([`privacy`]).
    pub privacy: Privacy,
    /// Whether the parties check each other ([`Security`]).
    pub security: Security,
}

impl QueryPolicy {
    /// The rules as words, for the parties' comparison before computing.
    fn words(&self) -> Vec<u64> {
        let security = match self.security {
            Security::SemiHonest => 0,
            Security::Malicious => 1,
        };
        let mut w = vec![self.min_cohort, u64::from(self.consent_required), security];
        match self.privacy {
            Privacy::Exact => w.push(0),
            Privacy::Dp(rules) => {
                w.push(1);
                w.extend(rules.words());
            }
        }
        w
    }
}

/// A private query's charge at this party: what it costs and what the researcher had spent in
/// the period before it, by this party's own store (compared with the peers' before computing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    /// The query's cost, nano-rho.
    pub cost: u64,
    /// Spent before this query, nano-rho.
    pub spent_before: u64,
}

#[cfg(test)]
thread_local! {
    /// A deviation from the protocol that the next party set up on this thread makes (tests
    /// that show the others catch it).
    pub(crate) static DEVIATE: std::cell::Cell<Option<hdg_mpc::fault::Fault>> =
        const { std::cell::Cell::new(None) };
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
    /// The digest of the researcher's signed query ([`hdg_wire::answer::query_digest`]): the sealed
    /// output is bound to it.
    pub query: &'a [u8; 32],
    /// The node keys this party signs its verdicts on checks with and checks its peers' under,
    /// so an abort is unanimous ([`hdg_mpc::verdict`]).
    pub verdicts: &'a VerdictKeys,
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
    charge: Option<Charge>,
) -> Result<PartyAnswer, QueryError> {
    let bounds = value_bounds(q)?;
    let digest = selection.digest();
    let private = match (policy.privacy, charge) {
        (Privacy::Dp(rules), Some(charge)) => {
            Some((rules, charge, plan(q, charge, policy.security)?))
        }
        (Privacy::Dp(_), None) => return Err(QueryError::EpsilonRequired),
        (Privacy::Exact, _) => None,
    };
    let mut words = digest_words(&digest);
    words.extend(policy.words());
    words.extend(catalog_words(q)?);
    if let Some((_, charge, (_, _, sigma2))) = &private {
        words.push(plan_word(sigma2));
        words.push(charge.cost);
    }
    let peers_spent = compare_digests(
        channel.as_mut(),
        setup.me,
        &words,
        &ShareCopies::of(selection, setup.session),
        private.as_ref().map(|p| p.1.spent_before),
    )?;
    if let Some((rules, charge, _)) = &private {
        // Every party checks against the largest spend of the three, so all refuse alike.
        rules.check_budget(
            privacy::agreed_spend(charge.spent_before, &peers_spent),
            charge.cost,
        )?;
    }
    let rows = selection.rows();
    // The same rows at the three parties (the digests agree), so all three refuse alike.
    limits::check_work(q, rows, private.is_some())?;
    if let Some((_, _, plan)) = private {
        let party = setup.establish(channel, policy.security)?;
        return run_private(selection, setup, party, q, bounds, plan);
    }
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
    let mut party = setup.establish(channel, policy.security)?;
    let aggregates = compute(&mut party, q, selection, bounds, policy)?;
    setup.answer(&mut party, q, &aggregates, (rows, &digest), true)
}

impl PartySetup<'_> {
    /// Opens this party's MPC session over `channel`.
    fn establish(
        &self,
        channel: Box<dyn Channel>,
        security: Security,
    ) -> Result<Party, QueryError> {
        let mut party = Party::establish(
            self.me,
            self.session,
            self.secret,
            self.publics,
            PrfKind::DEFAULT,
            channel,
        )?;
        party.set_security(security);
        party
            .sign_verdicts(self.verdicts.clone())
            .map_err(StatsError::from)?;
        // Only a test build (feature `fault-injection`) reads the variable.
        party.inject_from_env();
        #[cfg(test)]
        if let Some(fault) = DEVIATE.take() {
            party.inject(fault);
        }
        Ok(party)
    }

    /// This party's answer: `aggregates` sealed to the researcher and bound to the query (once
    /// the computation is verified), with the row count and row digest it states and, when
    /// `report_bytes`, the bytes it sent (unsigned yet).
    fn answer(
        &self,
        party: &mut Party,
        q: &Query,
        aggregates: &Aggregates,
        (rows, digest): (u64, &[u8; 32]),
        report_bytes: bool,
    ) -> Result<PartyAnswer, QueryError> {
        let recipient = PublicKey::from(q.researcher_x25519);
        let sealed = aggregates
            .seal(party, &recipient, self.query, &mut rand::rng())
            .map_err(StatsError::from)?;
        Ok(PartyAnswer {
            party: self.me.index() as u8,
            session: self.session.0,
            sealed,
            rows,
            digest: answer_digest(self.session, digest),
            ledger_index: None,
            bytes_sent: if report_bytes {
                party.stats().bytes_sent
            } else {
                0
            },
            signature: String::new(),
        })
    }
}

/// A private query's release, which inputs the MPC clips, and each party's noise parameters.
type Plan = (hdg_mpc::stats::private::Release, Vec<bool>, Vec<u64>);

/// The release of `q` and its noise for the charged privacy loss, drawn as `security` draws it
/// (the same at every party: a function of the signed query and the compared rules).
fn plan(q: &Query, charge: Charge, security: Security) -> Result<Plan, QueryError> {
    let (release, clip_needed) = privacy::release(q)?;
    let sigma2 = release.plan(charge.cost as f64 / NANO, Draws::for_security(security))?;
    Ok((release, clip_needed, sigma2))
}

/// One word for the noise parameters, for the parties' comparison.
fn plan_word(sigma2: &[u64]) -> u64 {
    let mut h = Sha256::new();
    for s in sigma2 {
        h.update(s.to_be_bytes());
    }
    u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
}

/// The private path: one value per patient (the selection's rule), clipped, computed and
/// noised inside the MPC, sealed. The answer tells the researcher nothing exact: no row count
/// (the count is a noised aggregate), no bytes sent (they grow with the rows), and a row digest
/// bound to this session only (equal at the three parties, unlinkable across queries).
fn run_private(
    selection: &Selection,
    setup: &PartySetup<'_>,
    mut party: Party,
    q: &Query,
    bounds: Vec<ValueBound>,
    (release, clip_needed, sigma2): Plan,
) -> Result<PartyAnswer, QueryError> {
    let input = PrivateInput {
        columns: selection.shares.iter().collect(),
        bounds,
        clip_needed,
    };
    // The party's noise comes from the thread's CSPRNG, seeded from the OS.
    let aggregates = private_release(&mut party, &input, &release, &sigma2, &mut rand::rng())?;
    setup.answer(&mut party, q, &aggregates, (0, &selection.digest()), false)
}

/// The row digest as an answer carries it: bound to the session, so the researcher can check
/// the three parties agree but cannot tell whether two queries ran on the same rows.
pub fn answer_digest(session: &SessionId, rows: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"hdg answer rows v1\n");
    h.update(session.0);
    h.update(rows);
    h.finalize().into()
}

/// The catalog as the parties compare it with the rules: the digest of the whole active catalog
/// (the built-in one and the cluster's extension: [`hdg_schema::Catalog::digest`]) and of the
/// entries of the query's indicators, each one's code, unit, precision and range (what the fixed
/// point of its shares and the protocols' bounds depend on). A party whose catalog differs
/// (another extension file, another version of `hdg`) refuses to compute instead of mixing
/// encodings.
pub(super) fn catalog_words(q: &Query) -> Result<[u64; 4], QueryError> {
    let mut h = blake3::Hasher::new();
    h.update(b"hdg catalog entries v2");
    h.update(&hdg_schema::Catalog::active().digest());
    for code in std::iter::once(q.indicator.as_str()).chain(q.statistic.others()) {
        let ind = indicator(code)?;
        for text in [ind.code.as_str(), ind.unit.as_str()] {
            h.update(&(text.len() as u64).to_be_bytes());
            h.update(text.as_bytes());
        }
        h.update(&ind.precision.to_be_bytes());
        h.update(&ind.min_fixed.to_be_bytes());
        h.update(&ind.max_fixed.to_be_bytes());
    }
    Ok(words::from_32_bytes(h.finalize().as_bytes()))
}

/// The catalog's bounds of the query's indicator and of its others (a paired statistic's pair,
/// a regression's predictors), in the selection's column order.
fn value_bounds(q: &Query) -> Result<Vec<ValueBound>, QueryError> {
    std::iter::once(q.indicator.as_str())
        .chain(q.statistic.others())
        .map(|code| Ok(ValueBound::new(indicator(code)?.max_abs_fixed())))
        .collect()
}

/// Sends this party's row digest and rules (and for a private query its noise plan, cost and
/// the researcher's spend before it) to both peers, with the hash of the share component it
/// holds in common with each, and checks them against theirs:
/// - the row digests and rules must be equal. If the three do not all agree, every party sees
///   at least one differing peer, so all three stop here (a filtered mean compares with the
///   minimum cohort inside the MPC, so a differing policy would make the parties run different
///   circuits);
/// - each share component is held by two parties (replicated sharing: party i's `b` is party
///   i+1's `a`), and the two copies must be equal: a party sends its next party the hash of
///   its `b` and its previous party the hash of its `a`, never the hash of a component the
///   peer does not hold (with the peer's two components, it would let the peer test guesses
///   of the values). The two holders of a differing component stop, naming each other; the
///   third then fails on the links.
///
/// Returns the peers' spends.
fn compare_digests(
    channel: &mut dyn Channel,
    me: PartyId,
    words: &[u64],
    copies: &ShareCopies,
    spent_before: Option<u64>,
) -> Result<Vec<u64>, QueryError> {
    let message = |copy: &[u8; 32]| {
        let mut m = words.to_vec();
        m.extend(digest_words(copy));
        m.extend(spent_before);
        m
    };
    let to_next = message(&copies.b);
    let to_prev = message(&copies.a);
    // A peer that already saw a mismatch may have left: its digest is still queued, so a failed
    // send is reported only when the receives find nothing more telling.
    let sent = [
        channel.send(me.next(), &to_next),
        channel.send(me.prev(), &to_prev),
    ];
    let mut spends = Vec::new();
    // The previous party sends the hash of its b, which is my a; the next, of its a, my b.
    for (peer, mine) in [(me.prev(), &copies.a), (me.next(), &copies.b)] {
        let theirs = channel.recv(peer)?;
        if theirs.get(..4) != words.get(..4) {
            return Err(QueryError::RowSetMismatch { me, peer });
        }
        if theirs.len() != to_next.len() || theirs[..words.len()] != *words {
            return Err(QueryError::PolicyMismatch { me, peer });
        }
        if theirs[words.len()..words.len() + 4] != digest_words(mine)[..] {
            let (first, second) = if peer == me.prev() {
                (peer, me)
            } else {
                (me, peer)
            };
            return Err(QueryError::InconsistentShares { first, second });
        }
        spends.extend(theirs.get(words.len() + 4..).unwrap_or_default());
    }
    let [to_next, to_prev] = sent;
    to_next?;
    to_prev?;
    Ok(spends)
}

/// Hashes of this party's two share components over the selected columns, keyed by the
/// session (so they say nothing across queries): `a` (x_i, which the previous party holds as
/// its `b`) and `b` (x_{i+1}, which the next party holds as its `a`).
pub struct ShareCopies {
    /// The hash of the `a` components.
    pub a: [u8; 32],
    /// The hash of the `b` components.
    pub b: [u8; 32],
}

impl ShareCopies {
    /// The hashes of `selection`'s columns in `session`.
    pub fn of(selection: &Selection, session: &SessionId) -> ShareCopies {
        let hash = |part: &dyn Fn(&hdg_mpc::ArithShares) -> &[u64]| {
            let mut h = blake3::Hasher::new_derive_key("hdg share copies v1");
            h.update(&session.0);
            for column in &selection.shares {
                words::hash_words(&mut h, part(column));
            }
            *h.finalize().as_bytes()
        };
        ShareCopies {
            a: hash(&|c| &c.a),
            b: hash(&|c| &c.b),
        }
    }
}

fn digest_words(digest: &[u8; 32]) -> Vec<u64> {
    words::from_32_bytes(digest).to_vec()
}

fn compute(
    party: &mut Party,
    q: &Query,
    selection: &Selection,
    bounds: Vec<ValueBound>,
    policy: &QueryPolicy,
) -> Result<Aggregates, QueryError> {
    let x = &selection.shares[0];
    let bx = bounds[0];
    let by = bounds.get(1).copied().unwrap_or(bx);
    let aggregates = match &q.statistic {
        Statistic::Count => moments::count(x),
        Statistic::Sum => moments::sum(x, bx)?,
        Statistic::Mean => moments::mean(x, bx)?,
        Statistic::Variance => moments::variance(party, x, bx)?,
        Statistic::Pearson { .. } => moments::pearson(party, x, &selection.shares[1], bx, by)?,
        Statistic::Covariance { .. } => {
            moments::covariance(party, x, &selection.shares[1], bx, by)?
        }
        Statistic::Histogram { edges } => histogram::histogram(party, x, edges, bx)?,
        Statistic::FilteredMean {
            threshold,
            min_cohort,
        } => {
            let k = (*min_cohort).max(policy.min_cohort);
            filtered::filtered_mean(party, x, *threshold, k, bx)?
        }
        Statistic::Median => order::median(party, x, bx)?,
        Statistic::Min => order::min(party, x, bx)?,
        Statistic::Max => order::max(party, x, bx)?,
        Statistic::Quantile { permille } => {
            order::quantile(party, x, f64::from(*permille) / 1000.0, bx)?
        }
        // The outcome is the query's indicator, the predictors the other columns.
        Statistic::Regression { cohort: None, .. } => {
            regression::linear_regression(party, &selection.shares[1..], x, &bounds[1..], bx)?
        }
        // Refused at every party before anything is selected (`privacy::check_exact`); a
        // caller that skips that check gets the same refusal here.
        Statistic::TwoGroups { .. }
        | Statistic::CohortMean { .. }
        | Statistic::Regression {
            cohort: Some(_), ..
        } => {
            return Err(privacy::check_exact(q)
                .err()
                .unwrap_or(QueryError::PrivateOnly {
                    statistic: "this statistic",
                }));
        }
    };
    Ok(aggregates)
}
