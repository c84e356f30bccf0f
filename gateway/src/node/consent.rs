//! Patients' consents: what a patient signs, how a node checks it, and the rule that decides
//! whether a consent covers a row of a query.
//!
//! A consent is a signed request ([`super::signed`]) by the patient's ed25519 key whose body is
//! a [`ConsentBody`]: a grant (purposes; indicators, or all; the window of the data's effective
//! time; optionally one research institution, by its key; optionally an expiry) or the
//! revocation of an earlier grant by the same key. It applies to the patient's pseudonym, which
//! is derived from that key ([`Pseudonym::from_public_key`]): a hospital that enrolled the
//! patient stores their records under it, so nobody can consent for someone else's rows.
//!
//! Every party keeps the signed record itself and checks the signature again whenever it builds
//! the [`ConsentSet`] for a query; a record that no longer verifies fails the query (closed, not
//! open). A query at time `t` includes a row when some grant by the row's patient, signed at or
//! before `t`, not revoked, not expired at `t`, covers the query's purpose, indicator and
//! institution and the whole UTC day of the row's effective time (the parties hold days, not
//! instants, so a grant whose window starts or ends inside a day leaves that day out). Each
//! node judges at its own clock, never the query's signed time: the researcher chooses that, and
//! could backdate it within the clock-skew window to use a grant that has lapsed. Parties whose
//! clocks straddle a grant's expiry select different rows and the query fails (409), closed; the
//! home node decides what to share by the same rule.

use std::collections::{BTreeMap, BTreeSet};

use hdg_schema::{Catalog, Pseudonym, Timestamp};
use hdg_storage::StoredConsent;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::signed::{
    Kind, RequestError, SignedRequest, check_signature, decode_fixed, decode_lower, signed_message,
};
use crate::net::identity::parse_key;

pub use hdg_wire::Purpose;
pub use hdg_wire::consent::ConsentBody;

/// Why a consent request is refused. Names the rule, never a health value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsentError {
    /// The signed request does not check out.
    #[error("consent refused: {0}")]
    Request(#[from] RequestError),
    /// The body is not a consent.
    #[error("consent refused: malformed body ({0})")]
    Body(String),
    /// A rule of the grant is broken.
    #[error("consent refused: {0}")]
    Rule(String),
    /// The revoked consent is not held here.
    #[error("consent refused: revocation of unknown consent {0}")]
    UnknownConsent(String),
    /// The revoked consent was granted by another key.
    #[error("consent refused: consent {0} was granted by another patient")]
    NotYours(String),
    /// The signer is not a registered patient.
    #[error("consent refused: the signer is not a registered patient")]
    NotAPatient,
    /// The patient already has as many grants in force as a patient may.
    #[error(
        "consent refused: {max} grants are already in force for this patient; revoke one first"
    )]
    TooManyGrants {
        /// The cap ([`MAX_GRANTS_IN_FORCE`]).
        max: usize,
    },
}

impl ConsentError {
    /// The HTTP status of the refusal: the signed request's own ([`RequestError::status`]),
    /// 403 for a signer who may not consent, 422 over the cap, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            ConsentError::Request(e) => e.status(),
            ConsentError::NotAPatient => 403,
            ConsentError::TooManyGrants { .. } => 422,
            ConsentError::Body(_)
            | ConsentError::Rule(_)
            | ConsentError::UnknownConsent(_)
            | ConsentError::NotYours(_) => 400,
        }
    }
}

/// Most grants one patient may have in force at once (not revoked, not expired): every query
/// and ingest looks through a patient's grants, and a patient's needs are a handful.
pub const MAX_GRANTS_IN_FORCE: usize = 64;

/// A consent record whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// Its id ([`consent_id`]).
    pub id: [u8; 32],
    /// The patient's key.
    pub signer: [u8; 32],
    /// The patient's pseudonym (from the key).
    pub patient: Pseudonym,
    /// When the patient signed it, unix ms.
    pub time: i64,
    /// What it says.
    pub body: ConsentBody,
}

