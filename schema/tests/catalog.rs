//! The built-in catalog, extensions, and exact fixed-point encoding (with proptests).

use hdg_schema::{Catalog, CatalogError, Indicator, Ratio, ValueError};
use proptest::prelude::*;

fn get(code: &str) -> &'static Indicator {
    Catalog::builtin()
        .get(code)
        .unwrap_or_else(|| panic!("{code} missing"))
}

#[test]
fn required_indicators_are_present_with_sane_bounds() {
    let required = [
        "4548-4", "2339-0", "39156-5", "8480-6", "8462-4", "8867-4", "29463-7", "8302-2", "8310-5",
        "2708-6", "9279-1", "6690-2", "789-8", "718-7", "4544-3", "787-2", "785-6", "786-4",
        "777-3",
    ];
    for code in required {
        get(code);
    }
    for ind in Catalog::builtin().iter() {
        assert!(ind.min_fixed < ind.max_fixed, "{}", ind.code);
        assert!(ind.max_abs_fixed() <= 1_000_000_000_000_000, "{}", ind.code);
        assert!(ind.precision <= 9);
    }
    let glucose = get("2339-0");
    assert_eq!((glucose.unit.as_str(), glucose.precision), ("mg/dL", 1));
    assert_eq!(
        glucose.conversion("mmol/L"),
        Some((Ratio::new(2252, 125).unwrap(), Ratio::ZERO))
    );
    assert_eq!(
        get("29463-7").conversion("[lb_av]").unwrap().0,
        Ratio::new(45_359_237, 100_000_000).unwrap()
    );
    assert_eq!(
        get("8310-5").conversion("[degF]"),
        Some((Ratio::new(5, 9).unwrap(), Ratio::new(-160, 9).unwrap()))
    );
    assert_eq!(
        get("8302-2").conversion("[in_i]").unwrap().0,
        Ratio::new(254, 100).unwrap()
    );
}

#[test]
fn encode_and_format_examples() {
    let hr = get("8867-4");
    assert_eq!(hr.encode("72", "/min"), Ok(720));
    assert_eq!(hr.format(720), "72.0");
    assert_eq!(hr.to_f64(725), 72.5);
    assert_eq!(
        hr.encode("4000", "/min"),
        Err(ValueError::OutOfRange {
            indicator: "8867-4".into()
        })
    );
    assert_eq!(
        hr.encode("7 2", "/min"),
        Err(ValueError::NotADecimal {
            indicator: "8867-4".into()
        })
    );
    assert_eq!(
        hr.encode("72", "kg"),
        Err(ValueError::UnknownUnit {
            indicator: "8867-4".into(),
            unit: "kg".into()
        })
    );
    assert_eq!(hr.max_abs_fixed(), 3500);
    // Glucose in mmol/L: 10 mmol/L = 180.16 mg/dL -> 180.2.
    assert_eq!(get("2339-0").encode("10", "mmol/L"), Ok(1802));
    assert_eq!(
        get("2339-0").format_in_unit(1802, "mmol/L").unwrap(),
        "10.0022202"
    ); // 180.2 / 18.016 = 10.00222024...
    // Temperature 100.4 [degF] = 38 Cel; rounding below 1/100 is half away from zero.
    assert_eq!(get("8310-5").encode("100.4", "[degF]"), Ok(3800));
    assert_eq!(get("8310-5").encode("37.005", "Cel"), Ok(3701));
    assert_eq!(
        get("8310-5").format_in_unit(3700, "[degF]").unwrap(),
        "98.6"
    );
    // Anion gap may be negative.
    assert_eq!(get("33037-3").encode("-0.05", "mmol/L"), Ok(-1));
    assert_eq!(get("33037-3").format(-1), "-0.1");
}

