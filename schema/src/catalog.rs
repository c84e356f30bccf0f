//! The indicator catalog: which indicators exist, their canonical units, accepted units with exact
//! conversions, plausible ranges and precisions. The built-in catalog is `catalog.toml`, compiled
//! in and parsed once; users can add indicators with [`Catalog::with_extension`].
//!
//! A process uses one catalog, [`Catalog::active`]: the built-in one, or the built-in one with a
//! cluster's extension file (local codes) once [`Catalog::activate`] installed it at start. The
//! parties of a cluster compare [`Catalog::digest`] before they compute.

use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use serde::Deserialize;

use crate::decimal::Ratio;
use crate::indicator::{Indicator, UnitConversion};

/// Text of the built-in catalog (same format as an extension file).
pub const BUILTIN_CATALOG_TOML: &str = include_str!("../catalog.toml");

/// Largest precision allowed (10^9 scale).
const MAX_PRECISION: u32 = 9;
/// Largest absolute fixed-point bound allowed: 10^15 keeps every value exactly representable as
/// an f64 in FHIR export and leaves MPC room for sums.
const MAX_ABS_FIXED: u64 = 1_000_000_000_000_000;

static BUILTIN: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::from_toml(BUILTIN_CATALOG_TOML).expect("built-in catalog.toml is valid")
});

/// The catalog [`Catalog::activate`] installed, if any.
static ACTIVE: OnceLock<Catalog> = OnceLock::new();

/// A set of indicators keyed by code.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Catalog {
    indicators: BTreeMap<String, Indicator>,
}

/// Why a catalog text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML of the catalog shape.
    #[error("catalog is not valid TOML of the expected shape: {0}")]
    Syntax(String),
    /// An entry breaks a rule.
    #[error("catalog entry {code}: {reason}")]
    Invalid {
        /// Indicator code of the entry.
        code: String,
        /// The rule broken.
        reason: String,
    },
    /// The same code is defined twice (or an extension redefines a built-in indicator).
    #[error("indicator {0} is defined more than once")]
    Duplicate(String),
    /// Another catalog is already active in this process.
    #[error("another catalog is already active in this process (one catalog per process)")]
    AlreadyActive,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    indicator: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    code: String,
    display: String,
    unit: String,
    precision: u32,
    min: String,
    max: String,
    #[serde(default)]
    units: Vec<UnitFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitFile {
    unit: String,
    factor: String,
    offset: Option<String>,
}

impl Catalog {
    /// The built-in catalog (parsed once, on first use).
    pub fn builtin() -> &'static Catalog {
        &BUILTIN
    }

    /// The catalog this process imports, shares and computes with: the one [`Catalog::activate`]
    /// installed, else the built-in one.
    pub fn active() -> &'static Catalog {
        ACTIVE.get().unwrap_or_else(|| Catalog::builtin())
    }

    /// Installs `catalog` as this process's [`Catalog::active`] (a node calls it once at start,
    /// before it reads a record). Installing the same catalog again is a no-op; another one is
    /// refused, so nothing that already used the catalog sees it change.
    pub fn activate(catalog: Catalog) -> Result<&'static Catalog, CatalogError> {
        let active = ACTIVE.get_or_init(|| catalog.clone());
        if *active == catalog {
            Ok(active)
        } else {
            Err(CatalogError::AlreadyActive)
        }
    }

    /// A digest of everything the encoding of values depends on: per indicator, in code order,
    /// its code, canonical unit, precision, range and accepted units with their conversions
    /// (not the display names). Equal at two parties exactly when they encode, import and
    /// bound every value alike.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new_derive_key("hdg catalog v1");
        let text = |h: &mut blake3::Hasher, s: &str| {
            h.update(&(s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        };
        let ratio = |h: &mut blake3::Hasher, r: Ratio| {
            h.update(&r.numer().to_be_bytes());
            h.update(&r.denom().to_be_bytes());
        };
        h.update(&(self.indicators.len() as u64).to_be_bytes());
        for i in self.indicators.values() {
            text(&mut h, &i.code);
            text(&mut h, &i.unit);
            h.update(&i.precision.to_be_bytes());
            h.update(&i.min_fixed.to_be_bytes());
            h.update(&i.max_fixed.to_be_bytes());
            h.update(&(i.conversions.len() as u64).to_be_bytes());
            for c in &i.conversions {
                text(&mut h, &c.unit);
                ratio(&mut h, c.factor);
                ratio(&mut h, c.offset);
            }
        }
        *h.finalize().as_bytes()
    }

    /// Parses a catalog from TOML text (format documented at the top of `catalog.toml`).
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::default();
        catalog.add_toml(text)?;
        Ok(catalog)
    }

    /// This catalog plus the indicators of an extension file. Redefining an existing code is an
    /// error: stored values depend on its unit and precision.
    pub fn with_extension(&self, text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog = self.clone();
        catalog.add_toml(text)?;
        Ok(catalog)
    }

    /// The indicator with this code.
    pub fn get(&self, code: &str) -> Option<&Indicator> {
        self.indicators.get(code)
    }

    /// All indicators, ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &Indicator> {
        self.indicators.values()
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// True when there is no indicator.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    fn add_toml(&mut self, text: &str) -> Result<(), CatalogError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CatalogError::Syntax(e.message().to_string()))?;
        for entry in file.indicator {
            let indicator = build_indicator(entry)?;
            if self.indicators.contains_key(&indicator.code) {
                return Err(CatalogError::Duplicate(indicator.code));
            }
            self.indicators.insert(indicator.code.clone(), indicator);
        }
        Ok(())
    }
}

