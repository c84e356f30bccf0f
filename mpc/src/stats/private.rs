//! Differentially private releases: each statistic bounds what one patient contributes, then
//! the parties add their noise ([`crate::dp::noise`]) to every aggregate before it is sealed.
//!
//! The caller passes one value per patient (the selection rule is the caller's; see the
//! gateway's row selection). Values are clipped inside the MPC to public bounds [`Clip`] and
//! centred on the clip's midpoint c, so d = clip(x) - c lies in [-r, r] with r the clip's
//! radius. Sums of squares are centred as well: d^2 - q with q = floor(r^2 / 2) lies in
//! [-q, r^2 - q]. With add/remove-one-patient neighbours, the sensitivities are:
//!
//! | release | aggregates | sensitivities | one patient moves |
//! |---|---|---|---|
//! | count | n | 1 | all |
//! | sum, mean | n, S d | 1, r | all |
//! | variance | n, S d, S (d^2 - q) | 1, r, ceil(r^2/2) | all |
//! | Pearson | n, S dx, S dy, S (dx^2 - qx), S (dy^2 - qy), S dx dy | 1, rx, ry, ceil(rx^2/2), ceil(ry^2/2), rx ry | all |
//! | covariance | n, S dx, S dy, S dx dy | 1, rx, ry, rx ry | all |
//! | two groups by y > t | n, S b, S d, S b d, S (d^2 - q), S b (d^2 - q), b = [y > t] | 1, 1, r, r, ceil(r^2/2), ceil(r^2/2) | all |
//! | histogram | one count per bucket | 1 each | one |
//! | filtered mean | #{x > t}, S d [x > t] | 1, r | all |
//! | quantile | counts over a grid of the clip range | 1 each | one |
//! | min, max | counts over a grid of the clip range | 1 each | one |
//! | regression of y on x_1..x_p | n, S d_j, S d_j d_k (j <= k over y, x_1..x_p; squares centred) | 1, r_j, r_j r_k (ceil(r_j^2/2) for a square) | all |
//!
//! The released count n is noised too: the exact number of rows never leaves the parties
//! (sealed aggregates of a private release carry n = 0).

use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use super::{Aggregates, Statistic, StatsError, ValueBound, histogram};
use crate::dp::accounting::{Affects, Draws, PlanError, noise_tail, plan};
use crate::dp::noise::add_noise;
use crate::protocols::a2b::msb_within;
use crate::protocols::b2a::bits_to_arith;
use crate::protocols::compare::greater_than_public;
use crate::protocols::mul::{dot_many, mul};
use crate::ring::encode;
use crate::stream::{part_of, part_size, sum_over_parts};
use crate::{ArithShares, Party};

/// Public bounds every value is clipped to before it counts: [lo, hi], lo < hi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clip {
    /// Smallest value counted (smaller ones count as `lo`).
    pub lo: i64,
    /// Largest value counted (larger ones count as `hi`).
    pub hi: i64,
}

impl Clip {
    /// The bounds, refusing an empty range and one whose width does not fit comfortably
    /// (hi - lo < 2^40, so squares and their sums stay exact).
    pub fn new(lo: i64, hi: i64) -> Result<Clip, StatsError> {
        let width = hi as i128 - lo as i128;
        if width <= 0 || width >= 1 << 40 {
            return Err(StatsError::InvalidParameter {
                statistic: "private release",
                reason: "clipping bounds must satisfy lo < hi and hi - lo < 2^40",
            });
        }
        Ok(Clip { lo, hi })
    }

    /// The midpoint the values are centred on (rounded down).
    pub fn center(&self) -> i64 {
        self.lo + (self.hi - self.lo) / 2
    }

    /// The largest |clip(x) - center|.
    pub fn radius(&self) -> u64 {
        let c = self.center();
        ((self.hi - c).max(c - self.lo)) as u64
    }

    /// q = floor(r^2 / 2), the offset of the centred squares.
    pub fn square_offset(&self) -> u64 {
        let r = self.radius();
        r * r / 2
    }

    /// The sensitivity of a sum of centred squares: max(q, r^2 - q) = ceil(r^2 / 2).
    pub fn square_sensitivity(&self) -> u64 {
        let r = self.radius();
        r * r - self.square_offset()
    }
}

