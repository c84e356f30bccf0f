//! SplitMix64: a tiny, fixed pseudo-random generator for synthetic data (not for secrets).

/// SplitMix64 state.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator of one patient, seeded from BLAKE3 of `(seed, index)`.
    pub(crate) fn for_patient(seed: u64, index: u64) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key("hdg-schema synth v1 patient seed");
        hasher.update(&seed.to_le_bytes());
        hasher.update(&index.to_le_bytes());
        let bytes: [u8; 8] = hasher.finalize().as_bytes()[..8]
            .try_into()
            .expect("8 bytes");
        SplitMix64(u64::from_le_bytes(bytes))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [lo, hi).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    /// Normal with the given mean and standard deviation (Box-Muller).
    pub(crate) fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A random version-4 UUID as text.
    pub(crate) fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        let a = (a & !0xF000) | 0x4000; // version 4 in the third group
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // RFC 4122 variant
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }
}
