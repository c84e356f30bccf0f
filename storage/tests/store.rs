//! Committing, reading, correcting, scanning, erasing and proving, through the public API.

mod common;

use common::*;
use hdg_ledger::NoteVerifier;
use hdg_schema::{Pseudonym, Timestamp};
use hdg_storage::{Store, StoreError, TimeRange};

#[test]
fn committed_records_read_back_and_survive_reopen() {
    let (dir, mut store) = fresh();
    let batch = cohort(10);
    let r = store.commit(&batch, t(1)).unwrap();
    assert_eq!(r.records.len(), batch.len());
    assert_eq!(r.tree_size, batch.len() as u64);
    assert_eq!(r.height, Some(0));
    let leaf_indexes: Vec<u64> = r.records.iter().map(|a| a.leaf_index).collect();
    assert_eq!(leaf_indexes, (0..batch.len() as u64).collect::<Vec<_>>());
    let vkey = store.vkey();
    drop(store);

    let store = Store::open(dir.path(), false, &keys()).unwrap();
    assert_eq!(store.vkey(), vkey);
    assert_eq!(store.tree_size(), batch.len() as u64);
    for o in &batch {
        assert_eq!(&store.get(&o.id()).unwrap(), o);
    }
    store
        .verify(&NoteVerifier::from_vkey(&vkey).unwrap())
        .unwrap();
}

#[test]
fn re_ingest_is_idempotent() {
    let (_dir, mut store) = fresh();
    let batch = cohort(5);
    store.commit(&batch, t(1)).unwrap();
    let again = store.commit(&batch, t(2)).unwrap();
    assert!(again.records.is_empty());
    assert_eq!(again.duplicates, ids(&batch));
    assert_eq!(again.height, None, "nothing new, no new block");
    let mut doubled = batch.clone();
    doubled.extend(batch.clone());
    let (_d2, mut other) = fresh();
    let r = other.commit(&doubled, t(1)).unwrap();
    assert_eq!(r.records.len(), batch.len());
    assert_eq!(r.duplicates.len(), batch.len());
}

#[test]
fn corrections_keep_both_versions_and_reads_prefer_the_latest() {
    let (_dir, mut store) = fresh();
    let a = obs(1, "4548-4", 70, 10);
    store.commit(std::slice::from_ref(&a), t(1)).unwrap();
    let b = correction(&a, 71);
    let c = correction(&b, 72);
    store.commit(&[b.clone(), c.clone()], t(2)).unwrap();

    assert_eq!(store.get(&a.id()).unwrap(), a, "old versions stay readable");
    assert_eq!(store.latest(&a.id()).unwrap(), c);
    let history: Vec<_> = store
        .history(&b.id())
        .unwrap()
        .iter()
        .map(|o| o.id())
        .collect();
    assert_eq!(history, vec![a.id(), b.id(), c.id()]);
    assert_eq!(
        store
            .scan_indicator("4548-4", TimeRange::default())
            .unwrap(),
        vec![store.handle(&c.id())]
    );

    // A second correction of an already corrected version is refused alone.
    let fork = correction(&a, 99);
    let ok = obs(2, "4548-4", 60, 11);
    let r = store.commit(&[fork.clone(), ok.clone()], t(3)).unwrap();
    assert_eq!(r.records.len(), 1);
    assert!(matches!(
        r.refused[0].1,
        StoreError::AlreadySuperseded { .. }
    ));
    // A correction of an unknown record, or of another patient's record, is refused.
    let mut orphan = correction(&a, 5).into_data();
    orphan.supersedes = Some(hdg_schema::RecordId([9; 32]));
    let orphan = hdg_schema::Observation::new(orphan);
    let mut foreign = correction(&ok, 5).into_data();
    foreign.patient = Pseudonym([3; 32]);
    let foreign = hdg_schema::Observation::new(foreign);
    let r = store.commit(&[orphan, foreign], t(4)).unwrap();
    assert!(matches!(
        r.refused[0].1,
        StoreError::UnknownSuperseded { .. }
    ));
    assert!(matches!(
        r.refused[1].1,
        StoreError::CorrectionPatientMismatch { .. }
    ));
}

