//! Erasing a patient at a node that is both their home (records) and a computing party (share
//! rows): the rows and their index entries are gone, the ledger still verifies, rows that arrive
//! later are dropped, and the destroyed data key and erased rows leave the database files.

mod common;

use std::path::Path;

use common::*;
use hdg_ledger::{EntryKind, LedgerEntry, NoteVerifier};
use hdg_schema::{Pseudonym, RecordHandle, Timestamp};
use hdg_storage::{Erasure, Holding, ShareRow, Store, StoreError, TimeRange, VerifyError, layout};
use rocksdb::{DB, Options};
use sha2::{Digest, Sha256};

const PEER: [u8; 32] = [0xAB; 32];
const DAY: i64 = Timestamp::DAY_MS;

/// Share rows of patients 1..=3 (the cohort's pseudonyms), `n` each, over two indicators.
fn rows(n: u8) -> Vec<ShareRow> {
    (1..=3u8)
        .flat_map(|p| {
            (0..n).map(move |i| ShareRow {
                handle: RecordHandle(Sha256::digest([p, i, 0x77]).into()),
                indicator: if i % 2 == 0 { "4548-4" } else { "8867-4" }.into(),
                day: Timestamp(i64::from(i) * DAY),
                patient: Pseudonym([p; 32]),
                party: 1,
                pair: (0x1111_0000 + u64::from(i), 0x2222_0000 + u64::from(p)),
            })
        })
        .collect()
}

/// A store holding the cohort's records and share rows of the same patients, in two batches.
fn home_and_party() -> (tempfile::TempDir, Store, Vec<ShareRow>) {
    let (dir, mut store) = fresh();
    store.commit(&cohort(4), t(1)).unwrap();
    let all = rows(6);
    store.commit_shares(&all[..9], PEER, t(2)).unwrap();
    store.commit_shares(&all[9..], PEER, t(3)).unwrap();
    store.verify(&verifier(&store)).unwrap();
    (dir, store, all)
}

fn verifier(store: &Store) -> NoteVerifier {
    NoteVerifier::from_vkey(&store.vkey()).unwrap()
}

fn all_rows(store: &Store) -> Vec<ShareRow> {
    ["4548-4", "8867-4"]
        .iter()
        .flat_map(|c| store.scan_shares(c, TimeRange::default()).unwrap())
        .collect()
}