/// The id of a signed consent: SHA-256 over a domain prefix and the message its signature covers
/// (signer, nonce, time and body, decoded): one id per signed request however it is spelled, and
/// the same for every valid signature of it. A request whose fields do not decode has the id of
/// its raw text; it never passes [`open_consent`].
pub fn consent_id(signed: &SignedRequest) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"hdg consent id v2\n");
    match (
        decode_fixed::<32>(&signed.signer, "signer", ""),
        decode_lower(&signed.nonce),
    ) {
        (Ok(signer), Some(nonce)) => h.update(signed_message(
            Kind::Consent,
            &signer,
            &nonce,
            signed.time,
            signed.body.as_bytes(),
        )),
        _ => {
            h.update(b"undecodable\n");
            h.update(serde_json::to_vec(signed).unwrap_or_default());
        }
    }
    h.finalize().into()
}

/// Checks the signature (any key: a consent binds only its own signer's pseudonym) and the
/// body's rules; the time window and replay checks are the endpoint's.
pub fn open_consent(signed: &SignedRequest) -> Result<ConsentRecord, ConsentError> {
    let verified = check_signature(signed, Kind::Consent, |_| true)?;
    let body: ConsentBody =
        serde_json::from_str(&signed.body).map_err(|e| ConsentError::Body(e.to_string()))?;
    check_body(&body, verified.time.0)?;
    let signer = verified.signer.to_bytes();
    Ok(ConsentRecord {
        id: consent_id(signed),
        signer,
        patient: Pseudonym::from_public_key(&signer),
        time: verified.time.0,
        body,
    })
}

fn check_body(body: &ConsentBody, signed_at: i64) -> Result<(), ConsentError> {
    let rule = |s: &str| Err(ConsentError::Rule(s.to_string()));
    match body {
        ConsentBody::Grant {
            purposes,
            indicators,
            from,
            to,
            institution,
            expires,
        } => {
            if purposes.is_empty() {
                return rule("a grant names at least one purpose");
            }
            if let Some(code) = indicators
                .iter()
                .find(|c| Catalog::active().get(c).is_none())
            {
                return Err(ConsentError::Rule(format!(
                    "indicator {code} is not in the catalog"
                )));
            }
            if let (Some(f), Some(t)) = (from, to)
                && f >= t
            {
                return rule("the data window is empty: from must be before to");
            }
            if let Some(i) = institution
                && !(i.len() == 64 && i.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return rule("institution must be a research institution's key in 64 hex digits");
            }
            if expires.is_some_and(|e| e <= signed_at) {
                return rule("the grant expires before it was signed");
            }
            Ok(())
        }
        ConsentBody::AccessPolicy {
            clinicians,
            required,
        } => {
            if let Some(bad) = clinicians.iter().find(|c| !is_key_hex(c)) {
                return Err(ConsentError::Rule(format!(
                    "clinician {bad:?} is not a key in 64 hex digits"
                )));
            }
            if *required < 2 || *required > clinicians.len() + 1 {
                return rule(
                    "an access policy requires from 2 approvals up to the patient and every clinician listed",
                );
            }
            Ok(())
        }
        ConsentBody::Revoke { consent } => {
            if consent.len() == 64 && consent.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(())
            } else {
                rule("revoke names a consent id in 64 hex digits")
            }
        }
    }
}

fn is_key_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A revocation may name only a grant held here and signed by the same key.
pub fn check_revocation(
    record: &ConsentRecord,
    revoked: Option<&ConsentRecord>,
) -> Result<(), ConsentError> {
    let ConsentBody::Revoke { consent } = &record.body else {
        return Ok(());
    };
    match revoked {
        None => Err(ConsentError::UnknownConsent(consent.clone())),
        Some(g) if g.signer != record.signer => Err(ConsentError::NotYours(consent.clone())),
        Some(_) => Ok(()),
    }
}

/// What a query asks of a row's consent.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    /// The query's purpose.
    pub purpose: Purpose,
    /// The researcher's key.
    pub institution: &'a [u8; 32],
    /// When the use is judged (the node's clock), unix ms.
    pub at: i64,
}