/// What a private release computes, with its public parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Release {
    /// The number of patients.
    Count,
    /// The sum of the clipped values.
    Sum {
        /// Clipping bounds.
        clip: Clip,
    },
    /// The mean of the clipped values.
    Mean {
        /// Clipping bounds.
        clip: Clip,
    },
    /// Mean and variance of the clipped values.
    Variance {
        /// Clipping bounds.
        clip: Clip,
    },
    /// Pearson correlation of clipped pairs.
    Pearson {
        /// Clipping bounds of x.
        x: Clip,
        /// Clipping bounds of y.
        y: Clip,
    },
    /// Covariance of clipped pairs (the sample covariance, shift-invariant, so the centring
    /// costs nothing).
    Covariance {
        /// Clipping bounds of x.
        x: Clip,
        /// Clipping bounds of y.
        y: Clip,
    },
    /// Count, mean and variance of the clipped x in two groups of patients split by their
    /// paired y: y > `threshold` and the others. Which group a patient is in stays secret; from
    /// the two groups' figures follow the difference of the means and Welch's t.
    TwoGroups {
        /// The split: y strictly greater than this (y's fixed point).
        threshold: i64,
        /// Clipping bounds of x.
        clip: Clip,
    },
    /// The smallest or the largest value, from noisy counts over a grid as a quantile's: the
    /// outer edge of the outermost bucket whose noisy count clears
    /// [`super::estimate::EXTREME_SDS`] noise standard deviations. The exact extreme is one
    /// patient's value, which no private release may give; this is where the data end for
    /// more than a noise-level number of patients.
    Extreme {
        /// The largest (else the smallest).
        max: bool,
        /// The grid's range.
        clip: Clip,
        /// Buckets of the grid inside the range.
        buckets: u16,
    },
    /// Least squares of the first column (the outcome) on the others (the predictors), from
    /// the noisy count, centred sums and centred cross products of all of them (each pair once):
    /// coefficients, their standard errors and R^2.
    Regression {
        /// Clipping bounds of the outcome, then of each predictor.
        clips: Vec<Clip>,
        /// Only the patients whose cohort column (the last input, after the predictors) is
        /// strictly greater than this: every centred value of the others is multiplied by the
        /// secret bit, and the count is the bits' sum. Which patients are in stays secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cohort: Option<i64>,
    },
    /// Counts per bucket between public edges (as [`super::histogram::histogram`]).
    Histogram {
        /// Strictly increasing edges.
        edges: Vec<i64>,
    },
    /// Count and mean of the clipped x of the patients whose paired y (another indicator)
    /// is strictly greater than `threshold`: a mean in a cohort chosen by another indicator.
    /// Which patients are in the cohort stays secret.
    CohortMean {
        /// The cohort: y strictly greater than this (y's fixed point).
        threshold: i64,
        /// Clipping bounds of x.
        clip: Clip,
    },
    /// Count and mean of the clipped values of those above the threshold.
    FilteredMean {
        /// Values strictly greater than this are kept.
        threshold: i64,
        /// Clipping bounds.
        clip: Clip,
    },
    /// A quantile from noisy counts over a grid of `buckets` equal buckets of the clip range
    /// (and one bucket each below and above it).
    Quantile {
        /// The quantile in thousandths (500: the median).
        permille: u16,
        /// The grid's range.
        clip: Clip,
        /// Buckets of the grid inside the range.
        buckets: u16,
    },
}

