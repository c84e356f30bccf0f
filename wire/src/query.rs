//! A researcher's query as signed in a request body ([`Query`], with its [`Statistic`]), and a
//! party's answer as it signs it ([`PartyAnswer`]). The rules a party applies to them (limits,
//! row selection, privacy) are the node's; what is checked on the client's side is
//! [`crate::answer`].

use hdg_mpc::SessionId;
use hdg_mpc::stats::SealedAggregates;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::purpose::Purpose;
use crate::signed::SignedRequest;

/// Domain prefix of the session id derived from a signed query.
const SESSION_DOMAIN: &[u8] = b"hdg query session v1\n";

/// The query's MPC session id: SHA-256 over a domain prefix and the request's signature (fresh
/// per request, and every party, and the researcher checking the answers, derives it alone).
pub fn session_of(signed: &SignedRequest) -> SessionId {
    let mut h = Sha256::new();
    h.update(SESSION_DOMAIN);
    h.update(signed.signature.as_bytes());
    SessionId(h.finalize().into())
}

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
    /// Pearson correlation with a second indicator, paired per patient (the node's row selection).
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
    /// Count and mean of the indicator in a cohort chosen by another indicator (patients whose
    /// latest `cohort.by` exceeds its threshold), paired per patient as Pearson is. Which
    /// patients are in the cohort stays secret. Answered with differential privacy only.
    CohortMean {
        /// Who is in.
        cohort: Cohort,
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
    /// eight (the node's `MAX_PREDICTORS`) other indicators with an intercept, paired per patient as
    /// Pearson is (the patients with a latest value of every one): the coefficients, their
    /// standard errors and R^2.
    Regression {
        /// The predictors, in the order of the coefficients.
        predictors: Vec<Predictor>,
        /// Only the patients of this cohort (answered with differential privacy only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cohort: Option<Cohort>,
    },
}

/// A cohort of patients chosen by another indicator: those whose latest value of `by` in the
/// query's window is strictly greater than `threshold`. The comparison is made inside the MPC:
/// no party learns who is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// The indicator that chooses.
    pub by: String,
    /// `by` strictly greater than this (the fixed point of `by`).
    pub threshold: i64,
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
    /// pair, the two-group comparison's split, a regression's predictors, a cohort's indicator
    /// (always last). Empty for the others.
    pub fn others(&self) -> Vec<&str> {
        match self {
            Statistic::Pearson { pair }
            | Statistic::Covariance { pair }
            | Statistic::TwoGroups { by: pair, .. } => vec![pair],
            Statistic::CohortMean { cohort } => vec![&cohort.by],
            // The cohort's indicator last, after the predictors.
            Statistic::Regression { predictors, cohort } => predictors
                .iter()
                .map(|p| p.indicator.as_str())
                .chain(cohort.as_ref().map(|c| c.by.as_str()))
                .collect(),
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
/// node key (see [`crate::answer`]) so that the node relaying it cannot forge, swap, replay or relabel
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
    /// SHA-256 of the selected record handles (the node's `RowDigest`); the same at every
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
    /// ([`crate::answer::signed_message`]); empty until signed.
    #[serde(default)]
    pub signature: String,
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