/// The grants in force, by patient, built from the consent records a node holds, in any order
/// ([`ConsentSet::add`] one at a time, or [`ConsentSet::from_stored`] all at once).
#[derive(Debug, Default, Clone)]
pub struct ConsentSet {
    grants: BTreeMap<Pseudonym, Vec<ConsentRecord>>,
    /// Every revocation seen: the grant id it names and the patients who signed one for it.
    revocations: BTreeMap<[u8; 32], BTreeSet<Pseudonym>>,
    /// The grants revoked by their own signer.
    revoked: BTreeSet<[u8; 32]>,
    policies: BTreeMap<Pseudonym, ConsentRecord>,
}

impl ConsentSet {
    /// Builds the set from stored records `(id, signed request JSON)`, re-checking each; a
    /// record that does not verify is an error (the caller refuses the query).
    pub fn from_stored(records: &[StoredConsent]) -> Result<ConsentSet, String> {
        let mut set = ConsentSet::default();
        for (id, bytes) in records {
            let bad = |e: &dyn std::fmt::Display| {
                format!("stored consent {} does not verify: {e}", hex::encode(id))
            };
            let signed: SignedRequest = serde_json::from_slice(bytes).map_err(|e| bad(&e))?;
            let record = open_consent(&signed).map_err(|e| bad(&e))?;
            if record.id != *id {
                return Err(bad(&"its id does not match its signature"));
            }
            set.add(record);
        }
        Ok(set)
    }

    /// Adds one record whose signature checked out ([`open_consent`]). Records may come in any
    /// order (a peer's copy of a revocation may arrive before its grant): a revocation takes
    /// effect once the grant it names is in the set, and only when the grant's own signer
    /// signed it.
    pub fn add(&mut self, record: ConsentRecord) {
        match &record.body {
            ConsentBody::Grant { .. } => {
                if self
                    .revocations
                    .get(&record.id)
                    .is_some_and(|by| by.contains(&record.patient))
                {
                    self.revoked.insert(record.id);
                }
                self.grants.entry(record.patient).or_default().push(record);
            }
            ConsentBody::Revoke { consent } => {
                let mut id = [0u8; 32];
                if hex::decode_to_slice(consent, &mut id).is_err() {
                    return;
                }
                self.revocations
                    .entry(id)
                    .or_default()
                    .insert(record.patient);
                let own = self
                    .grants
                    .get(&record.patient)
                    .is_some_and(|gs| gs.iter().any(|g| g.id == id));
                if own {
                    self.revoked.insert(id);
                }
            }
            ConsentBody::AccessPolicy { .. } => {
                let newest = self
                    .policies
                    .entry(record.patient)
                    .or_insert(record.clone());
                if record.time > newest.time {
                    *newest = record;
                }
            }
        }
    }

    /// The raw-access policy `patient` signed last, as (clinicians' keys, approvals required).
    pub fn access_policy(&self, patient: &Pseudonym) -> Option<(Vec<[u8; 32]>, usize)> {
        let ConsentBody::AccessPolicy {
            clinicians,
            required,
        } = &self.policies.get(patient)?.body
        else {
            return None;
        };
        let keys = clinicians.iter().filter_map(|c| parse_key(c)).collect();
        Some((keys, *required))
    }

    /// Whether a grant in force covers `patient`'s row of `indicator` effective on `day` (its
    /// UTC day) for `use_` (see the module doc).
    pub fn covers(
        &self,
        patient: &Pseudonym,
        indicator: &str,
        day: Timestamp,
        use_: Use<'_>,
    ) -> bool {
        let institution = hex::encode(use_.institution);
        self.in_force(patient, indicator, day, use_.at)
            .any(|(purposes, only)| {
                purposes.contains(&use_.purpose)
                    && only.is_none_or(|i| i.eq_ignore_ascii_case(&institution))
            })
    }

    /// Whether some grant in force at `at` covers the row for any purpose or institution: the
    /// rule for secret-sharing a value at all.
    pub fn covers_any_use(
        &self,
        patient: &Pseudonym,
        indicator: &str,
        day: Timestamp,
        at: i64,
    ) -> bool {
        self.in_force(patient, indicator, day, at).next().is_some()
    }