impl Release {
    /// The aggregates' sensitivities and how many of them one patient moves (module doc).
    pub fn sensitivities(&self) -> (Vec<u64>, Affects) {
        match self {
            Release::Count => (vec![1], Affects::All),
            Release::Sum { clip } | Release::Mean { clip } => {
                (vec![1, clip.radius()], Affects::All)
            }
            Release::Variance { clip } => (
                vec![1, clip.radius(), clip.square_sensitivity()],
                Affects::All,
            ),
            Release::Pearson { x, y } => (
                vec![
                    1,
                    x.radius(),
                    y.radius(),
                    x.square_sensitivity(),
                    y.square_sensitivity(),
                    x.radius() * y.radius(),
                ],
                Affects::All,
            ),
            Release::Covariance { x, y } => (
                vec![1, x.radius(), y.radius(), x.radius() * y.radius()],
                Affects::All,
            ),
            Release::TwoGroups { clip, .. } => {
                let (r, s) = (clip.radius(), clip.square_sensitivity());
                (vec![1, 1, r, r, s, s], Affects::All)
            }
            Release::Regression { clips, .. } => {
                let mut s = vec![1];
                s.extend(clips.iter().map(Clip::radius));
                for (j, k) in product_pairs(clips.len()) {
                    s.push(if j == k {
                        clips[j].square_sensitivity()
                    } else {
                        clips[j].radius() * clips[k].radius()
                    });
                }
                (s, Affects::All)
            }
            Release::Histogram { edges } => (vec![1; edges.len() + 1], Affects::One),
            Release::FilteredMean { clip, .. } | Release::CohortMean { clip, .. } => {
                (vec![1, clip.radius()], Affects::All)
            }
            Release::Quantile { .. } | Release::Extreme { .. } => {
                (vec![1; self.grid().len() + 1], Affects::One)
            }
        }
    }

    /// How the budget is split over the aggregates (relative weights). A variance's estimate
    /// depends on the count as much as on the centred squares (the centring offset is divided
    /// by the count), and little on the sum when the clip is centred near the mean; so do a
    /// correlation's. A covariance depends mostly on its cross product: the count and the sums
    /// enter only through the covariance itself and the means' offsets from the clips' centres.
    /// Other releases split evenly.
    pub fn weights(&self) -> Vec<u32> {
        match self {
            Release::Variance { .. } => vec![2, 1, 2],
            Release::Pearson { .. } => vec![2, 1, 1, 2, 2, 2],
            Release::Covariance { .. } => vec![1, 1, 1, 4],
            // Each group as a variance: its count, sum and centred squares at 2:1:2.
            Release::TwoGroups { .. } => vec![2, 2, 1, 1, 2, 2],
            // The slopes rest on the cross products and squares, the count enters every
            // moment, the sums only through the means' offsets from the clips' centres.
            Release::Regression { clips, .. } => {
                let mut w = vec![2];
                w.extend(clips.iter().map(|_| 1));
                w.extend(product_pairs(clips.len()).map(|_| 2));
                w
            }
            _ => vec![1; self.sensitivities().0.len()],
        }
    }

    /// The per-draw noise parameters that make this release `rho`-zCDP on the draws that count
    /// when they are drawn as `draws` says ([`crate::dp::accounting::plan`]).
    pub fn plan(&self, rho: f64, draws: Draws) -> Result<Vec<u64>, PlanError> {
        let (d, affects) = self.sensitivities();
        plan(&d, &self.weights(), affects, rho, draws)
    }

    /// The grid edges of a quantile or an extreme (empty for other releases): lo, the
    /// `buckets - 1` inner edges (rounded down), hi.
    pub fn grid(&self) -> Vec<i64> {
        match self {
            Release::Quantile { clip, buckets, .. } | Release::Extreme { clip, buckets, .. } => {
                let b = i128::from((*buckets).max(1));
                let (lo, width) = (clip.lo as i128, clip.hi as i128 - clip.lo as i128);
                let mut edges: Vec<i64> = (0..=b).map(|j| (lo + j * width / b) as i64).collect();
                edges.dedup();
                edges
            }
            _ => Vec::new(),
        }
    }

