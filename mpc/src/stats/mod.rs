//! Statistics over secret-shared vectors.
//!
//! Every statistic runs in two phases. The MPC phase (the functions of the submodules) turns
//! shared inputs into [`Aggregates`]: shares of a few exact integers, labelled with the
//! [`Statistic`] they belong to. The output phase opens them, either to all parties
//! ([`Aggregates::reveal`]) or only to an outside recipient ([`Aggregates::seal`] and
//! [`open_aggregates`]), and [`finish`] computes the statistic from them in public. What a
//! statistic reveals is exactly its aggregates, documented on each function.
//!
//! Values are integers at their indicator's decimal precision (glucose in tenths of mg/dL), so
//! sums and products are exact in Z_2^64 as long as they stay below 2^63 in magnitude. Each
//! function takes the caller's [`ValueBound`] (from the schema catalog: the largest |value|
//! the indicator allows) and refuses, with [`StatsError::Overflow`], any computation whose
//! aggregates could leave that range. Results are in the integer units of the input (divide by
//! 10^p for a mean at precision p, by 10^2p for a variance); divisions and square roots are done
//! in f64 on exact integer numerators, so their relative error is a few ulp (< 1e-12).

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::protocols::reveal::reveal;
use crate::protocols::seal::{RevealError, SealedOutput, open_sealed, seal_output};
use crate::{ArithShares, Party, ProtocolError};

mod bounds;
pub mod estimate;
pub mod filtered;
mod finish;
pub mod histogram;
pub mod moments;
pub mod order;
pub mod private;
pub mod regression;
pub mod vector_sum;

pub use bounds::ValueBound;
pub use finish::{StatValue, finish};

/// Which statistic a set of aggregates belongs to, with its public parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    /// Number of values (public: no aggregates).
    Count,
    /// Sum: aggregates [S1].
    Sum,
    /// Mean: aggregates [S1].
    Mean,
    /// Variance and standard deviation: aggregates [S1, S2].
    Variance,
    /// Covariance of pairs: aggregates [Sx, Sy, Sxy].
    Covariance,
    /// Pearson correlation of pairs: aggregates [Sx, Sy, Sxx, Syy, Sxy].
    Pearson,
    /// Histogram with public bucket edges: aggregates [count per bucket] (m edges, m+1 buckets).
    Histogram {
        /// Strictly increasing bucket edges; bucket j is [edges[j-1], edges[j]).
        edges: Vec<i64>,
    },
    /// Count and mean of the values above a public threshold: aggregates [count, sum].
    FilteredMean {
        /// Values strictly greater than this are kept.
        threshold: i64,
    },
    /// Nothing is released: a secret cohort was smaller than the minimum (no aggregates).
    Withheld {
        /// The minimum cohort size that was not reached.
        min_cohort: u64,
    },
    /// The k-th smallest value (nearest rank): aggregates [value].
    OrderStatistic {
        /// 1-based rank.
        rank: u64,
    },
    /// Ordinary least squares of y on `covariates` columns with an intercept.
    /// Aggregates: [Sx_1..Sx_p, Sy, Sx_jx_k for j <= k (row-major), Sx_jy for each j, Syy].
    LinearRegression {
        /// Number of covariates p.
        covariates: usize,
    },
    /// Element-wise sum of contributed vectors: aggregates [sum per element].
    VectorSum,
    /// A differentially private release ([`private`]): its aggregates with the parties' noise
    /// added; `n` of its aggregates is 0 (the row count is released noised, as an aggregate).
    Private {
        /// What is released, with its public parameters.
        release: private::Release,
        /// Each party's noise parameter per aggregate.
        party_sigma2: Vec<u64>,
    },
}

impl Statistic {
    /// The statistic and its public parameters in one canonical encoding (a tag byte, then the
    /// parameters as big-endian integers, a list with its length first): what a sealed output is
    /// bound to, so it cannot be presented as another statistic or with other parameters.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        let mut tag = |t: u8| out.push(t);
        match self {
            Statistic::Count => tag(1),
            Statistic::Sum => tag(2),
            Statistic::Mean => tag(3),
            Statistic::Variance => tag(4),
            Statistic::Covariance => tag(5),
            Statistic::Pearson => tag(6),
            Statistic::Histogram { edges } => {
                tag(7);
                out.extend_from_slice(&(edges.len() as u64).to_be_bytes());
                for e in edges {
                    out.extend_from_slice(&e.to_be_bytes());
                }
            }
            Statistic::FilteredMean { threshold } => {
                tag(8);
                out.extend_from_slice(&threshold.to_be_bytes());
            }
            Statistic::Withheld { min_cohort } => {
                tag(9);
                out.extend_from_slice(&min_cohort.to_be_bytes());
            }
            Statistic::OrderStatistic { rank } => {
                tag(10);
                out.extend_from_slice(&rank.to_be_bytes());
            }
            Statistic::LinearRegression { covariates } => {
                tag(11);
                out.extend_from_slice(&(*covariates as u64).to_be_bytes());
            }
            Statistic::VectorSum => tag(12),
            Statistic::Private {
                release,
                party_sigma2,
            } => {
                tag(13);
                release.canonical_bytes(&mut out);
                out.extend_from_slice(&(party_sigma2.len() as u64).to_be_bytes());
                for s in party_sigma2 {
                    out.extend_from_slice(&s.to_be_bytes());
                }
            }
        }
        out
    }
}

