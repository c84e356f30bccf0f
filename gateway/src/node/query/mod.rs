//! Researcher queries at one party: what a query asks ([`Query`]), how a `--where` filter becomes
//! a fixed-point threshold ([`filter`]), which share rows every party selects and how the three
//! check they selected the same ones ([`select`]), and the party's run of the MPC statistic that
//! ends with its output shares sealed to the researcher ([`run`]).
//!
//! The signature check, the registry check and the query's ledger entry happen before
//! [`run::run_selected`] (see [`crate::node::signed`] and [`crate::node::query_party`]);
//! forwarding by the coordinator and the HTTP endpoint are in [`crate::node::coordinator`].

pub mod limits;
pub mod privacy;
pub mod run;
pub mod select;

#[cfg(test)]
mod tests;

use hdg_mpc::stats::StatsError;
use hdg_mpc::{ChannelError, PartyId, ProtocolError, SetupError};
use hdg_schema::ValueError;
use hdg_storage::StoreError;
use thiserror::Error;

pub use hdg_wire::filter;
use hdg_wire::filter::FilterError;
pub use hdg_wire::query::{Cohort, DEFAULT_MIN_COHORT, PartyAnswer, Predictor, Query, Statistic};

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

impl From<FilterError> for QueryError {
    fn from(e: FilterError) -> Self {
        match e {
            FilterError::UnknownIndicator { indicator } => {
                QueryError::UnknownIndicator { indicator }
            }
            FilterError::Filter { reason } => QueryError::Filter { reason },
            FilterError::Value(v) => QueryError::Value(v),
        }
    }
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
