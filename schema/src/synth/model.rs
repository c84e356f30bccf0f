//! The patient model: latent traits drawn once, and correlated values at each visit.

use super::rng::SplitMix64;

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_YEAR: f64 = 365.25 * 86_400_000.0;

/// Traits of one synthetic patient.
pub(crate) struct Patient {
    pub male: bool,
    /// Birth instant (ms since epoch, midnight UTC).
    pub birth_ms: i64,
    pub height_cm: f64,
    pub bmi_base: f64,
    /// BMI change per year.
    pub bmi_drift: f64,
    /// Diabetes propensity (standard normal, shifted by BMI and age).
    pub diabetes: f64,
    /// Person-specific offsets.
    pub bp_offset: f64,
    pub hr_offset: f64,
    pub first_visit_ms: i64,
}

/// Values measured at one visit, in catalog units (cm, kg, kg/m2, mm[Hg], /min, %, mg/dL).
pub(crate) struct Visit {
    pub at_ms: i64,
    pub height: f64,
    pub weight: f64,
    pub bmi: f64,
    pub systolic: f64,
    pub diastolic: f64,
    pub heart_rate: f64,
    /// HbA1c and glucose, at about half of the visits.
    pub labs: Option<(f64, f64)>,
}

impl Patient {
    pub(crate) fn draw(rng: &mut SplitMix64, end_ms: i64) -> Patient {
        let male = rng.uniform() < 0.5;
        let age_at_end = rng.range(25, 86);
        let birth_ms =
            end_ms - (age_at_end as f64 * MS_PER_YEAR) as i64 - rng.range(0, 365) * MS_PER_DAY;
        let birth_ms = birth_ms - birth_ms.rem_euclid(MS_PER_DAY);
        let height_cm = if male {
            rng.normal(176.0, 7.0)
        } else {
            rng.normal(163.0, 6.5)
        }
        .clamp(140.0, 205.0);
        let bmi_base = rng.normal(27.0, 4.5).clamp(17.0, 48.0);
        let years_span = rng.range(3, 12);
        Patient {
            male,
            birth_ms,
            height_cm,
            bmi_base,
            bmi_drift: rng.normal(0.15, 0.3),
            diabetes: rng.normal(0.0, 1.0)
                + 0.12 * (bmi_base - 27.0)
                + 0.02 * (age_at_end as f64 - 55.0),
            bp_offset: rng.normal(0.0, 8.0),
            hr_offset: rng.normal(0.0, 6.0),
            first_visit_ms: end_ms - years_span * 365 * MS_PER_DAY,
        }
    }

    /// Visits about every four months from the first visit until `end_ms`.
    pub(crate) fn visits(&self, rng: &mut SplitMix64, end_ms: i64) -> Vec<Visit> {
        let mut visits = Vec::new();
        let mut day_ms = self.first_visit_ms + rng.range(0, 60) * MS_PER_DAY;
        while day_ms < end_ms {
            let at_ms =
                day_ms - day_ms.rem_euclid(MS_PER_DAY) + rng.range(7 * 3600, 18 * 3600) * 1000;
            visits.push(self.visit(rng, at_ms));
            day_ms += rng.range(60, 180) * MS_PER_DAY;
        }
        visits
    }

    fn visit(&self, rng: &mut SplitMix64, at_ms: i64) -> Visit {
        let age = (at_ms - self.birth_ms) as f64 / MS_PER_YEAR;
        let years_in = (at_ms - self.first_visit_ms) as f64 / MS_PER_YEAR;
        let height = (self.height_cm + rng.normal(0.0, 0.4)).clamp(140.0, 210.0);
        let bmi =
            (self.bmi_base + self.bmi_drift * years_in + rng.normal(0.0, 0.4)).clamp(15.0, 60.0);
        let weight = bmi * (height / 100.0) * (height / 100.0);
        let systolic =
            (100.0 + 0.45 * age + 0.9 * (bmi - 25.0) + self.bp_offset + rng.normal(0.0, 8.0))
                .clamp(85.0, 220.0);
        let diastolic =
            (0.45 * systolic + 18.0 + 0.4 * (bmi - 25.0) + rng.normal(0.0, 5.0)).clamp(45.0, 130.0);
        let heart_rate =
            (70.0 + 0.4 * (bmi - 25.0) + self.hr_offset + rng.normal(0.0, 6.0)).clamp(45.0, 140.0);
        let labs = (rng.uniform() < 0.5).then(|| {
            let diabetic = if self.diabetes > 1.0 {
                0.9 + 1.3 * (self.diabetes - 1.0)
            } else {
                0.0
            };
            let hba1c = (5.0
                + 0.06 * (bmi - 25.0)
                + 0.012 * (age - 45.0)
                + diabetic
                + rng.normal(0.0, 0.25))
            .clamp(4.0, 14.0);
            let glucose = (28.7 * hba1c - 46.7 + rng.normal(0.0, 15.0)).clamp(50.0, 600.0);
            (hba1c, glucose)
        });
        Visit {
            at_ms,
            height,
            weight,
            bmi,
            systolic,
            diastolic,
            heart_rate,
            labs,
        }
    }
}