    /// The release in one canonical encoding (a tag byte, then the parameters as big-endian
    /// integers, a list with its length first), part of [`Statistic::canonical_bytes`].
    pub fn canonical_bytes(&self, out: &mut Vec<u8>) {
        let clip = |out: &mut Vec<u8>, c: &Clip| {
            out.extend_from_slice(&c.lo.to_be_bytes());
            out.extend_from_slice(&c.hi.to_be_bytes());
        };
        match self {
            Release::Count => out.push(1),
            Release::Sum { clip: c } => {
                out.push(2);
                clip(out, c);
            }
            Release::Mean { clip: c } => {
                out.push(3);
                clip(out, c);
            }
            Release::Variance { clip: c } => {
                out.push(4);
                clip(out, c);
            }
            Release::Pearson { x, y } => {
                out.push(5);
                clip(out, x);
                clip(out, y);
            }
            Release::Histogram { edges } => {
                out.push(6);
                out.extend_from_slice(&(edges.len() as u64).to_be_bytes());
                for e in edges {
                    out.extend_from_slice(&e.to_be_bytes());
                }
            }
            Release::FilteredMean { threshold, clip: c } => {
                out.push(7);
                out.extend_from_slice(&threshold.to_be_bytes());
                clip(out, c);
            }
            Release::Quantile {
                permille,
                clip: c,
                buckets,
            } => {
                out.push(8);
                out.extend_from_slice(&permille.to_be_bytes());
                clip(out, c);
                out.extend_from_slice(&buckets.to_be_bytes());
            }
            Release::Covariance { x, y } => {
                out.push(9);
                clip(out, x);
                clip(out, y);
            }
            Release::TwoGroups { threshold, clip: c } => {
                out.push(10);
                out.extend_from_slice(&threshold.to_be_bytes());
                clip(out, c);
            }
            Release::Extreme {
                max,
                clip: c,
                buckets,
            } => {
                out.push(12);
                out.push(u8::from(*max));
                clip(out, c);
                out.extend_from_slice(&buckets.to_be_bytes());
            }
            Release::Regression { clips, cohort } => {
                // In a cohort, its own tag and the threshold first; without, as before.
                if let Some(threshold) = cohort {
                    out.push(13);
                    out.extend_from_slice(&threshold.to_be_bytes());
                } else {
                    out.push(11);
                }
                out.extend_from_slice(&(clips.len() as u64).to_be_bytes());
                for c in clips {
                    clip(out, c);
                }
            }
            Release::CohortMean { threshold, clip: c } => {
                out.push(14);
                out.extend_from_slice(&threshold.to_be_bytes());
                clip(out, c);
            }
        }
    }
}

/// The pairs (j, k), j <= k, of `columns` columns in row-major order: the cross products a
/// regression releases.
pub fn product_pairs(columns: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..columns).flat_map(move |j| (j..columns).map(move |k| (j, k)))
}

/// The input of a private release: one value per patient in each column (x; then y for a
/// paired release; a regression's outcome, then its predictors), each column with the
/// catalog's bound and whether it must be clipped inside the MPC (not when the clip contains
/// every value the catalog admits).
pub struct PrivateInput<'a> {
    /// The columns, aligned (row i of each is patient i's).
    pub columns: Vec<&'a ArithShares>,
    /// The catalog's bound of each column.
    pub bounds: Vec<ValueBound>,
    /// Whether each column must be clipped in MPC.
    pub clip_needed: Vec<bool>,
}

impl<'a> PrivateInput<'a> {
    /// Column `j` with its bound and whether it is clipped, or the error naming what is missing.
    fn column(&self, j: usize) -> Result<(&'a ArithShares, ValueBound, bool), StatsError> {
        match (
            self.columns.get(j),
            self.bounds.get(j),
            self.clip_needed.get(j),
        ) {
            (Some(c), Some(b), Some(n)) => Ok((c, *b, *n)),
            _ => Err(StatsError::InvalidParameter {
                statistic: "private release",
                reason: "one column, bound and clipping flag per input of the release",
            }),
        }
    }

    /// Values per column (0 without columns).
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.len())
    }
}

