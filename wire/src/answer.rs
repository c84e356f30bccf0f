//! Answers authenticated end to end: what a party signs, and the checks a researcher's client runs
//! on the three answers a coordinator relays before it opens any of them.
//!
//! Each party signs its [`PartyAnswer`] with its node key (the key its peers and the cluster file
//! pin) over [`signed_message`]: a domain, the session, the digest of the researcher's signed
//! query ([`query_digest`]), and every field of the answer — party, rows, row digest, ledger
//! index, bytes sent, and the sealed aggregates (statistic and parameters, row count, session,
//! ephemeral key, ciphertext). The same query digest is in the seal's associated data, with the
//! statistic and its parameters ([`hdg_mpc::stats::Aggregates::seal`]).
//!
//! The client ([`check_answers`]) refuses, naming the check that failed:
//! - an answer in the wrong position or claiming another party (answers swapped);
//! - an answer from another session (replayed from an earlier query);
//! - an answer for another statistic or other parameters than the one signed (relabelled);
//! - an answer whose signature does not verify under that party's pinned key (forged or altered);
//! - answers over different row sets.
//!
//! Only then are the sealed aggregates opened, bound to the same query digest: a party that
//! relabels its own answer (and signs it) is caught there.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hdg_mpc::stats::order::quantile_rank;
use hdg_mpc::stats::private::Release;
use hdg_mpc::stats::{SealedAggregates, Statistic as Sealed};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::query::{PartyAnswer, Statistic};

/// Domain of the answer signatures.
pub const ANSWER_DOMAIN: &[u8] = b"hdg party answer v1\n";
/// Domain of the query digest.
const QUERY_DOMAIN: &[u8] = b"hdg query v1\n";

/// Why the client refused the relayed answers (each names the check; never a value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// The coordinator did not relay exactly three answers.
    #[error("answer refused: {0} answers relayed, three expected")]
    Count(usize),
    /// The answer in position i claims another party (answers swapped).
    #[error("answer refused (swapped): position {position} holds the answer of party {claims}")]
    Swapped {
        /// Its position.
        position: usize,
        /// The party it claims.
        claims: u8,
    },
    /// The answer belongs to another query's session.
    #[error("answer refused (replayed): node{party}'s answer belongs to another query")]
    Replayed {
        /// The party.
        party: usize,
    },
    /// The answer is for another statistic or other parameters than the query asked.
    #[error(
        "answer refused (relabelled): node{party}'s answer is a {got}, not the {asked} the query asked for"
    )]
    Relabelled {
        /// The party.
        party: usize,
        /// What the query asked.
        asked: String,
        /// What the answer says it is.
        got: String,
    },
    /// The signature does not verify under the party's pinned node key.
    #[error(
        "answer refused (forged or altered): node{party}'s answer is not signed by its pinned node key"
    )]
    Forged {
        /// The party.
        party: usize,
    },
    /// The parties report different row sets or row counts.
    #[error("answer refused: the parties report different row sets")]
    RowSets,
}

/// SHA-256 over a domain and the researcher's signed query body: what every answer and every
/// sealed output is bound to.
pub fn query_digest(body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(QUERY_DOMAIN);
    h.update(body.as_bytes());
    h.finalize().into()
}

/// The bytes a party signs (see the module doc).
pub fn signed_message(query: &[u8; 32], a: &PartyAnswer) -> Vec<u8> {
    let mut m = Vec::with_capacity(256 + a.sealed.output.ciphertext.len());
    m.extend_from_slice(ANSWER_DOMAIN);
    m.extend_from_slice(&a.session);
    m.extend_from_slice(query);
    m.push(a.party);
    m.extend_from_slice(&a.rows.to_be_bytes());
    m.extend_from_slice(&a.digest);
    match a.ledger_index {
        Some(i) => {
            m.push(1);
            m.extend_from_slice(&i.to_be_bytes());
        }
        None => m.push(0),
    }
    m.extend_from_slice(&a.bytes_sent.to_be_bytes());
    sealed_bytes(&mut m, &a.sealed);
    m
}

fn sealed_bytes(m: &mut Vec<u8>, s: &SealedAggregates) {
    let label = s.statistic.canonical_bytes();
    m.extend_from_slice(&(label.len() as u64).to_be_bytes());
    m.extend_from_slice(&label);
    m.extend_from_slice(&s.n.to_be_bytes());
    m.extend_from_slice(&s.output.session.0);
    m.push(s.output.party.index() as u8);
    m.extend_from_slice(&s.output.n.to_be_bytes());
    m.extend_from_slice(&s.output.ephemeral_public);
    m.extend_from_slice(&(s.output.ciphertext.len() as u64).to_be_bytes());
    m.extend_from_slice(&s.output.ciphertext);
}