#[test]
fn scans_follow_time_ranges_and_patients() {
    let (_dir, mut store) = fresh();
    let batch = cohort(20);
    store.commit(&batch, t(1)).unwrap();
    let range = TimeRange {
        from: Some(Timestamp(5_000_000)),
        to: Some(Timestamp(10_000_000)),
    };
    let mut expected: Vec<_> = batch
        .iter()
        .filter(|o| o.indicator == "4548-4" && (5_000_000..10_000_000).contains(&o.effective.0))
        .collect();
    expected.sort_by_key(|o| (o.effective, store.handle(&o.id())));
    let got = store.scan_indicator("4548-4", range).unwrap();
    assert_eq!(
        got,
        expected
            .iter()
            .map(|o| store.handle(&o.id()))
            .collect::<Vec<_>>()
    );
    assert_eq!(got.len(), 15);

    let p2 = store
        .scan_patient(&Pseudonym([2; 32]), Some("8867-4"))
        .unwrap();
    assert_eq!(p2.len(), 20);
    assert!(
        p2.iter()
            .all(|h| store.get_handle(h).unwrap().patient == Pseudonym([2; 32]))
    );
    assert_eq!(
        store.scan_patient(&Pseudonym([2; 32]), None).unwrap().len(),
        40
    );
    assert!(
        store
            .scan_indicator("2339-0", TimeRange::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn erasure_shreds_one_patient_and_keeps_the_ledger_verifiable() {
    let (_dir, mut store) = fresh();
    let batch = cohort(8);
    store.commit(&batch, t(1)).unwrap();
    let victim = Pseudonym([2; 32]);
    let survivor = batch.iter().find(|o| o.patient != victim).unwrap().clone();
    let before = store.inclusion_proof(&survivor.id()).unwrap();

    let hdg_storage::Erasure::Erased(r) = erase(&mut store, victim, "test", t(2)) else {
        panic!("the patient has records here");
    };
    assert_eq!((r.records, r.share_rows), (16, 0));
    for o in batch.iter().filter(|o| o.patient == victim) {
        assert!(matches!(store.get(&o.id()), Err(StoreError::Erased(p)) if p == victim));
    }
    assert!(store.scan_patient(&victim, None).unwrap().is_empty());
    assert_eq!(
        store
            .scan_indicator("4548-4", TimeRange::default())
            .unwrap()
            .len(),
        16
    );
    assert!(matches!(
        store
            .commit(&[obs(2, "4548-4", 1, 1)], t(3))
            .unwrap()
            .refused[0]
            .1,
        StoreError::Erased(_)
    ));
    assert_eq!(
        erase(&mut store, victim, "test", t(3)),
        hdg_storage::Erasure::AlreadyErased
    );
    assert_eq!(
        store.holding(&Pseudonym([77; 32])).unwrap(),
        hdg_storage::Holding::Nothing
    );

    let verifier = NoteVerifier::from_vkey(&store.vkey()).unwrap();
    let summary = store.verify(&verifier).unwrap();
    assert_eq!(summary.shredded, 16);
    assert_eq!(summary.records, 32);
    before.verify(&verifier).unwrap();
    store
        .inclusion_proof(&survivor.id())
        .unwrap()
        .verify(&verifier)
        .unwrap();
}

#[test]
fn proofs_verify_offline_and_tampered_ones_fail() {
    let (_dir, mut store) = fresh();
    let batch = cohort(30);
    for chunk in batch.chunks(7) {
        store.commit(chunk, t(1)).unwrap();
    }
    let verifier = NoteVerifier::from_vkey(&store.vkey()).unwrap();
    for o in batch.iter().step_by(11) {
        let proof = store.inclusion_proof(&o.id()).unwrap();
        proof.verify(&verifier).unwrap();
        let json = serde_json::to_string(&proof).unwrap();
        let mut tampered: serde_json::Value = serde_json::from_str(&json).unwrap();
        tampered["leaf_index"] = serde_json::json!(proof.leaf_index ^ 1);
        let tampered: hdg_ledger::InclusionProofJson = serde_json::from_value(tampered).unwrap();
        assert!(tampered.verify(&verifier).is_err());
    }
    let other = NoteVerifier::from_vkey(&fresh().1.vkey()).unwrap();
    assert!(
        store
            .inclusion_proof(&batch[0].id())
            .unwrap()
            .verify(&other)
            .is_err()
    );
}

#[test]
fn an_uncreated_or_half_created_store_is_named_and_creation_resumes() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(dir.path(), false, &keys()),
        Err(StoreError::NotInitialized(_))
    ));
    // Keys written, database not yet (a crash between the two steps).
    let store = Store::open(dir.path(), true, &keys()).unwrap();
    let vkey = store.vkey();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    assert!(matches!(
        Store::open(dir.path(), false, &keys()),
        Err(StoreError::NotInitialized(_))
    ));
    let resumed = Store::open(dir.path(), true, &keys()).unwrap();
    assert_eq!(resumed.vkey(), vkey, "the existing node key is kept");
}

