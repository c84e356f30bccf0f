//! The built-in catalog covers the numeric observations hospitals send: every numeric observation
//! of the shared Synthea bundles and of the synthetic generator is accepted, except the units
//! listed below as dimensionally wrong, which must be refused with the unknown-unit error. And the
//! catalog itself is large and sane (bounds, conversion factors, LOINC check digits).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdg_schema::{
    Catalog, Format, ImportReport, Indicator, Mode, Ratio, UCUM_SYSTEM, ValueError, synth,
};
use serde_json::Value as Json;

/// Numeric observations that the catalog refuses on purpose because the unit has the wrong
/// dimension for the code: (indicator code, unit as sent, why). Anything else must be accepted.
const DIMENSIONALLY_WRONG: &[(&str, &str, &str)] = &[(
    "33914-3",
    "mL/min",
    "eGFR per 1.73 m2 of body surface is a volume rate per area (mL/min/{1.73_m2}); Synthea's \
     kidney modules also send it as a bare volume rate, which is a different quantity",
)];

/// The shared data folder beside the repository (read when the test runs, as in synthea.rs).
fn shared_data() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo, which sets CARGO_MANIFEST_DIR"),
    )
    .join("../../shared/data")
}

/// Every `.json` and `.ndjson` file under `dir`, sorted.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("json" | "ndjson")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// One numeric observation as the raw JSON has it: the codes of all its codings and its unit.
struct NumericPart {
    codes: Vec<String>,
    unit: String,
}