fn build_indicator(entry: EntryFile) -> Result<Indicator, CatalogError> {
    let invalid = |reason: &str| CatalogError::Invalid {
        code: entry.code.clone(),
        reason: reason.to_string(),
    };
    if entry.code.is_empty() || entry.code.trim() != entry.code {
        return Err(invalid("code is empty or has surrounding spaces"));
    }
    if entry.unit.is_empty() {
        return Err(invalid("canonical unit is empty"));
    }
    if entry.precision > MAX_PRECISION {
        return Err(invalid("precision above 9"));
    }
    let scale = Ratio::pow10(entry.precision).expect("precision checked");
    let bound = |text: &str, what: &str| -> Result<i64, CatalogError> {
        let value = Ratio::parse(text).map_err(|_| invalid(&format!("{what} is not a decimal")))?;
        let fixed = value.checked_mul(scale).map(Ratio::round_half_away);
        match fixed.and_then(|f| i64::try_from(f).ok()) {
            Some(f) if f.unsigned_abs() <= MAX_ABS_FIXED => Ok(f),
            _ => Err(invalid(&format!(
                "{what} is too large in fixed point (limit 10^15)"
            ))),
        }
    };
    let min_fixed = bound(&entry.min, "min")?;
    let max_fixed = bound(&entry.max, "max")?;
    if min_fixed > max_fixed {
        return Err(invalid("min is above max"));
    }
    let mut conversions: Vec<UnitConversion> = Vec::with_capacity(entry.units.len());
    for u in &entry.units {
        if u.unit.is_empty() || u.unit == entry.unit || conversions.iter().any(|c| c.unit == u.unit)
        {
            return Err(invalid(
                "accepted units must be non-empty, distinct and not the canonical unit",
            ));
        }
        let factor = Ratio::parse(&u.factor)
            .map_err(|_| invalid("unit factor is not a decimal or quotient"))?;
        if factor == Ratio::ZERO {
            return Err(invalid("unit factor is zero"));
        }
        let offset = match &u.offset {
            None => Ratio::ZERO,
            Some(text) => Ratio::parse(text)
                .map_err(|_| invalid("unit offset is not a decimal or quotient"))?,
        };
        conversions.push(UnitConversion {
            unit: u.unit.clone(),
            factor,
            offset,
        });
    }
    Ok(Indicator {
        code: entry.code,
        display: entry.display,
        unit: entry.unit,
        precision: entry.precision,
        min_fixed,
        max_fixed,
        conversions,
    })
}
