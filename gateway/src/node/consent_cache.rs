//! The verified consents, kept between requests. Building a [`ConsentSet`] re-checks the
//! signature of every consent record ever stored; every query, ingest and grant needs the set,
//! so without a cache their cost grows with the number of consents ever posted. The cache holds
//! the set built at the store's consent generation ([`Store::consent_generation`]). The node
//! tells it of each consent it stores ([`ConsentCache::stored`]), which it adds to the set
//! without re-checking the others; a generation it was not told of rebuilds the set.

use std::sync::{Arc, Mutex, PoisonError};

use hdg_storage::{Store, StoreError};

use super::consent::{ConsentRecord, ConsentSet};

/// The last verified consent set and the generation it was built at.
#[derive(Debug, Default)]
pub struct ConsentCache {
    cached: Mutex<Option<(u64, Arc<ConsentSet>)>>,
}

impl ConsentCache {
    /// The verified consents of `store` (the one store this cache serves), rebuilt only when a
    /// consent was stored since the last call. A record that does not verify is an error, as
    /// in [`ConsentSet::from_stored`].
    pub fn get(&self, store: &Store) -> Result<Arc<ConsentSet>, StoreError> {
        let generation = store.consent_generation();
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, set)) = cached.as_ref()
            && *at == generation
        {
            return Ok(set.clone());
        }
        let set = Arc::new(
            ConsentSet::from_stored(&store.consents()?).map_err(|reason| StoreError::Corrupt {
                what: "consents".into(),
                reason,
            })?,
        );
        *cached = Some((generation, set.clone()));
        Ok(set)
    }

    /// Adds `record` (checked by the caller), which `store` has just stored, moving its
    /// generation from `before`: when the cache holds the set of generation `before`, the set
    /// follows the store with one record added. Otherwise the next [`ConsentCache::get`]
    /// rebuilds it. Call with the store held, so nothing else is stored in between.
    pub fn stored(&self, store: &Store, before: u64, record: ConsentRecord) {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, set)) = cached.as_mut()
            && *at == before
        {
            Arc::make_mut(set).add(record);
            *at = store.consent_generation();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::consent::{ConsentBody, Purpose, open_consent};
    use crate::node::signed::{Kind, SignedRequest, sign};
    use ed25519_dalek::SigningKey;
    use hdg_schema::{Pseudonym, Timestamp};
    use hdg_storage::{KeySource, SecretKey};

    const T: i64 = 1_750_000_000_000;

    /// A new store in a temporary folder (kept while the folder lives).
    fn fresh_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            true,
            &KeySource::Key(SecretKey::from_bytes([1; 32])),
        )
        .unwrap();
        (dir, store)
    }

    fn research_grant() -> ConsentBody {
        ConsentBody::Grant {
            purposes: vec![Purpose::Research],
            indicators: vec![],
            from: None,
            to: None,
            institution: None,
            expires: None,
        }
    }

    /// Stores `signed` as a node does (by its consent id) at `at`; whether it wrote anything.
    fn store_signed(store: &mut Store, signed: &SignedRequest, at: i64) -> bool {
        let record = open_consent(signed).unwrap();
        let bytes = serde_json::to_vec(signed).unwrap();
        store
            .record_consent(record.id, &bytes, record.signer, Timestamp(at))
            .unwrap()
            .is_some()
    }

    /// `patient`'s consent `body`, signed at [`T`] and stored.
    fn store_consent(store: &mut Store, patient: &SigningKey, body: &ConsentBody) -> SignedRequest {
        let body = serde_json::to_string(body).unwrap();
        let signed = sign(patient, Kind::Consent, &body, Timestamp(T));
        assert!(store_signed(store, &signed, T));
        signed
    }

    fn covers(cache: &ConsentCache, store: &Store, patient: &SigningKey) -> bool {
        let p = Pseudonym::from_public_key(patient.verifying_key().as_bytes());
        cache
            .get(store)
            .unwrap()
            .covers_any_use(&p, "8867-4", Timestamp(0), T + 1)
    }

    #[test]
    fn a_consent_the_node_stores_is_added_and_the_set_equals_a_rebuilt_one() {
        let (_dir, mut store) = fresh_store();
        let cache = ConsentCache::default();
        cache.get(&store).unwrap();
        let patient = SigningKey::from_bytes(&[9; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        // A grant, a revocation of it, a grant by another patient, and a foreign revocation.
        let told = |store: &mut Store, key: &SigningKey, body: &ConsentBody| {
            let before = store.consent_generation();
            let signed = store_consent(store, key, body);
            cache.stored(store, before, open_consent(&signed).unwrap());
            open_consent(&signed).unwrap().id
        };
        let granted = told(&mut store, &patient, &research_grant());
        let revoke = |id: [u8; 32]| ConsentBody::Revoke {
            consent: hex::encode(id),
        };
        told(&mut store, &patient, &revoke(granted));
        let others = told(&mut store, &other, &research_grant());
        told(&mut store, &patient, &revoke(others));
        let followed = cache.get(&store).unwrap();
        let rebuilt = ConsentSet::from_stored(&store.consents().unwrap()).unwrap();
        let p = |k: &SigningKey| Pseudonym::from_public_key(k.verifying_key().as_bytes());
        for k in [&patient, &other] {
            assert_eq!(
                followed.grants_in_force(&p(k), T + 1),
                rebuilt.grants_in_force(&p(k), T + 1)
            );
        }
        assert_eq!(followed.grants_in_force(&p(&patient), T + 1), 0);
        assert_eq!(followed.grants_in_force(&p(&other), T + 1), 1);
        // Not rebuilt: the same set, followed.
        assert!(Arc::ptr_eq(&followed, &cache.get(&store).unwrap()));
    }

    /// The cache takes what it is told as stored and does not read the store again: told of a
    /// grant the store does not hold, it covers that grant's patient, which a rebuild would not.
    #[test]
    fn a_consent_it_is_told_of_is_added_without_reading_the_store_again() {
        let (_dir, mut store) = fresh_store();
        let cache = ConsentCache::default();
        cache.get(&store).unwrap();
        let (stored_patient, told_patient) = (
            SigningKey::from_bytes(&[9; 32]),
            SigningKey::from_bytes(&[8; 32]),
        );
        let before = store.consent_generation();
        store_consent(&mut store, &stored_patient, &research_grant());
        let told = sign(
            &told_patient,
            Kind::Consent,
            &serde_json::to_string(&research_grant()).unwrap(),
            Timestamp(T),
        );
        cache.stored(&store, before, open_consent(&told).unwrap());
        assert!(covers(&cache, &store, &told_patient));
        assert!(!covers(&cache, &store, &stored_patient));
        // Told at a generation it does not hold, it rebuilds from the store instead.
        let before = store.consent_generation();
        store_consent(&mut store, &told_patient, &research_grant());
        cache.stored(&store, before + 1, open_consent(&told).unwrap());
        assert!(covers(&cache, &store, &stored_patient));
    }

    #[test]
    fn the_set_is_reused_until_a_consent_is_stored_and_then_rebuilt() {
        let (_dir, mut store) = fresh_store();
        let cache = ConsentCache::default();
        let first = cache.get(&store).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(&store).unwrap()));

        let patient = SigningKey::from_bytes(&[9; 32]);
        let signed = store_consent(&mut store, &patient, &research_grant());

        let after = cache.get(&store).unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        let p = Pseudonym::from_public_key(patient.verifying_key().as_bytes());
        assert!(!first.covers_any_use(&p, "8867-4", Timestamp(0), T + 1));
        assert!(after.covers_any_use(&p, "8867-4", Timestamp(0), T + 1));
        // Storing the same record again writes nothing, and the set is reused.
        assert!(!store_signed(&mut store, &signed, T));
        assert!(Arc::ptr_eq(&after, &cache.get(&store).unwrap()));
    }

    /// What a replayed relay of a revoked grant does: a peer's copy is stored without the
    /// client-side freshness check (a delivery may come late), so its safety rests on storing
    /// by the digest of the signed message. The same grant again writes nothing and the
    /// revocation stands; a re-spelled copy does not open at all.
    #[test]
    fn a_replayed_grant_after_its_revocation_stays_revoked() {
        let (_dir, mut store) = fresh_store();
        let patient = SigningKey::from_bytes(&[9; 32]);
        let granted = store_consent(&mut store, &patient, &research_grant());
        let id = open_consent(&granted).unwrap().id;
        store_consent(
            &mut store,
            &patient,
            &ConsentBody::Revoke {
                consent: hex::encode(id),
            },
        );
        let cache = ConsentCache::default();
        assert!(!covers(&cache, &store, &patient));

        assert!(
            !store_signed(&mut store, &granted, T + 5),
            "the replayed grant was written again"
        );
        assert!(!covers(&cache, &store, &patient));
        let mut twin = granted.clone();
        twin.signature = twin.signature.to_uppercase();
        assert!(open_consent(&twin).is_err(), "a re-spelled copy opened");
    }
}