/// Signs `answer` (all its other fields set) with the party's node `key`.
pub fn sign_answer(key: &SigningKey, query: &[u8; 32], answer: &mut PartyAnswer) {
    let signature = key.sign(&signed_message(query, answer));
    answer.signature = hex::encode(signature.to_bytes());
}

/// Whether `sealed` is an answer to `asked` (the filtered mean may be withheld, with a minimum
/// cohort of at least the one asked; the median is the lower median of its row count).
pub fn answers(asked: &Statistic, sealed: &Sealed, n: u64) -> bool {
    match (asked, sealed) {
        (Statistic::Count, Sealed::Count)
        | (Statistic::Sum, Sealed::Sum)
        | (Statistic::Mean, Sealed::Mean)
        | (Statistic::Variance, Sealed::Variance)
        | (Statistic::Pearson { .. }, Sealed::Pearson)
        | (Statistic::Covariance { .. }, Sealed::Covariance) => true,
        (Statistic::Histogram { edges }, Sealed::Histogram { edges: got }) => edges == got,
        (Statistic::FilteredMean { threshold, .. }, Sealed::FilteredMean { threshold: got }) => {
            threshold == got
        }
        (Statistic::FilteredMean { min_cohort, .. }, Sealed::Withheld { min_cohort: got }) => {
            got >= min_cohort
        }
        (Statistic::Median, Sealed::OrderStatistic { rank }) => {
            quantile_rank(0.5, n).is_ok_and(|r| r == *rank)
        }
        (Statistic::Quantile { permille }, Sealed::OrderStatistic { rank }) => {
            quantile_rank(f64::from(*permille) / 1000.0, n).is_ok_and(|r| r == *rank)
        }
        (Statistic::Min, Sealed::OrderStatistic { rank }) => *rank == 1,
        (Statistic::Max, Sealed::OrderStatistic { rank }) => *rank == n.max(1),
        (
            Statistic::Regression {
                predictors,
                cohort: None,
            },
            Sealed::LinearRegression { covariates },
        ) => *covariates == predictors.len(),
        (asked, Sealed::Private { release, .. }) => private_answers(asked, release),
        _ => false,
    }
}

/// Whether a private `release` answers `asked` (the same kind, with the same edges or threshold).
fn private_answers(asked: &Statistic, release: &Release) -> bool {
    match (asked, release) {
        (Statistic::Count, Release::Count)
        | (Statistic::Sum, Release::Sum { .. })
        | (Statistic::Mean, Release::Mean { .. })
        | (Statistic::Variance, Release::Variance { .. })
        | (Statistic::Pearson { .. }, Release::Pearson { .. })
        | (Statistic::Covariance { .. }, Release::Covariance { .. }) => true,
        (Statistic::Histogram { edges }, Release::Histogram { edges: got }) => edges == got,
        (
            Statistic::FilteredMean { threshold, .. },
            Release::FilteredMean { threshold: got, .. },
        ) => threshold == got,
        (Statistic::Median, Release::Quantile { permille, .. }) => *permille == 500,
        (Statistic::Quantile { permille: asked }, Release::Quantile { permille, .. }) => {
            asked == permille
        }
        (Statistic::TwoGroups { threshold, .. }, Release::TwoGroups { threshold: got, .. }) => {
            threshold == got
        }
        (Statistic::Min, Release::Extreme { max, .. }) => !max,
        (Statistic::Max, Release::Extreme { max, .. }) => *max,
        (Statistic::CohortMean { cohort }, Release::CohortMean { threshold, .. }) => {
            cohort.threshold == *threshold
        }
        (
            Statistic::Regression { predictors, cohort },
            Release::Regression {
                clips,
                cohort: threshold,
            },
        ) => {
            clips.len() == predictors.len() + 1
                && cohort.as_ref().map(|c| c.threshold) == *threshold
        }
        _ => false,
    }
}