/// Every key and value of every column family, read through RocksDB.
fn dump(dir: &Path, families: &[&str]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let db =
        DB::open_cf_for_read_only(&Options::default(), dir.join("db"), layout::ALL, false).unwrap();
    let mut out = Vec::new();
    for name in families {
        let cf = db.cf_handle(name).unwrap();
        for kv in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (k, v) = kv.unwrap();
            out.push((name.to_string(), k.to_vec(), v.to_vec()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of every file of the database folder.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir.join("db"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect()
}

const SHARE_FAMILIES: [&str; 5] = [
    layout::SHARES,
    layout::SHARE_IDS,
    layout::SHARE_PATIENTS,
    layout::SHARE_RECEIPTS,
    layout::SHARES_ERASED,
];

#[test]
fn an_erasure_removes_the_patients_rows_and_records_and_the_store_still_verifies() {
    let (dir, mut store, all) = home_and_party();
    let victim = Pseudonym([2; 32]);
    let theirs: Vec<&ShareRow> = all.iter().filter(|r| r.patient == victim).collect();
    let before = store.tree_size();

    let asked = r#"{"requested_by":"patient"}"#;
    let Erasure::Erased(r) = erase(&mut store, victim, asked, t(4)) else {
        panic!("the patient has data here");
    };
    assert_eq!((r.records, r.share_rows), (8, theirs.len() as u64));
    assert_eq!(r.leaf_index, before);
    let entry = LedgerEntry::from_bytes(&store.leaf(r.leaf_index).unwrap()).unwrap();
    assert_eq!(
        (entry.kind, entry.subject, entry.actor),
        (EntryKind::Erasure, victim.0, ERASER)
    );
    assert_eq!(store.patient_entries(&victim).unwrap(), vec![r.leaf_index]);
    assert_eq!(
        store.entry_text(r.leaf_index).unwrap().as_deref(),
        Some(asked)
    );

    // Only the others' rows remain, and queries never see the patient's again.
    let left = all_rows(&store);
    assert_eq!(left.len(), all.len() - theirs.len());
    assert!(left.iter().all(|row| row.patient != victim));
    let summary = store.verify(&verifier(&store)).unwrap();
    assert_eq!(summary.shares, left.len() as u64);
    assert_eq!(summary.shredded, 8);

    // Nothing of the patient's rows is in the share data any more: not the handles, not the
    // pseudonym (which was only ever sealed), not the sealed values.
    drop(store);
    for (family, k, v) in dump(dir.path(), &SHARE_FAMILIES) {
        for row in &theirs {
            assert!(
                !contains(&k, &row.handle.0),
                "{family} key names an erased row"
            );
            assert!(
                !contains(&v, &row.handle.0),
                "{family} value names an erased row"
            );
        }
        assert!(
            !contains(&k, &victim.0) && !contains(&v, &victim.0),
            "{family}"
        );
    }

    // A second request finds nothing left: idempotent, nothing anchored.
    let mut store = Store::open(dir.path(), false, &keys()).unwrap();
    let size = store.tree_size();
    assert_eq!(
        erase(&mut store, victim, "test", t(5)),
        Erasure::AlreadyErased
    );
    assert_eq!(store.tree_size(), size);
}

#[test]
fn rows_of_an_erased_patient_that_arrive_later_are_dropped() {
    let (_dir, mut store, _) = home_and_party();
    let victim = Pseudonym([3; 32]);
    erase(&mut store, victim, "test", t(4));
    let late: Vec<ShareRow> = rows(9).into_iter().skip(6).collect();
    let r = store.commit_shares(&late, PEER, t(5)).unwrap();
    let (gone, kept): (Vec<&ShareRow>, Vec<&ShareRow>) =
        late.iter().partition(|r| r.patient == victim);
    assert_eq!(r.dropped.len(), gone.len());
    assert_eq!(r.stored.len() + r.duplicates.len(), kept.len());
    assert!(all_rows(&store).iter().all(|row| row.patient != victim));
    store.verify(&verifier(&store)).unwrap();
}

#[test]
fn a_party_that_holds_only_rows_erases_them_and_one_that_holds_nothing_still_blocks_them() {
    let (_dir, mut store) = fresh();
    store.commit_shares(&rows(4), PEER, t(1)).unwrap();
    assert_eq!(store.holding(&Pseudonym([1; 32])).unwrap(), Holding::Data);
    let Erasure::Erased(r) = erase(&mut store, Pseudonym([1; 32]), "test", t(2)) else {
        panic!("the patient has rows here");
    };
    assert_eq!((r.records, r.share_rows), (0, 4));
    assert_eq!(store.holding(&Pseudonym([1; 32])).unwrap(), Holding::Erased);
    // A patient of whom nothing is held yet: the erasure still leaves its tombstones, so rows
    // already on their way from the home node (and any record later) are refused here.
    let unseen = Pseudonym([9; 32]);
    assert_eq!(store.holding(&unseen).unwrap(), Holding::Nothing);
    let Erasure::Erased(r) = erase(&mut store, unseen, "test", t(3)) else {
        panic!("an erasure is anchored even where nothing was held");
    };
    assert_eq!((r.records, r.share_rows), (0, 0));
    let late: Vec<ShareRow> = rows(4)
        .into_iter()
        .filter(|r| r.patient == unseen)
        .collect();
    let receipt = store.commit_shares(&late, PEER, t(4)).unwrap();
    assert_eq!(receipt.dropped.len(), late.len());
    let refused = store.commit(&[obs(9, "4548-4", 60, 9)], t(5)).unwrap();
    assert!(matches!(refused.refused[0].1, StoreError::Erased(_)));
    assert_eq!(
        erase(&mut store, unseen, "test", t(6)),
        Erasure::AlreadyErased
    );
    store.verify(&verifier(&store)).unwrap();
}

#[test]
fn an_erasure_without_its_tombstone_is_named_by_verify() {
    let (dir, mut store, _) = home_and_party();
    let Erasure::Erased(r) = erase(&mut store, Pseudonym([3; 32]), "test", t(4)) else {
        panic!("erased");
    };
    let vkey = store.vkey();
    drop(store);
    let db = DB::open_cf(&Options::default(), dir.path().join("db"), layout::ALL).unwrap();
    let tombstones = db.cf_handle(layout::SHARES_ERASED).unwrap();
    let (k, _) = db
        .iterator_cf(tombstones, rocksdb::IteratorMode::Start)
        .next()
        .unwrap()
        .unwrap();
    db.delete_cf(tombstones, k).unwrap();
    drop(db);
    let store = Store::open(dir.path(), false, &keys()).unwrap();
    match store.verify(&NoteVerifier::from_vkey(&vkey).unwrap()) {
        Err(VerifyError::Bad { kind, id, what }) => {
            assert_eq!((kind, id), ("erasure", r.leaf_index.to_string()), "{what}");
            assert!(what.contains("tombstone"), "{what}");
        }
        other => panic!("a missing tombstone must fail verify, got {other:?}"),
    }
}

#[test]
fn after_erasure_the_destroyed_data_key_and_the_rows_are_gone_from_the_database_files() {
    gone_from_the_files(false);
}

#[test]
fn a_compaction_a_crash_interrupted_is_finished_at_the_next_open() {
    gone_from_the_files(true);
}

/// Erases a patient and checks neither their wrapped data key nor their sealed rows remain in
/// any database file; with `crash`, the process "dies" after the erasure's write and before its
/// compaction, which the next open finishes.
fn gone_from_the_files(crash: bool) {
    let (dir, store, all) = home_and_party();
    let victim = Pseudonym([1; 32]);
    drop(store);
    // What a copy of the folder taken before the erasure holds: the wrapped data key and the
    // sealed rows (flushed to table files by a reopen).
    let before = dump(dir.path(), &[layout::KEYS, layout::SHARES]);
    let wrapped = before
        .iter()
        .find(|(f, k, _)| f == layout::KEYS && k == &victim.0)
        .map(|(_, _, v)| v.clone())
        .unwrap();
    let sealed: Vec<Vec<u8>> = before
        .iter()
        .filter(|(f, k, _)| {
            f == layout::SHARES
                && all
                    .iter()
                    .any(|r| r.patient == victim && k.ends_with(&r.handle.0))
        })
        .map(|(_, _, v)| v.clone())
        .collect();
    assert_eq!(sealed.len(), 6);
    let mut store = Store::open(dir.path(), false, &keys()).unwrap();
    let flushed = files(dir.path())
        .iter()
        .any(|(_, bytes)| contains(bytes, &wrapped));
    assert!(
        flushed,
        "the wrapped key is in the files before the erasure"
    );

    if crash {
        let order = hdg_storage::ErasureOrder {
            patient: victim,
            actor: ERASER,
            text: "test",
            owed: None,
        };
        store.erase_patient(&order, t(4)).unwrap();
        assert!(store.pending_compaction().unwrap().is_some());
        drop(store);
        let reopened = Store::open(dir.path(), false, &keys()).unwrap();
        assert!(reopened.pending_compaction().unwrap().is_none());
    } else {
        erase(&mut store, victim, "test", t(4));
        assert!(store.pending_compaction().unwrap().is_none());
        drop(store);
    }
    for (name, bytes) in files(dir.path()) {
        assert!(
            !contains(&bytes, &wrapped),
            "{name} still holds the destroyed data key"
        );
        for s in &sealed {
            assert!(!contains(&bytes, s), "{name} still holds an erased row");
        }
    }
    let store = Store::open(dir.path(), false, &keys()).unwrap();
    store.verify(&verifier(&store)).unwrap();
}

/// The offsets of the erased entries' erasure leaves in a manifest (layout version 2, as
/// `share_manifest` documents it).
fn erased_leaf_offsets(manifest: &[u8]) -> Vec<usize> {
    assert_eq!(manifest[0], 2, "manifest version");
    let count = u32::from_be_bytes(manifest[1..5].try_into().unwrap());
    let (mut at, mut out) = (5, Vec::new());
    for _ in 0..count {
        match manifest[at] {
            1 => {
                let klen = usize::from(u16::from_be_bytes([manifest[at + 1], manifest[at + 2]]));
                at += 1 + 2 + klen + 32;
            }
            2 => {
                out.push(at + 1 + 32 + 32);
                at += 1 + 32 + 32 + 8;
            }
            tag => panic!("unknown manifest entry tag {tag}"),
        }
    }
    assert_eq!(at, manifest.len());
    out
}

#[test]
fn an_erased_entry_pointed_at_another_erasure_is_named_by_verify() {
    let (dir, mut store, _) = home_and_party();
    let Erasure::Erased(r) = erase(&mut store, Pseudonym([2; 32]), "test", t(4)) else {
        panic!("erased");
    };
    let vkey = store.vkey();
    drop(store);
    let db = DB::open_cf(&Options::default(), dir.path().join("db"), layout::ALL).unwrap();
    let receipts = db.cf_handle(layout::SHARE_RECEIPTS).unwrap();
    let (key, mut manifest) = db
        .iterator_cf(receipts, rocksdb::IteratorMode::Start)
        .map(|kv| kv.unwrap())
        .find(|(_, v)| !erased_leaf_offsets(v).is_empty())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .expect("a manifest with erased entries");
    let at = erased_leaf_offsets(&manifest)[0];
    assert_eq!(manifest[at..at + 8], r.leaf_index.to_be_bytes());
    manifest[at..at + 8].copy_from_slice(&(r.leaf_index + 1000).to_be_bytes());
    db.put_cf(receipts, &key, &manifest).unwrap();
    drop(db);
    let store = Store::open(dir.path(), false, &keys()).unwrap();
    match store.verify(&NoteVerifier::from_vkey(&vkey).unwrap()) {
        Err(VerifyError::Bad { kind, id, what }) => {
            assert_eq!((kind, id), ("erasure", r.leaf_index.to_string()), "{what}");
            assert!(what.contains("share rows"), "{what}");
        }
        other => panic!("a changed manifest must fail verify, got {other:?}"),
    }
}

/// Rewrites a layout-3 store's share indexes as layout 2 wrote them: the patient index keyed
/// (tag, handle) and the handle index giving each row's share key. With `done` entries already
/// rewritten back, it is a store a crash stopped part-way through its migration.
fn as_layout_2(dir: &Path, done: usize) {
    let db = DB::open_cf(&Options::default(), dir.join("db"), layout::ALL).unwrap();
    let (patients, ids) = (
        db.cf_handle(layout::SHARE_PATIENTS).unwrap(),
        db.cf_handle(layout::SHARE_IDS).unwrap(),
    );
    let entries: Vec<Vec<u8>> = db
        .iterator_cf(patients, rocksdb::IteratorMode::Start)
        .map(|kv| kv.unwrap().0.to_vec())
        .collect();
    for (i, k) in entries.iter().enumerate() {
        let (tag, share_key) = k.split_at(32);
        let (_, _, handle) = layout::decode_index_tail(share_key).unwrap();
        db.put_cf(ids, handle.0, share_key).unwrap();
        if i >= done {
            db.delete_cf(patients, k).unwrap();
            db.put_cf(patients, [tag, &handle.0[..]].concat(), [])
                .unwrap();
        }
    }
    let meta = db.cf_handle(layout::META).unwrap();
    db.put_cf(meta, layout::META_LAYOUT, [2]).unwrap();
}

#[test]
fn a_layout_2_store_is_moved_to_layout_3_when_opened_even_after_a_crash_part_way() {
    for done in [0, 5] {
        let (dir, store, all) = home_and_party();
        drop(store);
        let written_by_3 = dump(dir.path(), &SHARE_FAMILIES);
        as_layout_2(dir.path(), done);
        assert_ne!(dump(dir.path(), &SHARE_FAMILIES), written_by_3);

        let store = Store::open(dir.path(), false, &keys()).unwrap();
        store.verify(&verifier(&store)).unwrap();
        drop(store);
        // The same share families as layout 3 writes them, the handle index empty.
        assert_eq!(dump(dir.path(), &SHARE_FAMILIES), written_by_3);
        assert!(dump(dir.path(), &[layout::SHARE_IDS]).is_empty());

        // And the moved index still finds every row of a patient to erase.
        let mut store = Store::open(dir.path(), false, &keys()).unwrap();
        let victim = Pseudonym([3; 32]);
        let theirs = all.iter().filter(|r| r.patient == victim).count() as u64;
        let Erasure::Erased(r) = erase(&mut store, victim, "{}", t(4)) else {
            panic!("the patient has data here");
        };
        assert_eq!(r.share_rows, theirs);
        assert!(all_rows(&store).iter().all(|row| row.patient != victim));
        store.verify(&verifier(&store)).unwrap();
    }
}

#[test]
fn a_store_of_an_unknown_layout_is_refused() {
    let (dir, store, _) = home_and_party();
    drop(store);
    let db = DB::open_cf(&Options::default(), dir.path().join("db"), layout::ALL).unwrap();
    db.put_cf(
        db.cf_handle(layout::META).unwrap(),
        layout::META_LAYOUT,
        [1],
    )
    .unwrap();
    drop(db);
    assert!(matches!(
        Store::open(dir.path(), false, &keys()),
        Err(StoreError::OldLayout)
    ));
}