/// Computes `release` over `input` and adds the three parties' noise of per-party parameters
/// `party_sigma2` (from [`Release::plan`]; the same at every party) drawn with `rng`.
/// Reveals nothing to the parties; the aggregates are noised before anyone opens them.
pub fn private_release<R: CryptoRng + ?Sized>(
    party: &mut Party,
    input: &PrivateInput<'_>,
    release: &Release,
    party_sigma2: &[u64],
    rng: &mut R,
) -> Result<Aggregates, StatsError> {
    let (sens, _) = release.sensitivities();
    if party_sigma2.len() != sens.len() {
        return Err(StatsError::InvalidParameter {
            statistic: "private release",
            reason: "one noise parameter per aggregate",
        });
    }
    let rows = input.rows();
    check_noised_range(release, rows as u64, party_sigma2)?;
    if input.columns.iter().any(|c| c.len() != rows) {
        return Err(StatsError::InvalidParameter {
            statistic: "private paired release",
            reason: "the columns must be paired (equal lengths)",
        });
    }
    // Comparisons per value: a part holds at most the party's part size of them.
    let per_value = match release {
        Release::Histogram { edges } => edges.len(),
        Release::Quantile { .. } | Release::Extreme { .. } => release.grid().len(),
        Release::TwoGroups { .. } => 3,
        Release::Regression { clips, cohort } => 2 * clips.len() + usize::from(cohort.is_some()),
        _ => 2,
    };
    let size = part_size(party, per_value);
    let mut shares = sum_over_parts(party, rows, size, |party, range| {
        let parts: Vec<_> = input
            .columns
            .iter()
            .map(|c| part_of(c, range.clone()))
            .collect();
        let part = PrivateInput {
            columns: parts.iter().map(|c| &**c).collect(),
            bounds: input.bounds.clone(),
            clip_needed: input.clip_needed.clone(),
        };
        contributions(party, &part, release)
    })?;
    add_noise(party, &mut shares, party_sigma2, rng)?;
    Ok(Aggregates {
        statistic: Statistic::Private {
            release: release.clone(),
            party_sigma2: party_sigma2.to_vec(),
        },
        n: 0,
        shares,
    })
}