/// Every coding's code of a `code` (whichever the importer picks, it is one of these).
fn codes_of(code: &Json) -> Vec<String> {
    code["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect()
}

/// The unit the importer reads: the UCUM `code`, else the display `unit`.
fn unit_of(q: &Json) -> String {
    let ucum = q["code"]
        .as_str()
        .filter(|_| q["system"].as_str().is_none_or(|s| s == UCUM_SYSTEM));
    ucum.or(q["unit"].as_str()).expect("a unit").to_string()
}

/// Every numeric (`valueQuantity`) observation in a parsed resource or Bundle, components
/// included, walked independently of the importer.
fn numeric_parts(doc: &Json, out: &mut Vec<NumericPart>) {
    match doc["resourceType"].as_str() {
        Some("Bundle") => {
            for entry in doc["entry"].as_array().into_iter().flatten() {
                numeric_parts(&entry["resource"], out);
            }
        }
        Some("Observation") => {
            let has_value = doc
                .as_object()
                .is_some_and(|m| m.keys().any(|k| k.starts_with("value")));
            let components = doc["component"].as_array().cloned().unwrap_or_default();
            let mut parts: Vec<&Json> = Vec::new();
            if has_value || components.is_empty() {
                parts.push(doc);
            }
            parts.extend(components.iter());
            for part in parts {
                if let Some(q) = part.get("valueQuantity") {
                    out.push(NumericPart {
                        codes: codes_of(&part["code"]),
                        unit: unit_of(q),
                    });
                }
            }
        }
        _ => {}
    }
}

/// The refusal a listed dimensionally wrong (code, unit) gets, if `part` is one.
fn wrong_dimension_reason(part: &NumericPart) -> Option<String> {
    DIMENSIONALLY_WRONG
        .iter()
        .find(|(c, u, _)| part.codes.iter().any(|code| code == c) && *u == part.unit)
        .map(|(c, u, _)| {
            ValueError::UnknownUnit {
                indicator: c.to_string(),
                unit: u.to_string(),
            }
            .to_string()
        })
}

/// Expected vs actual for one input: every numeric observation accepted, except the listed
/// wrong units, each refused with the unknown-unit error; any other refusal (an unknown
/// indicator, an unknown unit, a value out of range) is a problem, named by the importer's
/// own reason. Returns the accepted numeric count and adds problems to `problems`.
fn check(
    name: &str,
    parts: &[NumericPart],
    report: &ImportReport,
    problems: &mut Vec<String>,
) -> u64 {
    let mut want_rejected: BTreeMap<String, u64> = BTreeMap::new();
    for reason in parts.iter().filter_map(wrong_dimension_reason) {
        *want_rejected.entry(reason).or_insert(0) += 1;
    }
    let mut got_rejected: BTreeMap<String, u64> = BTreeMap::new();
    for r in &report.rejected {
        *got_rejected.entry(r.reason.clone()).or_insert(0) += 1;
        if !want_rejected.contains_key(&r.reason) {
            problems.push(format!("{name}: {} {}: {}", r.entry, r.field, r.reason));
        }
    }
    if got_rejected != want_rejected {
        problems.push(format!(
            "{name}: rejected {got_rejected:?}, expected exactly {want_rejected:?}"
        ));
    }
    let want_accepted = parts.len() as u64 - want_rejected.values().sum::<u64>();
    if report.numeric_total() != want_accepted {
        problems.push(format!(
            "{name}: {} numeric observations accepted of {want_accepted}",
            report.numeric_total()
        ));
    }
    report.numeric_total()
}

#[test]
fn every_numeric_observation_of_the_shared_synthea_data_is_accepted() {
    let dir = shared_data();
    if !dir.is_dir() {
        println!(
            "SKIPPED: no shared data folder at {} (it lies beside the repository, as \
             /work/shared/data); nothing to check",
            dir.display()
        );
        return;
    }
    let files = data_files(&dir);
    assert!(
        !files.is_empty(),
        "no .json/.ndjson file under {}",
        dir.display()
    );
    let mut problems = Vec::new();
    let (mut accepted, mut refused) = (0u64, 0usize);
    for path in &files {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ndjson = path.extension().is_some_and(|e| e == "ndjson");
        let mut parts = Vec::new();
        if ndjson {
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                numeric_parts(&serde_json::from_slice(line).unwrap(), &mut parts);
            }
        } else {
            numeric_parts(&serde_json::from_slice(&bytes).unwrap(), &mut parts);
        }
        let format = if ndjson {
            Format::Ndjson
        } else {
            Format::FhirJson
        };
        let (report, _) = common::lenient(&bytes, format);
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        accepted += check(&name, &parts, &report, &mut problems);
        refused += report.rejected.len();
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(accepted > 2000, "only {accepted} numeric observations");
    println!(
        "{} files: {accepted} numeric observations accepted, {refused} refused as dimensionally wrong",
        files.len()
    );
}

#[test]
fn every_numeric_observation_of_the_synthetic_generator_is_accepted() {
    let mut problems = Vec::new();
    let mut accepted = 0;
    for (seed, count) in [(42u64, 60u64), (7, 60), (2024, 30)] {
        for index in 0..count {
            let text = synth::patient_bundle(seed, index);
            let mut parts = Vec::new();
            numeric_parts(&serde_json::from_str(&text).unwrap(), &mut parts);
            let (report, _) = common::run(text.as_bytes(), Format::FhirJson, Mode::Strict).unwrap();
            accepted += check(
                &format!("synth seed {seed} patient {index}"),
                &parts,
                &report,
                &mut problems,
            );
            // The generator never writes a dimensionally wrong unit.
            assert!(
                report.is_clean(),
                "seed {seed} patient {index}: {:?}",
                report.rejected
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(accepted > 150 * 40, "only {accepted} numeric observations");
}

#[test]
fn the_dimensionally_wrong_list_is_refused_with_the_unknown_unit_error() {
    for (code, unit, why) in DIMENSIONALLY_WRONG {
        assert!(!why.is_empty());
        let ind = Catalog::builtin()
            .get(code)
            .unwrap_or_else(|| panic!("{code} missing"));
        assert_eq!(
            ind.encode("60", unit),
            Err(ValueError::UnknownUnit {
                indicator: code.to_string(),
                unit: unit.to_string(),
            })
        );
        // The same value in the canonical unit is fine.
        assert!(ind.encode("60", &ind.unit).is_ok(), "{code}");
    }
}

#[test]
fn ucum_annotations_in_the_builtin_catalog() {
    let get = |code: &str| Catalog::builtin().get(code).unwrap();
    // Urine specific gravity: {nominal} canonical; Synthea also sends {SG}; UCUM's 1 too.
    for unit in ["{nominal}", "{SG}", "1"] {
        assert_eq!(get("5811-5").encode("1.015", unit), Ok(10150), "{unit}");
    }
    assert_eq!(get("2965-2").encode("1.015", "{SG}"), Ok(10150));
    assert_eq!(get("6301-6").encode("2.5", "{INR}"), Ok(250));
    assert_eq!(get("6301-6").encode("2.5", "1"), Ok(250));
    assert_eq!(get("72514-3").encode("4", "{score}"), Ok(4));
    assert_eq!(get("59460-6").encode("45", "{score}"), Ok(45));
    // An annotation attached to a unit is that unit.
    assert!(get("48065-7").accepts_unit("ug/mL"));
    assert!(!get("48065-7").accepts_unit("{FEU}"));
    assert!(!get("33914-3").accepts_unit("{1.73_m2}"));
    assert!(!get("20447-9").accepts_unit("{copies}"));
    // Dimensioned units never take an annotation.
    assert!(!get("2339-0").accepts_unit("{score}"));
    assert!(!get("2708-6").accepts_unit("{score}"));
}

#[test]
fn the_previously_rejected_synthea_codes_are_in_the_catalog() {
    // Numeric LOINC codes that Synthea's modules emit (blood gases, CMP extras, coagulation,
    // thyroid, cardiac markers, scores), with the unit Synthea writes.
    let synthea = [
        ("38208-5", "{score}"),
        ("1975-2", "mg/dL"),
        ("2744-1", "[pH]"),
        ("2703-7", "mm[Hg]"),
        ("2019-8", "mm[Hg]"),
        ("1960-4", "mmol/L"),
        ("19123-9", "mg/dL"),
        ("788-0", "%"),
        ("6301-6", "{INR}"),
        ("5902-2", "s"),
        ("3173-2", "s"),
        ("2777-1", "mg/dL"),
        ("3016-3", "m[IU]/L"),
        ("44261-6", "{score}"),
        ("89579-7", "ng/L"),
        ("89579-7", "pg/mL"),
        ("3024-7", "ng/dl"),
        ("2276-4", "ug/L"),
        ("10834-0", "g/L"),
        ("1742-6", "U/L"),
        ("5803-2", "pH"),
        ("5811-5", "{SG}"),
        ("20447-9", "{copies}/mL"),
        ("24467-3", "/uL"),
        ("38265-5", "{T-score}"),
        ("63586-2", "/a"),
    ];
    for (code, unit) in synthea {
        let ind = Catalog::builtin()
            .get(code)
            .unwrap_or_else(|| panic!("{code} missing"));
        assert!(ind.accepts_unit(unit), "{code} refuses {unit}");
    }
}

/// LOINC's mod-10 check digit of the part before the dash.
fn loinc_check_digit(number: &str) -> u32 {
    let from_right: Vec<u32> = number
        .chars()
        .rev()
        .map(|c| c.to_digit(10).unwrap())
        .collect();
    let odd: String = from_right
        .iter()
        .step_by(2)
        .rev()
        .map(|d| d.to_string())
        .collect();
    let even: String = from_right
        .iter()
        .skip(1)
        .step_by(2)
        .rev()
        .map(|d| d.to_string())
        .collect();
    let doubled = (odd.parse::<u64>().unwrap() * 2).to_string();
    let sum: u32 = doubled
        .chars()
        .chain(even.chars())
        .map(|c| c.to_digit(10).unwrap())
        .sum();
    (10 - sum % 10) % 10
}

#[test]
fn the_catalog_is_large_and_every_entry_is_sane() {
    let catalog = Catalog::builtin();
    assert!(catalog.len() >= 300, "only {} indicators", catalog.len());
    assert_eq!(loinc_check_digit("2345"), 7);
    assert_eq!(loinc_check_digit("12345"), 5);
    let sane = |ind: &Indicator| -> Result<(), String> {
        if ind.min_fixed >= ind.max_fixed {
            return Err("min is not below max".into());
        }
        if ind.unit.is_empty() || ind.display.is_empty() {
            return Err("empty unit or display".into());
        }
        for c in &ind.conversions {
            // Denominators are positive, so a positive numerator is a positive factor.
            if c.factor.numer() <= 0 || c.factor.denom() <= 0 {
                return Err(format!("factor of {} is not positive", c.unit));
            }
            if c.unit == ind.unit {
                return Err(format!("{} converts to itself", c.unit));
            }
        }
        let (number, check) = ind
            .code
            .split_once('-')
            .filter(|(n, c)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && c.len() == 1)
            .ok_or("not a LOINC code")?;
        if check.parse::<u32>().ok() != Some(loinc_check_digit(number)) {
            return Err("LOINC check digit is wrong".into());
        }
        Ok(())
    };
    let bad: Vec<String> = catalog
        .iter()
        .filter_map(|ind| sane(ind).err().map(|e| format!("{}: {e}", ind.code)))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Only affine scales carry an offset: temperatures and the NGSP/IFCC HbA1c master equation.
    for ind in catalog.iter() {
        for c in ind.conversions.iter().filter(|c| c.offset != Ratio::ZERO) {
            assert!(
                ind.unit == "Cel" || ind.display.starts_with("Hemoglobin A1c"),
                "{} has an offset for {}",
                ind.code,
                c.unit
            );
        }
    }
}