/// The checks of the module doc, in that order, against the three parties' pinned `pins`, the
/// `session` and `query` digest of the request the client signed, and the statistic it `asked`.
pub fn check_answers(
    answers_: &[PartyAnswer],
    pins: &[[u8; 32]; 3],
    session: &[u8; 32],
    query: &[u8; 32],
    asked: &Statistic,
) -> Result<(), AnswerError> {
    if answers_.len() != 3 {
        return Err(AnswerError::Count(answers_.len()));
    }
    for (position, a) in answers_.iter().enumerate() {
        if usize::from(a.party) != position || a.sealed.output.party.index() != position {
            return Err(AnswerError::Swapped {
                position,
                claims: a.party,
            });
        }
    }
    for (party, a) in answers_.iter().enumerate() {
        if a.session != *session || a.sealed.output.session.0 != *session {
            return Err(AnswerError::Replayed { party });
        }
    }
    for (party, a) in answers_.iter().enumerate() {
        if !answers(asked, &a.sealed.statistic, a.sealed.n) {
            return Err(AnswerError::Relabelled {
                party,
                asked: statistic_name(asked),
                got: sealed_name(&a.sealed.statistic),
            });
        }
    }
    for (party, a) in answers_.iter().enumerate() {
        if !signed_by(&pins[party], query, a) {
            return Err(AnswerError::Forged { party });
        }
    }
    let first = &answers_[0];
    if answers_
        .iter()
        .any(|a| a.digest != first.digest || a.rows != first.rows)
    {
        return Err(AnswerError::RowSets);
    }
    Ok(())
}

fn signed_by(pin: &[u8; 32], query: &[u8; 32], a: &PartyAnswer) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(pin) else {
        return false;
    };
    let mut sig = [0u8; 64];
    if a.signature.len() != 128
        || a.signature.bytes().any(|b| b.is_ascii_uppercase())
        || hex::decode_to_slice(&a.signature, &mut sig).is_err()
    {
        return false;
    }
    key.verify_strict(&signed_message(query, a), &Signature::from_bytes(&sig))
        .is_ok()
}

fn statistic_name(s: &Statistic) -> String {
    match s {
        Statistic::Count => "count".into(),
        Statistic::Sum => "sum".into(),
        Statistic::Mean => "mean".into(),
        Statistic::Variance => "variance".into(),
        Statistic::Pearson { .. } => "pearson correlation".into(),
        Statistic::Covariance { .. } => "covariance".into(),
        Statistic::TwoGroups { .. } => "two-group comparison".into(),
        Statistic::Quantile { permille } => format!("quantile of {permille} thousandths"),
        Statistic::Histogram { edges } => format!("histogram with {} edges", edges.len()),
        Statistic::FilteredMean { .. } => "filtered mean".into(),
        Statistic::CohortMean { .. } => "mean in a cohort".into(),
        Statistic::Median => "median".into(),
        Statistic::Min => "minimum".into(),
        Statistic::Max => "maximum".into(),
        Statistic::Regression { predictors, cohort } => format!(
            "regression on {} predictors{}",
            predictors.len(),
            if cohort.is_some() { " in a cohort" } else { "" }
        ),
    }
}