/// The aggregates of `release` over `input` before noise: a sum over the values (the count,
/// the clipped and centred sums and products, the histogram's counts), so the parts of a long
/// input add up to the whole.
pub(super) fn contributions(
    party: &mut Party,
    input: &PrivateInput<'_>,
    release: &Release,
) -> Result<ArithShares, StatsError> {
    let n = input.rows() as u64;
    let me = party.id();
    let count = ArithShares::public(me, &[n]);
    let (x, x_bound, x_needed) = input.column(0)?;
    let shares = match release {
        Release::Count => count,
        Release::Sum { clip } | Release::Mean { clip } => {
            let d = centred(party, x, *clip, x_bound, x_needed)?;
            ArithShares::concat(&[&count, &d.sum()])
        }
        Release::Variance { clip } => {
            let d = centred(party, x, *clip, x_bound, x_needed)?;
            let mut s2 = dot_many(party, &[(&d, &d)])?;
            s2.add_public(me, (n.wrapping_mul(clip.square_offset())).wrapping_neg());
            ArithShares::concat(&[&count, &d.sum(), &s2])
        }
        Release::Pearson { x: cx, y: cy } => {
            let (ys, y_bound, y_needed) = input.column(1)?;
            let dx = centred(party, x, *cx, x_bound, x_needed)?;
            let dy = centred(party, ys, *cy, y_bound, y_needed)?;
            let p = dot_many(party, &[(&dx, &dx), (&dy, &dy), (&dx, &dy)])?;
            let mut sxx = p.slice(0..1);
            let mut syy = p.slice(1..2);
            let sxy = p.slice(2..3);
            sxx.add_public(me, n.wrapping_mul(cx.square_offset()).wrapping_neg());
            syy.add_public(me, n.wrapping_mul(cy.square_offset()).wrapping_neg());
            ArithShares::concat(&[&count, &dx.sum(), &dy.sum(), &sxx, &syy, &sxy])
        }
        Release::Covariance { x: cx, y: cy } => {
            let (ys, y_bound, y_needed) = input.column(1)?;
            let dx = centred(party, x, *cx, x_bound, x_needed)?;
            let dy = centred(party, ys, *cy, y_bound, y_needed)?;
            let sxy = dot_many(party, &[(&dx, &dy)])?;
            ArithShares::concat(&[&count, &dx.sum(), &dy.sum(), &sxy])
        }
        Release::Regression { clips, cohort } => {
            if clips.len() < 2 {
                return Err(StatsError::InvalidParameter {
                    statistic: "private regression",
                    reason: "a regression needs an outcome and at least one predictor",
                });
            }
            let mut d = Vec::with_capacity(clips.len());
            for (j, clip) in clips.iter().enumerate() {
                let (c, bound, needed) = input.column(j)?;
                d.push(centred(party, c, *clip, bound, needed)?);
            }
            // In a cohort: each centred value times the patient's secret bit (one round for all
            // columns), so the sums and products run over the cohort only (b^2 = b), and the
            // count is the bits' sum.
            let (weighted, count) = match cohort {
                Some(threshold) => {
                    let b = cohort_bits(party, input, clips.len(), *threshold)?;
                    let bs: Vec<&ArithShares> = d.iter().map(|_| &b).collect();
                    let ds: Vec<&ArithShares> = d.iter().collect();
                    let all = mul(party, &ArithShares::concat(&bs), &ArithShares::concat(&ds))?;
                    let rows = b.len();
                    let weighted: Vec<ArithShares> = (0..d.len())
                        .map(|j| all.slice(j * rows..(j + 1) * rows))
                        .collect();
                    (Some(weighted), b.sum())
                }
                None => (None, count),
            };
            let weighted = weighted.as_ref().unwrap_or(&d);
            let pairs: Vec<(usize, usize)> = product_pairs(clips.len()).collect();
            let factors: Vec<_> = pairs.iter().map(|&(j, k)| (&weighted[j], &d[k])).collect();
            let products = dot_many(party, &factors)?;
            let mut parts: Vec<ArithShares> = vec![count.clone()];
            parts.extend(weighted.iter().map(ArithShares::sum));
            for (at, &(j, k)) in pairs.iter().enumerate() {
                let mut s = products.slice(at..at + 1);
                if j == k {
                    // A square, centred as a variance's is: minus the offset once per patient
                    // counted.
                    let q = clips[j].square_offset();
                    match cohort {
                        Some(_) => s = s.sub(&count.scale(q)),
                        None => s.add_public(me, n.wrapping_mul(q).wrapping_neg()),
                    }
                }
                parts.push(s);
            }
            ArithShares::concat(&parts.iter().collect::<Vec<_>>())
        }
        Release::CohortMean { threshold, clip } => {
            let b = cohort_bits(party, input, 1, *threshold)?;
            let d = centred(party, x, *clip, x_bound, x_needed)?;
            let total = dot_many(party, &[(&b, &d)])?;
            ArithShares::concat(&[&b.sum(), &total])
        }
        Release::TwoGroups { threshold, clip } => {
            let (ys, by, _) = input.column(1)?;
            by.check_comparable(&[*threshold], "private two-group comparison")?;
            let above =
                greater_than_public(party, ys, *threshold, by.width_against(&[*threshold]))?;
            let b = bits_to_arith(party, &above)?;
            let d = centred(party, x, *clip, x_bound, x_needed)?;
            let d2 = mul(party, &d, &d)?;
            let p = dot_many(party, &[(&b, &d), (&b, &d2)])?;
            // Centred squares: d^2 - q summed over all, and over the group above.
            let q = clip.square_offset();
            let sb = b.sum();
            let mut s2 = d2.sum();
            s2.add_public(me, n.wrapping_mul(q).wrapping_neg());
            let sb2 = p.slice(1..2).sub(&sb.scale(q));
            ArithShares::concat(&[&count, &sb, &d.sum(), &p.slice(0..1), &s2, &sb2])
        }
        Release::Histogram { edges } => histogram::histogram(party, x, edges, x_bound)?.shares,
        Release::FilteredMean { threshold, clip } => {
            x_bound.check_comparable(&[*threshold], "private filtered mean")?;
            let width = x_bound.width_against(&[*threshold]);
            let keep = greater_than_public(party, x, *threshold, width)?;
            let b = bits_to_arith(party, &keep)?;
            let d = centred(party, x, *clip, x_bound, x_needed)?;
            let total = dot_many(party, &[(&b, &d)])?;
            ArithShares::concat(&[&b.sum(), &total])
        }
        Release::Quantile { .. } | Release::Extreme { .. } => {
            histogram::histogram(party, x, &release.grid(), x_bound)?.shares
        }
    };
    Ok(shares)
}