/// What sealed aggregates are bound to: the statistic with its parameters, the number of input
/// rows, and the caller's context (e.g. the digest of the request they answer).
fn seal_context(statistic: &Statistic, n: u64, context: &[u8]) -> Vec<u8> {
    let label = statistic.canonical_bytes();
    let mut out = Vec::with_capacity(16 + label.len() + 16 + context.len());
    out.extend_from_slice(b"hdg sealed aggregates v1\n");
    out.extend_from_slice(&(label.len() as u64).to_be_bytes());
    out.extend_from_slice(&label);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&(context.len() as u64).to_be_bytes());
    out.extend_from_slice(context);
    out
}

/// Why a statistic could not be computed or opened.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StatsError {
    /// The documented range could overflow the ring for this input size and value bound.
    #[error("{statistic}: refused, {rule}")]
    Overflow {
        /// The statistic.
        statistic: &'static str,
        /// The range rule that would be violated.
        rule: &'static str,
    },
    /// A public parameter is invalid.
    #[error("{statistic}: invalid parameter: {reason}")]
    InvalidParameter {
        /// The statistic.
        statistic: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The protocol failed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Sealed outputs could not be opened.
    #[error(transparent)]
    Reveal(#[from] RevealError),
    /// The three sealed aggregates do not describe the same statistic.
    #[error("sealed aggregates disagree on the statistic or the input size")]
    Mismatch,
    /// The opened aggregates do not have the shape the statistic needs.
    #[error("{statistic}: expected {expected} aggregates, got {got}")]
    Shape {
        /// The statistic.
        statistic: &'static str,
        /// Aggregates expected.
        expected: usize,
        /// Aggregates received.
        got: usize,
    },
}

/// Shares of a statistic's aggregates, ready to be revealed or sealed.
#[derive(Clone, Debug)]
pub struct Aggregates {
    /// The statistic and its public parameters.
    pub statistic: Statistic,
    /// Number of input rows (public).
    pub n: u64,
    /// This party's shares of the aggregates.
    pub shares: ArithShares,
}

/// One party's sealed aggregates for an outside recipient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SealedAggregates {
    /// The statistic and its public parameters.
    pub statistic: Statistic,
    /// Number of input rows (public).
    pub n: u64,
    /// The sealed shares.
    pub output: SealedOutput,
}

impl Aggregates {
    /// Opens the aggregates to all three parties and finishes the statistic.
    /// Cost: one round, one element per aggregate per party.
    pub fn reveal(&self, party: &mut Party) -> Result<StatValue, StatsError> {
        let values = reveal(party, &self.shares)?;
        finish(&self.statistic, self.n, &values)
    }

    /// Seals this party's shares to the recipient, bound to the statistic, its parameters, the
    /// row count and `context` (what the output answers), once everything computed is verified
    /// ([`seal_output`]).
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        party: &mut Party,
        recipient: &PublicKey,
        context: &[u8],
        rng: &mut R,
    ) -> Result<SealedAggregates, ProtocolError> {
        let bound = seal_context(&self.statistic, self.n, context);
        Ok(SealedAggregates {
            statistic: self.statistic.clone(),
            n: self.n,
            output: seal_output(party, &self.shares, recipient, &bound, rng)?,
        })
    }
}

/// The recipient's side: opens the three parties' sealed aggregates (party order) as the answer
/// for `context`, checks they agree, and finishes the statistic. The statistic and row count
/// written beside the ciphertexts are bound to them: relabelled aggregates do not open.
pub fn open_aggregates(
    recipient: &StaticSecret,
    sealed: &[SealedAggregates; 3],
    context: &[u8],
) -> Result<StatValue, StatsError> {
    if sealed
        .iter()
        .any(|s| s.statistic != sealed[0].statistic || s.n != sealed[0].n)
    {
        return Err(StatsError::Mismatch);
    }
    let outputs = [0, 1, 2].map(|i| sealed[i].output.clone());
    let bound = seal_context(&sealed[0].statistic, sealed[0].n, context);
    let values = open_sealed(recipient, &outputs, &bound)?;
    finish(&sealed[0].statistic, sealed[0].n, &values)
}

#[cfg(test)]
mod private_tests;
#[cfg(test)]
mod tests;
