//! Differential privacy inside the MPC: exact integer noise samplers ([`sampler`]), the privacy
//! accounting that sizes the noise ([`accounting`]), and the protocol that adds it to shared
//! aggregates ([`noise`]).
//!
//! The model: a release is a vector of integer aggregates whose sensitivity to one patient is
//! bounded by the statistic (one value per patient, clipped to public bounds). Three discrete
//! Gaussian draws are added to each aggregate before it is sealed: each party's own, input as a
//! share (semi-honest), or each share component drawn alike by the two parties that hold it and
//! compared (malicious: a party cannot shift a draw unnoticed). The noise is sized so that the
//! draws a party colluding with the researcher does not know (two own draws, or one component)
//! alone meet the target, so that party still leaves the answer differentially private.
//! Privacy is accounted in zero-concentrated DP (rho-zCDP), which composes by addition, and
//! shown as (epsilon, delta).

pub mod accounting;
pub mod noise;
pub mod sampler;