    /// How many of `patient`'s grants are in force at `at` (not revoked, not expired).
    pub fn grants_in_force(&self, patient: &Pseudonym, at: i64) -> usize {
        self.grants.get(patient).map_or(0, |gs| {
            gs.iter()
                .filter(|g| {
                    let ConsentBody::Grant { expires, .. } = &g.body else {
                        return false;
                    };
                    !self.revoked.contains(&g.id) && expires.is_none_or(|e| at < e)
                })
                .count()
        })
    }

    /// The (purposes, institution) of `patient`'s grants in force at `at` that cover a row of
    /// `indicator` effective on `day` (the whole day inside the grant's window).
    fn in_force<'a>(
        &'a self,
        patient: &Pseudonym,
        indicator: &'a str,
        day: Timestamp,
        at: i64,
    ) -> impl Iterator<Item = (&'a [Purpose], Option<&'a str>)> + 'a {
        let first = day.utc_day().0;
        let end = first.saturating_add(Timestamp::DAY_MS);
        self.grants
            .get(patient)
            .into_iter()
            .flatten()
            .filter_map(move |g| {
                let ConsentBody::Grant {
                    purposes,
                    indicators,
                    from,
                    to,
                    institution,
                    expires,
                } = &g.body
                else {
                    return None;
                };
                let covers = g.time <= at
                    && !self.revoked.contains(&g.id)
                    && expires.is_none_or(|e| at < e)
                    && (indicators.is_empty() || indicators.iter().any(|c| c == indicator))
                    && from.is_none_or(|f| f <= first)
                    && to.is_none_or(|t| end <= t);
                covers.then_some((purposes.as_slice(), institution.as_deref()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::signed::sign;
    use ed25519_dalek::SigningKey;
    use hdg_schema::Timestamp;

    const T: i64 = 1_750_000_000_000;
    const HR: &str = "8867-4";
    const BMI: &str = "39156-5";

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    fn grant(indicators: &[&str]) -> ConsentBody {
        ConsentBody::Grant {
            purposes: vec![Purpose::Research],
            indicators: indicators.iter().map(|s| s.to_string()).collect(),
            from: None,
            to: None,
            institution: None,
            expires: None,
        }
    }

    fn signed(k: &SigningKey, body: &ConsentBody, at: i64) -> SignedRequest {
        sign(
            k,
            Kind::Consent,
            &serde_json::to_string(body).unwrap(),
            Timestamp(at),
        )
    }

    fn stored(reqs: &[SignedRequest]) -> Vec<StoredConsent> {
        reqs.iter()
            .map(|r| (consent_id(r), serde_json::to_vec(r).unwrap()))
            .collect()
    }

    fn use_at(at: i64) -> Use<'static> {
        Use {
            purpose: Purpose::Research,
            institution: &[7; 32],
            at,
        }
    }

    /// The start of the `n`th UTC day after the day of `T`.
    fn day(n: i64) -> Timestamp {
        Timestamp(Timestamp(T).utc_day().0 + n * Timestamp::DAY_MS)
    }

    #[test]
    fn a_grant_covers_its_patient_indicators_whole_days_and_purpose_only() {
        let (a, b) = (key(1), key(2));
        // Days 0 to 9 in full; day 10 only until noon, so not in full.
        let window = ConsentBody::Grant {
            purposes: vec![Purpose::Research],
            indicators: vec![HR.into()],
            from: Some(day(0).0),
            to: Some(day(10).0 + Timestamp::DAY_MS / 2),
            institution: Some(hex::encode([7u8; 32])),
            expires: Some(T + 10_000),
        };
        let set = ConsentSet::from_stored(&stored(&[signed(&a, &window, T)])).unwrap();
        let pa = Pseudonym::from_public_key(&a.verifying_key().to_bytes());
        let pb = Pseudonym::from_public_key(&b.verifying_key().to_bytes());
        assert!(set.covers(&pa, HR, day(0), use_at(T + 1)));
        assert!(set.covers(&pa, HR, day(9), use_at(T + 1)));
        assert!(
            !set.covers(&pb, HR, day(5), use_at(T + 1)),
            "another patient"
        );
        assert!(
            !set.covers(&pa, BMI, day(5), use_at(T + 1)),
            "another indicator"
        );
        assert!(
            !set.covers(&pa, HR, day(10), use_at(T + 1)),
            "a day the window covers only in part"
        );
        assert!(
            !set.covers(&pa, HR, day(-1), use_at(T + 1)),
            "data before the window"
        );
        assert!(
            !set.covers(&pa, HR, day(5), use_at(T - 1)),
            "a query before the grant"
        );
        assert!(!set.covers(&pa, HR, day(5), use_at(T + 10_000)), "expired");
        let statistics = Use {
            purpose: Purpose::Statistics,
            ..use_at(T + 1)
        };
        assert!(!set.covers(&pa, HR, day(5), statistics), "another purpose");
        let other = Use {
            institution: &[8; 32],
            ..use_at(T + 1)
        };
        assert!(!set.covers(&pa, HR, day(5), other), "another institution");
        // A window starting after midnight leaves its first day out too.
        let late = ConsentBody::Grant {
            purposes: vec![Purpose::Research],
            indicators: vec![],
            from: Some(day(0).0 + 1),
            to: None,
            institution: None,
            expires: None,
        };
        let set = ConsentSet::from_stored(&stored(&[signed(&a, &late, T)])).unwrap();
        assert!(!set.covers_any_use(&pa, HR, day(0), T + 1));
        assert!(set.covers_any_use(&pa, HR, day(1), T + 1));
    }

    #[test]
    fn a_revocation_by_the_patient_ends_the_grant_and_one_by_another_key_does_not() {
        let (a, b) = (key(1), key(2));
        let g = signed(&a, &grant(&[]), T);
        let pa = Pseudonym::from_public_key(&a.verifying_key().to_bytes());
        let revoke = ConsentBody::Revoke {
            consent: hex::encode(consent_id(&g)),
        };
        let by_other = signed(&b, &revoke, T + 1);
        let set = ConsentSet::from_stored(&stored(&[g.clone(), by_other.clone()])).unwrap();
        assert!(set.covers(&pa, HR, day(0), use_at(T + 5)));
        let grant_record = open_consent(&g).unwrap();
        assert_eq!(
            check_revocation(&open_consent(&by_other).unwrap(), Some(&grant_record)),
            Err(ConsentError::NotYours(hex::encode(consent_id(&g))))
        );
        let own = signed(&a, &revoke, T + 2);
        check_revocation(&open_consent(&own).unwrap(), Some(&grant_record)).unwrap();
        let set = ConsentSet::from_stored(&stored(&[g, by_other, own])).unwrap();
        assert!(!set.covers(&pa, HR, day(0), use_at(T + 5)));
    }

    #[test]
    fn grants_in_force_leave_out_the_revoked_and_the_expired() {
        let a = key(1);
        let pa = Pseudonym::from_public_key(&a.verifying_key().to_bytes());
        let lapsing = ConsentBody::Grant {
            purposes: vec![Purpose::Research],
            indicators: vec![],
            from: None,
            to: None,
            institution: None,
            expires: Some(T + 100),
        };
        let kept = signed(&a, &grant(&[]), T);
        let revoked = signed(&a, &grant(&[HR]), T + 1);
        let revoke = signed(
            &a,
            &ConsentBody::Revoke {
                consent: hex::encode(consent_id(&revoked)),
            },
            T + 2,
        );
        let records = [kept, revoked, revoke, signed(&a, &lapsing, T + 3)];
        let set = ConsentSet::from_stored(&stored(&records)).unwrap();
        assert_eq!(set.grants_in_force(&pa, T + 50), 2);
        assert_eq!(set.grants_in_force(&pa, T + 100), 1);
        assert_eq!(set.grants_in_force(&Pseudonym([0; 32]), T), 0);
        assert_eq!(ConsentError::TooManyGrants { max: 64 }.status(), 422);
        assert_eq!(ConsentError::NotAPatient.status(), 403);
    }

    #[test]
    fn a_grant_re_spelled_in_uppercase_is_refused_so_a_revocation_leaves_no_twin() {
        // Before: the consent id hashed the signature's hex text, and hex decoding ignored case,
        // so a grant re-posted with upper-cased letters got a second id its revocation missed.
        let a = key(1);
        let g = signed(&a, &grant(&[]), T);
        let mut twin = g.clone();
        twin.signature = twin.signature.to_uppercase();
        assert_ne!(twin.signature, g.signature);
        assert!(matches!(
            open_consent(&twin),
            Err(ConsentError::Request(RequestError::Malformed {
                field: "signature",
                ..
            }))
        ));
        // The id is the signed message's, not its spelling's.
        let mut same = g.clone();
        same.signature = "00".repeat(64);
        assert_eq!(consent_id(&same), consent_id(&g));
    }

    #[test]
    fn bad_grants_and_tampered_records_are_refused_naming_the_rule() {
        let a = key(1);
        let unknown = signed(&a, &grant(&["0000-0"]), T);
        assert!(
            matches!(open_consent(&unknown), Err(ConsentError::Rule(r)) if r.contains("0000-0"))
        );
        let mut no_purpose = grant(&[]);
        if let ConsentBody::Grant { purposes, .. } = &mut no_purpose {
            purposes.clear();
        }
        assert!(matches!(
            open_consent(&signed(&a, &no_purpose, T)),
            Err(ConsentError::Rule(_))
        ));
        let mut tampered = signed(&a, &grant(&[HR]), T);
        tampered.body = serde_json::to_string(&grant(&[])).unwrap();
        assert_eq!(
            open_consent(&tampered),
            Err(ConsentError::Request(RequestError::BadSignature))
        );
        let err = ConsentSet::from_stored(&stored(&[tampered])).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let mut wrong_id = stored(&[signed(&a, &grant(&[]), T)]);
        wrong_id[0].0 = [0; 32];
        assert!(ConsentSet::from_stored(&wrong_id).is_err());
    }

    use proptest::prelude::*;

    proptest! {
        /// The set does not depend on the order records arrive in: grants, revocations by
        /// their signer and by others, added one at a time in any order, leave the same grants
        /// in force as the set built from them all at once.
        #[test]
        fn any_arrival_order_gives_the_same_grants_in_force(
            order in proptest::sample::subsequence((0..8usize).collect::<Vec<_>>(), 8)
                .prop_shuffle(),
        ) {
            let (a, b) = (key(1), key(2));
            let ga = signed(&a, &grant(&[HR]), T);
            let ga2 = signed(&a, &grant(&[BMI]), T + 1);
            let gb = signed(&b, &grant(&[HR]), T + 2);
            let revoke = |k: &SigningKey, g: &SignedRequest, at| {
                signed(k, &ConsentBody::Revoke { consent: hex::encode(consent_id(g)) }, at)
            };
            let records = [
                ga.clone(),
                ga2.clone(),
                gb.clone(),
                revoke(&a, &ga, T + 3),
                // b cannot revoke a's grant; a cannot revoke b's.
                revoke(&b, &ga2, T + 4),
                revoke(&a, &gb, T + 5),
                signed(&b, &grant(&[BMI]), T + 6),
                revoke(&b, &gb, T + 7),
            ];
            let all = ConsentSet::from_stored(&stored(&records)).unwrap();
            let mut one_by_one = ConsentSet::default();
            for i in &order {
                one_by_one.add(open_consent(&records[*i]).unwrap());
            }
            // The same records in the order they were made, built at once.
            let mut made = order.clone();
            made.sort_unstable();
            let arrived: Vec<SignedRequest> = made.iter().map(|i| records[*i].clone()).collect();
            let reference = ConsentSet::from_stored(&stored(&arrived)).unwrap();
            for k in [&a, &b] {
                let p = Pseudonym::from_public_key(k.verifying_key().as_bytes());
                prop_assert_eq!(
                    one_by_one.grants_in_force(&p, T + 10),
                    reference.grants_in_force(&p, T + 10)
                );
                if order.len() == records.len() {
                    // Each keeps one grant: its own revocation stands, the other's does not.
                    prop_assert_eq!(one_by_one.grants_in_force(&p, T + 10), 1);
                    prop_assert_eq!(all.grants_in_force(&p, T + 10), 1);
                }
            }
        }
    }
}