/// The arithmetic shares of [column `j` > `threshold`], one secret bit per patient: who is in a
/// cohort chosen by another indicator (the column is compared, never clipped).
fn cohort_bits(
    party: &mut Party,
    input: &PrivateInput<'_>,
    j: usize,
    threshold: i64,
) -> Result<ArithShares, StatsError> {
    let (ys, bound, _) = input.column(j)?;
    bound.check_comparable(&[threshold], "private cohort")?;
    let inside = greater_than_public(party, ys, threshold, bound.width_against(&[threshold]))?;
    Ok(bits_to_arith(party, &inside)?)
}

/// clip(x) - center, clipping in MPC only when `needed`.
fn centred(
    party: &mut Party,
    x: &ArithShares,
    clip: Clip,
    bound: ValueBound,
    needed: bool,
) -> Result<ArithShares, StatsError> {
    let mut d = if needed {
        clip_values(party, x, clip, bound)?
    } else {
        x.clone()
    };
    d.add_public(party.id(), encode(clip.center()).wrapping_neg());
    Ok(d)
}

/// Each value clipped to [lo, hi]: x + [x < lo](lo - x) + [x > hi](hi - x), with both
/// comparisons in one MSB batch and both corrections in one multiplication.
/// Cost: MSB of 2n values (8 rounds), bit injection of 2n, one multiplication of 2n.
fn clip_values(
    party: &mut Party,
    x: &ArithShares,
    clip: Clip,
    bound: ValueBound,
) -> Result<ArithShares, StatsError> {
    bound.check_comparable(&[clip.lo, clip.hi], "clipping")?;
    let me = party.id();
    let n = x.len();
    let mut below = x.clone(); // x - lo: negative when x < lo
    below.add_public(me, encode(clip.lo).wrapping_neg());
    let mut above = x.neg(); // hi - x: negative when x > hi
    above.add_public(me, encode(clip.hi));
    let width = bound.width_against(&[clip.lo, clip.hi]);
    let bits = msb_within(party, &ArithShares::concat(&[&below, &above]), width)?;
    let b = bits_to_arith(party, &bits)?;
    let corrections = ArithShares::concat(&[&below.neg(), &above]);
    let d = mul(party, &b, &corrections)?;
    let mut out = x.add(&d.slice(0..n));
    out.add_assign(&d.slice(n..2 * n));
    Ok(out)
}

/// Refuses a release whose noised aggregates could leave (-2^63, 2^63): each aggregate's
/// largest magnitude over n values plus three parties' noise tails.
fn check_noised_range(release: &Release, n: u64, party_sigma2: &[u64]) -> Result<(), StatsError> {
    let n = n as u128;
    let per_value: Vec<u128> = match release {
        Release::Count
        | Release::Histogram { .. }
        | Release::Quantile { .. }
        | Release::Extreme { .. } => vec![1; party_sigma2.len()],
        Release::Sum { clip }
        | Release::Mean { clip }
        | Release::FilteredMean { clip, .. }
        | Release::CohortMean { clip, .. } => vec![1, clip.radius() as u128],
        Release::Variance { clip } => {
            let r = clip.radius() as u128;
            vec![1, r, r * r]
        }
        Release::Pearson { x, y } => {
            let (rx, ry) = (x.radius() as u128, y.radius() as u128);
            vec![1, rx, ry, rx * rx, ry * ry, rx * ry]
        }
        Release::Covariance { x, y } => {
            let (rx, ry) = (x.radius() as u128, y.radius() as u128);
            vec![1, rx, ry, rx * ry]
        }
        Release::TwoGroups { clip, .. } => {
            let r = clip.radius() as u128;
            vec![1, 1, r, r, r * r, r * r]
        }
        Release::Regression { clips, .. } => {
            let r: Vec<u128> = clips.iter().map(|c| c.radius() as u128).collect();
            let mut v = vec![1];
            v.extend(&r);
            v.extend(product_pairs(r.len()).map(|(j, k)| r[j] * r[k]));
            v
        }
    };
    for (v, s) in per_value.iter().zip(party_sigma2) {
        let largest = n.saturating_mul(*v).saturating_add(noise_tail(*s) as u128);
        if largest >= 1 << 63 {
            return Err(StatsError::Overflow {
                statistic: "private release",
                rule: "n * max|contribution| + the noise tails must stay below 2^63",
            });
        }
    }
    Ok(())
}
