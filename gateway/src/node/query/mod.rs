//! Researcher queries at one party: what a query asks ([`Query`]), how a `--where` filter becomes
//! a fixed-point threshold ([`filter`]), which share rows every party selects and how the three
//! check they selected the same ones ([`select`]), and the party's run of the MPC statistic that
//! ends with its output shares sealed to the researcher ([`run`]).
//!
//! The signature check, the registry check and the query's ledger entry happen before
//! [`run::run_selected`] (see [`crate::node::signed`] and [`crate::node::query_party`]);
//! forwarding by the coordinator and the HTTP endpoint are in [`crate::node::coordinator`].

pub mod answer;
pub mod filter;
pub mod limits;
pub mod privacy;
pub mod run;
pub mod select;

#[cfg(test)]
mod tests;

use hdg_mpc::stats::{SealedAggregates, StatsError};
use hdg_mpc::{ChannelError, PartyId, ProtocolError, SetupError};
use hdg_schema::ValueError;
use hdg_storage::StoreError;
use serde::{Deserialize, Serialize};

use super::consent::Purpose;
use thiserror::Error;

/// The smallest cohort an unfiltered statistic is computed on, unless the node says otherwise.
pub const DEFAULT_MIN_COHORT: u64 = 10;

/// The statistic a researcher asks for, with its public parameters (fixed point at the
/// indicator's precision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Statistic {
    /// Number of rows.
    Count,
    /// Sum of the values.
    Sum,
    /// Mean.
    Mean,
    /// Variance (and mean).
    Variance,
    /// Pearson correlation with a second indicator, paired per patient (see [`select`]).
    Pearson {
        /// The second indicator's code.
        pair: String,
    },
    /// Covariance with a second indicator (the sample covariance), paired per patient as
    /// Pearson is.
    Covariance {
        /// The second indicator's code.
        pair: String,
    },
    /// Counts per bucket between public, strictly increasing edges.
    Histogram {
        /// Bucket edges, fixed point.
        edges: Vec<i64>,
    },
    /// Count and mean of the values strictly above `threshold`, released only for a filtered
    /// cohort of at least `min_cohort` (decided inside the MPC: the filtered count stays secret).
    FilteredMean {
        /// The threshold, fixed point.
        threshold: i64,
        /// The smallest filtered cohort released (raised to the node's minimum if lower).
        min_cohort: u64,
    },
    /// The lower median.
    Median,
    /// The smallest value (in a private cluster, from noisy counts over a grid: where the data
    /// begin for more than a noise-level number of patients).
    Min,
    /// The largest value (in a private cluster, as the smallest).
    Max,
    /// Count, mean and variance of the indicator in two groups of patients split by their
    /// latest value of a second indicator (`by` > `threshold`, and the others), paired per
    /// patient as Pearson is; with the difference of the means and Welch's t. Which group a
    /// patient is in stays secret. Answered with differential privacy only.
    TwoGroups {
        /// The indicator that splits the patients.
        by: String,
        /// The split: `by` strictly greater than this (fixed point of `by`).
        threshold: i64,
    },
    /// The quantile of `permille` thousandths, 1 to 999 (nearest rank: the ceil(q n)-th smallest
    /// value; in a private cluster, from noisy counts over a grid, as the median).
    Quantile {
        /// The quantile in thousandths (900: the 90th percentile).
        permille: u16,
    },
    /// Least squares of the indicator (the outcome) on one to
    /// [`limits::MAX_PREDICTORS`] other indicators with an intercept, paired per patient as
    /// Pearson is (the patients with a latest value of every one): the coefficients, their
    /// standard errors and R^2.
    Regression {
        /// The predictors, in the order of the coefficients.
        predictors: Vec<Predictor>,
    },
}

/// A predictor of a regression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predictor {
    /// The indicator's code.
    pub indicator: String,
    /// Bounds [lo, hi] (fixed point) its values are clipped to in a private release; the
    /// catalog's range when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<[i64; 2]>,
}