fn sealed_name(s: &Sealed) -> String {
    match s {
        Sealed::Histogram { edges } => format!("histogram with {} edges", edges.len()),
        Sealed::FilteredMean { .. } => "filtered mean".into(),
        Sealed::Withheld { .. } => "withheld filtered mean".into(),
        Sealed::OrderStatistic { rank } => format!("order statistic of rank {rank}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_mpc::protocols::seal::SealedOutput;
    use hdg_mpc::{PartyId, SessionId};

    const SESSION: [u8; 32] = [5; 32];

    fn keys() -> [SigningKey; 3] {
        [1u8, 2, 3].map(|b| SigningKey::from_bytes(&[b; 32]))
    }

    fn pins() -> [[u8; 32]; 3] {
        keys().map(|k| k.verifying_key().to_bytes())
    }

    fn answer(party: u8, statistic: Sealed, query: &[u8; 32]) -> PartyAnswer {
        let mut a = PartyAnswer {
            party,
            session: SESSION,
            sealed: SealedAggregates {
                statistic,
                n: 40,
                output: SealedOutput {
                    session: SessionId(SESSION),
                    party: PartyId::ALL[usize::from(party)],
                    n: 1,
                    ephemeral_public: [party; 32],
                    ciphertext: vec![party; 32],
                },
            },
            rows: 40,
            digest: [9; 32],
            ledger_index: Some(17),
            bytes_sent: 1234,
            signature: String::new(),
        };
        sign_answer(&keys()[usize::from(party)], query, &mut a);
        a
    }

    fn honest(query: &[u8; 32]) -> Vec<PartyAnswer> {
        (0..3).map(|p| answer(p, Sealed::Mean, query)).collect()
    }

    fn check(a: &[PartyAnswer], query: &[u8; 32]) -> Result<(), AnswerError> {
        check_answers(a, &pins(), &SESSION, query, &Statistic::Mean)
    }

    #[test]
    fn honest_answers_pass() {
        let q = query_digest(r#"{"statistic":{"kind":"mean"}}"#);
        check(&honest(&q), &q).unwrap();
    }

    #[test]
    fn every_field_of_an_answer_is_signed() {
        let q = query_digest("q");
        type Change = fn(&mut PartyAnswer);
        let changes: [Change; 9] = [
            |a| a.rows += 1,
            |a| a.digest[0] ^= 1,
            |a| a.ledger_index = None,
            |a| a.bytes_sent += 1,
            |a| a.sealed.n += 1,
            |a| a.sealed.output.n += 1,
            |a| a.sealed.output.ephemeral_public[0] ^= 1,
            |a| a.sealed.output.ciphertext[3] ^= 1,
            |a| a.sealed.output.ciphertext.push(0),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut a = honest(&q);
            change(&mut a[1]);
            let result = check(&a, &q);
            assert!(
                matches!(
                    result,
                    Err(AnswerError::Forged { party: 1 }) | Err(AnswerError::RowSets)
                ),
                "change {i}: {result:?}"
            );
            assert!(!signed_by(&pins()[1], &q, &a[1]), "change {i}");
        }
    }

    #[test]
    fn a_forged_swapped_replayed_or_relabelled_answer_names_its_check() {
        let q = query_digest("q");
        // Forged: signed by another key (say the coordinator's own) instead of node2's.
        let mut a = honest(&q);
        sign_answer(&keys()[0], &q, &mut a[2]);
        assert_eq!(check(&a, &q), Err(AnswerError::Forged { party: 2 }));
        let mut a = honest(&q);
        a[0].signature = "AB".repeat(64);
        assert_eq!(check(&a, &q), Err(AnswerError::Forged { party: 0 }));
        // Answers signed for another query (same session claimed) do not verify either.
        let other = honest(&query_digest("another query"));
        assert_eq!(check(&other, &q), Err(AnswerError::Forged { party: 0 }));
        // Swapped.
        let mut a = honest(&q);
        a.swap(0, 1);
        assert_eq!(
            check(&a, &q),
            Err(AnswerError::Swapped {
                position: 0,
                claims: 1
            })
        );
        // Replayed from another session.
        let mut a = honest(&q);
        a[1].session = [6; 32];
        assert_eq!(check(&a, &q), Err(AnswerError::Replayed { party: 1 }));
        // Relabelled.
        let mut a = honest(&q);
        a[2] = answer(2, Sealed::Sum, &q);
        let e = check(&a, &q).unwrap_err();
        assert!(matches!(e, AnswerError::Relabelled { party: 2, .. }), "{e}");
        assert!(e.to_string().contains("relabelled"), "{e}");
        // Two answers only.
        assert_eq!(check(&honest(&q)[..2], &q), Err(AnswerError::Count(2)));
    }

    #[test]
    fn the_statistic_rule_accepts_exactly_the_answers_to_what_was_asked() {
        let filtered = Statistic::FilteredMean {
            threshold: 1260,
            min_cohort: 10,
        };
        assert!(answers(
            &filtered,
            &Sealed::FilteredMean { threshold: 1260 },
            50
        ));
        assert!(!answers(
            &filtered,
            &Sealed::FilteredMean { threshold: 1 },
            50
        ));
        assert!(answers(&filtered, &Sealed::Withheld { min_cohort: 12 }, 50));
        assert!(!answers(&filtered, &Sealed::Withheld { min_cohort: 9 }, 50));
        assert!(answers(
            &Statistic::Median,
            &Sealed::OrderStatistic { rank: 25 },
            50
        ));
        assert!(!answers(
            &Statistic::Median,
            &Sealed::OrderStatistic { rank: 50 },
            50
        ));
        let hist = Statistic::Histogram { edges: vec![1, 2] };
        assert!(answers(&hist, &Sealed::Histogram { edges: vec![1, 2] }, 5));
        assert!(!answers(&hist, &Sealed::Histogram { edges: vec![1, 3] }, 5));
        assert!(!answers(&Statistic::Count, &Sealed::Sum, 5));
        let rank = |rank| Sealed::OrderStatistic { rank };
        assert!(answers(&Statistic::Min, &rank(1), 50));
        assert!(!answers(&Statistic::Min, &rank(2), 50));
        assert!(answers(&Statistic::Max, &rank(50), 50));
        assert!(!answers(&Statistic::Max, &rank(49), 50));
        let extreme = |max| Release::Extreme {
            max,
            clip: hdg_mpc::stats::private::Clip::new(0, 10).unwrap(),
            buckets: 4,
        };
        assert!(private_answers(&Statistic::Max, &extreme(true)));
        assert!(!private_answers(&Statistic::Max, &extreme(false)));
        assert!(private_answers(&Statistic::Min, &extreme(false)));
    }
}
