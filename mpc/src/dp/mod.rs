//! Differential privacy inside the MPC: exact integer noise samplers ([`sampler`]), the privacy
//! accounting that sizes the noise ([`accounting`]), and the protocol by which each party adds
//! its own noise as a secret share ([`noise`]).
//!
//! The model: a release is a vector of integer aggregates whose sensitivity to one patient is
//! bounded by the statistic (one value per patient, clipped to public bounds). Each party draws
//! discrete Gaussian noise from its own OS randomness and inputs it as a secret share; the sum
//! of the three is added to the aggregates before they are sealed. Each party's noise is sized
//! so that the noise of any two parties alone meets the target: a party that colludes with the
//! researcher (and so knows its own noise) still leaves the answer differentially private.
//! Privacy is accounted in zero-concentrated DP (rho-zCDP), which composes by addition, and
//! shown as (epsilon, delta).

pub mod accounting;
pub mod noise;
pub mod sampler;
