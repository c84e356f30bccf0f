//! `ImportReport`: what an import accepted, per indicator, and every entry it rejected and why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One rejected entry: where it is, which field is wrong, and why (never the raw value).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Rejection {
    /// The file name given to `import`.
    pub file: String,
    /// Position: `entry[i] <fullUrl>` in a Bundle, `line N` in NDJSON/CSV, `resource` for a
    /// single Observation.
    pub entry: String,
    /// The offending field, e.g. `valueQuantity`, `component[1].valueQuantity`, `subject`.
    pub field: String,
    /// The rule broken, e.g. `value out of plausible range for 8867-4`.
    pub reason: String,
}

/// Result of validating/importing one or more files. Serialises to
/// `{"accepted_by_indicator": {code: count}, "non_numeric": count, "rejected": [...]}`.
///
/// `accepted_by_indicator` counts numeric (`Value::Quantity`) observations that passed validation;
/// `non_numeric` counts coded, text and absent-value observations that passed. In strict mode a
/// report with any rejection means the whole batch is refused (see [`ImportReport::is_clean`]).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ImportReport {
    /// Numeric observations accepted, by indicator code.
    pub accepted_by_indicator: BTreeMap<String, u64>,
    /// Non-numeric observations accepted (coded, text, or no value).
    pub non_numeric: u64,
    /// Every rejected entry, in input order.
    pub rejected: Vec<Rejection>,
}

impl ImportReport {
    /// Adds another report's counts and rejections to this one (e.g. one report per file).
    pub fn merge(&mut self, other: ImportReport) {
        for (code, n) in other.accepted_by_indicator {
            *self.accepted_by_indicator.entry(code).or_insert(0) += n;
        }
        self.non_numeric += other.non_numeric;
        self.rejected.extend(other.rejected);
    }

    /// True when nothing was rejected: the only case in which a strict import commits.
    pub fn is_clean(&self) -> bool {
        self.rejected.is_empty()
    }

    /// Total numeric observations accepted.
    pub fn numeric_total(&self) -> u64 {
        self.accepted_by_indicator.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(entry: &str) -> Rejection {
        Rejection {
            file: "f".into(),
            entry: entry.into(),
            field: "subject".into(),
            reason: "missing subject".into(),
        }
    }

    #[test]
    fn json_shape_is_the_documented_one() {
        let mut report = ImportReport::default();
        report.accepted_by_indicator.insert("8867-4".into(), 3);
        report.non_numeric = 2;
        report.rejected.push(rejection("entry[4]"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "accepted_by_indicator": {"8867-4": 3},
                "non_numeric": 2,
                "rejected": [{"file": "f", "entry": "entry[4]", "field": "subject", "reason": "missing subject"}]
            })
        );
    }

    #[test]
    fn merge_adds_counts_and_keeps_rejections_in_order() {
        let mut a = ImportReport::default();
        a.accepted_by_indicator.insert("x".into(), 1);
        a.rejected.push(rejection("1"));
        let mut b = ImportReport::default();
        b.accepted_by_indicator.insert("x".into(), 2);
        b.accepted_by_indicator.insert("y".into(), 5);
        b.non_numeric = 4;
        b.rejected.push(rejection("2"));
        a.merge(b);
        assert_eq!(a.accepted_by_indicator.get("x"), Some(&3));
        assert_eq!(a.accepted_by_indicator.get("y"), Some(&5));
        assert_eq!(a.numeric_total(), 8);
        assert_eq!(a.non_numeric, 4);
        assert_eq!(
            a.rejected
                .iter()
                .map(|r| r.entry.as_str())
                .collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert!(!a.is_clean());
    }
}