#[test]
fn a_created_store_whose_keyring_vanished_is_refused_not_rekeyed() {
    let (dir, mut store) = fresh();
    store.commit(&cohort(2), t(1)).unwrap();
    drop(store);
    std::fs::remove_file(dir.path().join(hdg_storage::keyring::KEYRING_FILE)).unwrap();
    match Store::open(dir.path(), true, &keys()) {
        Err(StoreError::KeyFile { path, reason }) => {
            assert!(path.ends_with(hdg_storage::keyring::KEYRING_FILE));
            assert!(reason.contains("missing"), "{reason}");
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a missing keyring must not be replaced by a new one"),
    }
}

#[test]
fn a_database_of_the_older_layout_is_refused_by_name() {
    let (dir, mut store) = fresh();
    store.commit(&cohort(2), t(1)).unwrap();
    drop(store);
    // A store written before records were named by handle carries no layout marker.
    let db = rocksdb::DB::open_cf(
        &rocksdb::Options::default(),
        dir.path().join("db"),
        hdg_storage::layout::ALL,
    )
    .unwrap();
    let meta = db.cf_handle(hdg_storage::layout::META).unwrap();
    db.delete_cf(meta, hdg_storage::layout::META_LAYOUT)
        .unwrap();
    drop(db);
    match Store::open(dir.path(), false, &keys()) {
        Err(e @ StoreError::OldLayout) => assert!(e.to_string().contains("older hdg"), "{e}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("an older layout must not be read as this one"),
    }
}

#[test]
fn a_store_opens_only_with_its_own_key() {
    let (dir, mut store) = fresh();
    store.commit(&cohort(2), t(1)).unwrap();
    drop(store);
    let other = hdg_storage::KeySource::Key(hdg_storage::SecretKey::from_bytes([7; 32]));
    match Store::open(dir.path(), false, &other) {
        Err(StoreError::WrongKey(reason)) => assert!(reason.contains("wrong key"), "{reason}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a store must not open under another key"),
    }
    Store::open(dir.path(), false, &keys()).unwrap();
}

#[test]
fn replaying_kept_write_batches_rebuilds_an_identical_store() {
    // The ingest benchmark's main baseline replays the committed batches into bare RocksDB; this
    // checks they are exactly the store's bytes: with the keyring, the replica is the store.
    let (dir, mut store) = fresh();
    store.keep_write_batches(true);
    let batch = cohort(12);
    let mut kept = Vec::new();
    for chunk in batch.chunks(10) {
        kept.extend(store.commit(chunk, t(1)).unwrap().write_batch);
    }
    assert_eq!(kept.len(), batch.len().div_ceil(10));
    let vkey = store.vkey();
    drop(store);

    let replica = tempfile::tempdir().unwrap();
    hdg_storage::baseline::replay_write_batches(&replica.path().join("db"), &kept).unwrap();
    for f in [
        hdg_storage::keyring::KEYRING_FILE,
        hdg_storage::keyring::NODE_PUB_FILE,
    ] {
        std::fs::copy(dir.path().join(f), replica.path().join(f)).unwrap();
    }
    let copy = Store::open(replica.path(), false, &keys()).unwrap();
    copy.verify(&NoteVerifier::from_vkey(&vkey).unwrap())
        .unwrap();
    for o in &batch {
        assert_eq!(&copy.get(&o.id()).unwrap(), o);
    }
}

#[test]
fn anchored_query_entries_extend_the_verified_ledger_and_body_kinds_are_refused() {
    let (_dir, mut store) = fresh();
    store.commit(&cohort(3), t(1)).unwrap();
    let before = store.tree_size();
    let (leaf, head) = store
        .anchor(
            hdg_ledger::EntryKind::Query,
            [1; 32],
            [2; 32],
            [3; 32],
            t(2),
        )
        .unwrap();
    assert_eq!(leaf, before);
    assert_eq!(store.tree_size(), before + 1);
    assert_eq!(store.latest_head().unwrap().as_deref(), Some(head.as_str()));
    let entry = hdg_ledger::LedgerEntry::from_bytes(&store.leaf(leaf).unwrap()).unwrap();
    assert_eq!(
        (entry.kind, entry.subject, entry.content_hash),
        (hdg_ledger::EntryKind::Query, [1; 32], [2; 32])
    );
    store
        .verify(&NoteVerifier::from_vkey(&store.vkey()).unwrap())
        .unwrap();
    for kind in [
        hdg_ledger::EntryKind::Record,
        hdg_ledger::EntryKind::Erasure,
    ] {
        assert!(matches!(
            store.anchor(kind, [0; 32], [0; 32], [0; 32], t(3)),
            Err(StoreError::Ledger(_))
        ));
    }
    assert_eq!(store.tree_size(), before + 1);
}