impl Statistic {
    /// The other indicators of a statistic over several, each selected with the query's
    /// indicator as the patients' latest values of all of them: Pearson's and the covariance's
    /// pair, the two-group comparison's split, a regression's predictors. Empty for the others.
    pub fn others(&self) -> Vec<&str> {
        match self {
            Statistic::Pearson { pair }
            | Statistic::Covariance { pair }
            | Statistic::TwoGroups { by: pair, .. } => vec![pair],
            Statistic::Regression { predictors } => {
                predictors.iter().map(|p| p.indicator.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A researcher's query, as signed in the request body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// What to compute.
    pub statistic: Statistic,
    /// The indicator code (LOINC), e.g. `4548-4`.
    pub indicator: String,
    /// Earliest effective day included, unix ms of its midnight (UTC).
    #[serde(default)]
    pub from: Option<i64>,
    /// First effective day excluded, unix ms of its midnight (UTC).
    #[serde(default)]
    pub to: Option<i64>,
    /// The researcher's X25519 public key the output shares are sealed to.
    #[serde(with = "hex32")]
    pub researcher_x25519: [u8; 32],
    /// What the result is for; with consent required, only rows whose patient consented to
    /// this purpose are used.
    #[serde(default = "research")]
    pub purpose: Purpose,
    /// The privacy loss this query may spend, as epsilon at the cluster's delta; required by a
    /// cluster in `dp` mode (it is charged to the researcher's budget), ignored by `exact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Bounds [lo, hi] (fixed point) every value is clipped to in a private release; the
    /// catalog's range of the indicator when absent. Narrow bounds mean less noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<[i64; 2]>,
    /// The clipping bounds of the second indicator of a paired statistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_clip: Option<[i64; 2]>,
}

fn research() -> Purpose {
    Purpose::Research
}

/// One party's answer: its sealed output shares and what it computed on, signed by the party's
/// node key (see [`answer`]) so that the node relaying it cannot forge, swap, replay or relabel
/// it unnoticed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyAnswer {
    /// The party that computed it (0, 1 or 2).
    pub party: u8,
    /// The query's MPC session (derived from the researcher's signed request).
    #[serde(with = "hex32")]
    pub session: [u8; 32],
    /// This party's aggregates sealed to the researcher.
    pub sealed: SealedAggregates,
    /// Rows the statistic ran on (pairs, for a paired statistic).
    pub rows: u64,
    /// SHA-256 of the selected record handles (see [`select::RowDigest`]); the same at every
    /// party.
    #[serde(with = "hex32")]
    pub digest: [u8; 32],
    /// Index of the query's entry in this party's ledger (set by the node that anchored it).
    #[serde(default)]
    pub ledger_index: Option<u64>,
    /// Payload bytes this party sent to the other two during the query (digests, session
    /// set-up and the MPC protocol).
    #[serde(default)]
    pub bytes_sent: u64,
    /// The party's ed25519 signature over everything above and the query's digest
    /// ([`answer::signed_message`]); empty until signed.
    #[serde(default)]
    pub signature: String,
}

/// Why a party refused or failed a query. Names the rule or the step, never a health value.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The indicator is not in the catalog.
    #[error("indicator {indicator} is not in the catalog")]
    UnknownIndicator {
        /// The code asked for.
        indicator: String,
    },
    /// The time window is empty (`from` not before `to`).
    #[error("time window is empty: from must be before to")]
    EmptyWindow,
    /// A bound of the time window is not the start of a UTC day.
    #[error(
        "time window refused: from and to must be whole UTC days (midnight), as the parties hold effective dates to the day"
    )]
    WindowNotWholeDays,
    /// The `--where` filter does not parse.
    #[error("filter refused: {reason}")]
    Filter {
        /// What is wrong.
        reason: &'static str,
    },
    /// A filter or histogram value does not encode for the indicator.
    #[error("filter value refused: {0}")]
    Value(#[from] ValueError),
    /// The shares could not be read.
    #[error("reading shares: {0}")]
    Store(#[from] StoreError),
    /// This store holds another party's shares.
    #[error("share rows belong to party {found}, this is party {me}")]
    WrongParty {
        /// This party.
        me: PartyId,
        /// The party index found in the rows.
        found: u8,
    },
    /// The parties did not select the same rows.
    #[error(
        "row sets differ: party {peer} selected other records than this party {me} (row digests disagree); the parties' shares are out of sync"
    )]
    RowSetMismatch {
        /// This party.
        me: PartyId,
        /// The peer whose digest differs.
        peer: PartyId,
    },
    /// Two parties hold different copies of the same share component: one of them altered its
    /// stored shares (or its store is damaged). Nothing is computed.
    #[error(
        "shares inconsistent: parties {first} and {second} hold different copies of the same shares (one of the two altered its stored shares); nothing computed"
    )]
    InconsistentShares {
        /// One holder of the component.
        first: PartyId,
        /// The other holder.
        second: PartyId,
    },
    /// The parties' query rules (minimum cohort, consent) differ: their configs disagree, and
    /// nothing is computed.
    #[error(
        "party {peer} has other query rules (minimum cohort, consent, privacy or security mode, or another catalog: its extension file or the entries of the indicators) than this party {me}; the cluster's configs, catalog extension and versions must agree"
    )]
    PolicyMismatch {
        /// This party.
        me: PartyId,
        /// The peer whose policy differs.
        peer: PartyId,
    },
    /// An unfiltered statistic over the rows of fewer patients than the minimum cohort.
    #[error(
        "cohort too small: unfiltered statistics need the rows of at least {min_cohort} patients"
    )]
    CohortTooSmall {
        /// The rule's minimum.
        min_cohort: u64,
    },
    /// With consent required: fewer patients than the minimum cohort consented to this use.
    #[error(
        "cohort too small: no consent covers this query for at least {min_cohort} patients (only consented rows are used)"
    )]
    TooFewConsented {
        /// The rule's minimum.
        min_cohort: u64,
    },
    /// A statistic an exact cluster does not compute.
    #[error(
        "{statistic} is answered only with differential privacy (a cluster with privacy = \"dp\")"
    )]
    PrivateOnly {
        /// The statistic.
        statistic: &'static str,
    },
    /// A quantile outside (0, 1).
    #[error("quantile refused: {permille} thousandths; a quantile is 1 to 999 thousandths")]
    Quantile {
        /// The thousandths asked for.
        permille: u16,
    },
    /// A regression whose predictors are too many, repeated or the outcome itself.
    #[error("regression refused: {reason}")]
    Predictors {
        /// What is wrong.
        reason: String,
    },
    /// A histogram with more edges than a party computes.
    #[error("histogram refused: {edges} edges, at most {max}")]
    TooManyEdges {
        /// Edges asked for.
        edges: usize,
        /// The cap ([`limits::MAX_HISTOGRAM_EDGES`]).
        max: usize,
    },
    /// A query that would compare more values at once than a party computes.
    #[error(
        "query refused: it would compute on {work} values at once, at most {max} (fewer histogram edges or a narrower time window)"
    )]
    TooMuchWork {
        /// Values it would compute on (rows x edges for a histogram).
        work: u64,
        /// The cap ([`limits::MAX_QUERY_WORK`]).
        max: u64,
    },
    /// Exchanging the row digests failed.
    #[error("exchanging row digests: {0}")]
    Channel(#[from] ChannelError),
    /// The MPC session could not be set up.
    #[error("MPC session setup: {0}")]
    Setup(#[from] SetupError),
    /// The statistic refused its input or the protocol failed.
    #[error("MPC statistic: {0}")]
    Stats(#[from] StatsError),
    /// A query to a private cluster that names no epsilon.
    #[error(
        "privacy: this cluster answers with differential privacy; the query must name the epsilon it spends"
    )]
    EpsilonRequired,
    /// An epsilon that is not positive or exceeds the cluster's maximum.
    #[error("privacy: epsilon must be positive and at most {max} per query")]
    EpsilonOutOfRange {
        /// The cluster's maximum.
        max: f64,
    },
    /// The query would take the researcher past their privacy budget for the period.
    #[error(
        "privacy budget exhausted: this researcher has spent epsilon {spent:.3} of {budget} (at delta {delta:e}) in this {period_days}-day period, and this query asks {asked:.3} more"
    )]
    BudgetExhausted {
        /// Spent so far, as epsilon.
        spent: f64,
        /// What this query costs, as epsilon.
        asked: f64,
        /// The budget, as epsilon.
        budget: f64,
        /// The cluster's delta.
        delta: f64,
        /// The budget period, days.
        period_days: u64,
    },
    /// Clipping bounds the catalog refuses.
    #[error("privacy: {reason}")]
    Clip {
        /// What is wrong.
        reason: &'static str,
    },
    /// No noise can be sized for the query (epsilon too small for the clip range).
    #[error("{0}")]
    Noise(#[from] hdg_mpc::dp::accounting::PlanError),
}

impl QueryError {
    /// Whether the computation stopped because a party deviated from the protocol and the
    /// checks found it (an abort, which every party that stops records in its ledger).
    pub fn is_abort(&self) -> bool {
        matches!(
            self,
            QueryError::InconsistentShares { .. }
                | QueryError::Stats(StatsError::Protocol(
                    ProtocolError::Deviation { .. } | ProtocolError::MalformedVerdict { .. }
                ))
        )
    }
}

/// Serde for 32-byte keys and digests as 64 hex digits.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out)
            .map_err(|_| D::Error::custom("expected 64 hex digits"))?;
        Ok(out)
    }
}