#[test]
fn extensions_add_indicators_and_refuse_redefinitions() {
    let ext = r#"
        [[indicator]]
        code = "1554-5"
        display = "Glucose [Mass/volume] in Serum or Plasma --12 hours fasting"
        unit = "mg/dL"
        precision = 1
        min = "5"
        max = "2000"
        units = [{ unit = "mmol/L", factor = "18.016" }]
    "#;
    let catalog = Catalog::builtin().with_extension(ext).unwrap();
    assert_eq!(catalog.len(), Catalog::builtin().len() + 1);
    assert_eq!(
        catalog.get("1554-5").unwrap().encode("5.5", "mmol/L"),
        Ok(991)
    );
    assert!(Catalog::builtin().get("1554-5").is_none());
    assert!(
        matches!(catalog.with_extension(ext), Err(CatalogError::Duplicate(c)) if c == "1554-5")
    );
    let bad = |edit: &str| {
        Catalog::builtin().with_extension(&ext.replace("1554-5", "x-1").replace(
            edit.split('|').next().unwrap(),
            edit.split('|').nth(1).unwrap(),
        ))
    };
    assert!(matches!(
        bad("precision = 1|precision = 12"),
        Err(CatalogError::Invalid { .. })
    ));
    assert!(matches!(
        bad(r#"min = "5"|min = "5000""#),
        Err(CatalogError::Invalid { .. })
    ));
    assert!(matches!(
        bad(r#"factor = "18.016"|factor = "0""#),
        Err(CatalogError::Invalid { .. })
    ));
    assert!(matches!(
        bad(r#"max = "2000"|max = "1e20""#),
        Err(CatalogError::Invalid { .. })
    ));
    assert!(matches!(
        bad("display|colour"),
        Err(CatalogError::Syntax(_))
    ));
    assert!(matches!(
        Catalog::from_toml("not toml ["),
        Err(CatalogError::Syntax(_))
    ));
}

fn any_indicator() -> impl Strategy<Value = &'static Indicator> {
    let all: Vec<&'static Indicator> = Catalog::builtin().iter().collect();
    (0..all.len()).prop_map(move |i| all[i])
}

fn indicator_and_fixed() -> impl Strategy<Value = (&'static Indicator, i64)> {
    any_indicator().prop_flat_map(|ind| (Just(ind), ind.min_fixed..=ind.max_fixed))
}

fn indicator_unit_fixed() -> impl Strategy<Value = (&'static Indicator, String, i64)> {
    indicator_and_fixed().prop_flat_map(|(ind, fixed)| {
        let units: Vec<String> = std::iter::once(ind.unit.clone())
            .chain(ind.conversions.iter().map(|c| c.unit.clone()))
            .collect();
        (Just(ind), proptest::sample::select(units), Just(fixed))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fixed_point_round_trip((ind, fixed) in indicator_and_fixed()) {
        let text = ind.format(fixed);
        prop_assert_eq!(ind.encode(&text, &ind.unit), Ok(fixed));
        // The text has exactly `precision` decimals.
        let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
        prop_assert_eq!(decimals as u32, ind.precision);
    }

    #[test]
    fn unit_conversion_round_trip_from_fixed((ind, unit, fixed) in indicator_unit_fixed()) {
        let text = ind.format_in_unit(fixed, &unit).unwrap();
        prop_assert_eq!(ind.encode(&text, &unit), Ok(fixed), "{} in {}", text, unit);
    }

    #[test]
    fn unit_conversion_round_trip_within_precision(
        (ind, unit, fixed) in indicator_unit_fixed(),
        jitter in 0i64..1000,
    ) {
        // A value in `unit` with more digits than the precision keeps: start from a canonical
        // fixed value, write it in `unit` and perturb the last digits.
        let base = ind.format_in_unit(fixed, &unit).unwrap();
        let value = Ratio::parse(&base).unwrap()
            .checked_add(Ratio::new(i128::from(jitter) - 500, 10i128.pow(ind.precision + 7)).unwrap()).unwrap();
        let (factor, _) = ind.conversion(&unit).unwrap();
        let Ok(encoded) = ind.encode_ratio(value, &unit) else { return Ok(()) }; // jitter left the range
        let back = Ratio::parse(&ind.format_in_unit(encoded, &unit).unwrap()).unwrap();
        // |back - value| in canonical units is at most half a quantum plus the 10^-(p+6)
        // rendering step of format_in_unit (scaled by the factor).
        let err = back.checked_sub(value).unwrap().checked_mul(factor).unwrap();
        let err_scaled = err.checked_mul(Ratio::pow10(ind.precision).unwrap()).unwrap();
        let bound = Ratio::new(1, 2).unwrap()
            .checked_add(factor.checked_mul(Ratio::new(1, 1_000_000).unwrap()).unwrap()).unwrap();
        let abs = if err_scaled.numer() < 0 { Ratio::ZERO.checked_sub(err_scaled).unwrap() } else { err_scaled };
        prop_assert!(bound.checked_sub(abs).unwrap().numer() >= 0, "{:?} > {:?} ({} {})", abs, bound, ind.code, unit);
    }
}

/// The digest names everything a value's encoding depends on and nothing else: an extension, a
/// unit, a precision, a bound or a conversion changes it; a display name does not.
#[test]
fn the_catalog_digest_changes_with_every_encoding_rule_and_only_those() {
    let ext = r#"
        [[indicator]]
        code = "http://hospital.example/codes|FEV1PCT"
        display = "FEV1 percent predicted"
        unit = "%"
        precision = 0
        min = "10"
        max = "150"
        units = [{ unit = "1", factor = "100" }]
    "#;
    let builtin = Catalog::builtin();
    let extended = builtin.with_extension(ext).unwrap();
    assert_eq!(builtin.digest(), Catalog::builtin().clone().digest());
    assert_ne!(builtin.digest(), extended.digest());
    let changed = |from: &str, to: &str| {
        let text = ext.replace(from, to);
        assert_ne!(text, ext, "{from}");
        builtin.with_extension(&text).unwrap().digest()
    };
    assert_eq!(
        changed("FEV1 percent predicted", "another name"),
        extended.digest()
    );
    for (from, to) in [
        ("unit = \"%\"", "unit = \"%{predicted}\""),
        ("precision = 0", "precision = 1"),
        ("min = \"10\"", "min = \"11\""),
        ("max = \"150\"", "max = \"151\""),
        ("factor = \"100\"", "factor = \"1000\""),
        ("units = [{ unit = \"1\", factor = \"100\" }]", "units = []"),
        ("FEV1PCT", "FEV1PC"),
    ] {
        assert_ne!(changed(from, to), extended.digest(), "{from} -> {to}");
    }
}

/// One catalog per process: the active one is the built-in one until a node installs its
/// extended catalog; installing it again is harmless, another one is refused.
#[test]
fn a_process_activates_one_catalog() {
    assert_eq!(Catalog::active(), Catalog::builtin());
    let ext = r#"
        [[indicator]]
        code = "local|1"
        display = "a local code"
        unit = "1"
        precision = 0
        min = "0"
        max = "10"
    "#;
    let extended = Catalog::builtin().with_extension(ext).unwrap();
    assert!(Catalog::activate(extended.clone()).is_ok());
    assert!(Catalog::active().get("local|1").is_some());
    assert!(Catalog::activate(extended).is_ok());
    assert_eq!(
        Catalog::activate(Catalog::builtin().clone()),
        Err(CatalogError::AlreadyActive)
    );
}
