//! Shares at rest: storing a party's share rows, reading them back in the order all parties share,
//! idempotent re-sends, the share receipts in the ledger, and `verify` catching changed rows.
//! Rows name records by handle and hold the UTC day of the effective time, never the instant.

mod common;

use std::path::Path;

use common::*;
use hdg_ledger::{EntryKind, LedgerEntry, NoteVerifier};
use hdg_schema::{Pseudonym, RecordHandle, Timestamp};
use hdg_storage::{ShareRow, Store, StoreError, TimeRange, VerifyError, layout};
use proptest::prelude::*;
use rocksdb::{DB, Options};
use sha2::{Digest, Sha256};

const PEER: [u8; 32] = [0xAB; 32];

const DAY: i64 = Timestamp::DAY_MS;

/// A share row of a made-up record: `n` picks the handle and pair, `day` the day.
fn row(indicator: &str, n: u8, day: i64) -> ShareRow {
    let id = Sha256::digest([n, 0x5a]).into();
    ShareRow {
        handle: RecordHandle(id),
        indicator: indicator.into(),
        day: Timestamp(day * DAY),
        patient: Pseudonym([n % 4; 32]),
        party: 1,
        pair: (
            u64::from(n) * 0x9e37_79b9_7f4a_7c15,
            u64::MAX - u64::from(n),
        ),
    }
}

/// Twelve rows over two indicators, days out of handle order.
fn rows() -> Vec<ShareRow> {
    (0..12u8)
        .map(|n| {
            let code = if n % 3 == 0 { "8867-4" } else { "4548-4" };
            row(code, n, i64::from(n % 5) - 2)
        })
        .collect()
}

fn sorted_by_handle(mut rows: Vec<ShareRow>) -> Vec<ShareRow> {
    rows.sort_by_key(|r| r.handle);
    rows
}

fn verifier(store: &Store) -> NoteVerifier {
    NoteVerifier::from_vkey(&store.vkey()).unwrap()
}

#[test]
fn rows_come_back_in_handle_order_for_a_range_of_days_and_survive_reopen() {
    let (dir, mut store) = fresh();
    let all = rows();
    let r = store.commit_shares(&all, PEER, t(5)).unwrap();
    assert_eq!(r.stored.len(), all.len());
    let range = TimeRange {
        from: Some(Timestamp(-DAY)),
        to: Some(Timestamp(2 * DAY)),
    };
    let expected = sorted_by_handle(
        all.iter()
            .filter(|r| r.indicator == "4548-4" && (-DAY..2 * DAY).contains(&r.day.0))
            .cloned()
            .collect(),
    );
    assert!(expected.len() >= 3, "the range must select several rows");
    assert_eq!(store.scan_shares("4548-4", range).unwrap(), expected);
    drop(store);

    let store = Store::open(dir.path(), false, &keys()).unwrap();
    assert_eq!(store.scan_shares("4548-4", range).unwrap(), expected);
    let everything = store.scan_shares("8867-4", TimeRange::default()).unwrap();
    let expected_other = sorted_by_handle(
        all.iter()
            .filter(|r| r.indicator == "8867-4")
            .cloned()
            .collect(),
    );
    assert_eq!(everything, expected_other);
    assert!(
        store
            .scan_shares("2339-0", TimeRange::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn one_receipt_per_batch_anchors_its_row_ids_and_names_the_sender() {
    let (_dir, mut store) = fresh();
    store.commit(&cohort(2), t(1)).unwrap();
    let before = store.tree_size();
    let batch = rows();
    let r = store.commit_shares(&batch, PEER, t(7)).unwrap();
    assert_eq!(r.leaf_index, Some(before));
    assert_eq!(r.tree_size, before + 1, "one ledger entry per batch");
    assert_eq!(r.height, Some(1));
    assert_eq!(store.latest_head().unwrap(), r.checkpoint);

    let sorted = sorted_by_handle(batch.clone());
    let handles: Vec<RecordHandle> = sorted.iter().map(|r| r.handle).collect();
    assert_eq!(r.stored, handles);
    // The batch id: SHA-256 over the rows' ids (SHA-256 of a domain and the share key), in
    // handle order, as the manifest's documented layout says.
    let mut h = Sha256::new();
    for r in &sorted {
        let mut row_id = Sha256::new();
        row_id.update(b"hdg share row id v2\n");
        row_id.update(key(r));
        h.update(row_id.finalize());
    }
    let subject: [u8; 32] = h.finalize().into();
    assert_eq!(r.batch_id, Some(subject));
    let entry = LedgerEntry::from_bytes(&store.leaf(before).unwrap()).unwrap();
    assert_eq!(entry.kind, EntryKind::ShareReceipt);
    assert_eq!(entry.subject, subject);
    assert_eq!(entry.actor, PEER);
    assert_eq!(entry.time, 7);

    let summary = store.verify(&verifier(&store)).unwrap();
    assert_eq!(summary.shares, batch.len() as u64);
    assert_eq!(summary.records, 12);
}

#[test]
fn a_re_sent_batch_is_skipped_and_adds_no_ledger_entry() {
    let (_dir, mut store) = fresh();
    let all = rows();
    store.commit_shares(&all[..8], PEER, t(1)).unwrap();
    let size = store.tree_size();
    let head = store.latest_head().unwrap();

    let again = store.commit_shares(&all[..8], PEER, t(2)).unwrap();
    assert!(again.stored.is_empty());
    assert_eq!(again.duplicates.len(), 8);
    assert_eq!((again.leaf_index, again.height), (None, None));
    assert_eq!(store.tree_size(), size);
    assert_eq!(store.latest_head().unwrap(), head);

    // A retry overlapping the first batch stores only what is new; a changed pair for a record
    // already shared never replaces the stored one.
    let mut changed = all[0].clone();
    changed.pair = (1, 2);
    let mut retry = vec![changed, all[9].clone(), all[9].clone()];
    retry.extend_from_slice(&all[5..8]);
    let r = store.commit_shares(&retry, PEER, t(3)).unwrap();
    assert_eq!(r.stored, vec![all[9].handle]);
    assert_eq!(r.duplicates.len(), 5);
    assert_eq!(store.tree_size(), size + 1);
    let stored: Vec<ShareRow> = ["4548-4", "8867-4"]
        .iter()
        .flat_map(|c| store.scan_shares(c, TimeRange::default()).unwrap())
        .collect();
    assert_eq!(stored.len(), 9);
    assert!(stored.contains(&all[0]), "the first pair stays");
    store.verify(&verifier(&store)).unwrap();
}

#[test]
fn a_malformed_row_refuses_the_whole_batch() {
    let (_dir, mut store) = fresh();
    let mut batch = rows();
    batch[4].party = 3;
    match store.commit_shares(&batch, PEER, t(1)) {
        Err(StoreError::InvalidShareRow { record, .. }) => assert_eq!(record, batch[4].handle),
        other => panic!("expected a refused row, got {other:?}"),
    }
    batch[4].party = 0;
    batch[2].indicator = "x".repeat(300);
    assert!(matches!(
        store.commit_shares(&batch, PEER, t(1)),
        Err(StoreError::InvalidShareRow { .. })
    ));
    // A party holds days, never instants: a row with a finer time is refused.
    let mut batch = rows();
    batch[6].day = Timestamp(batch[6].day.0 + 1);
    match store.commit_shares(&batch, PEER, t(1)) {
        Err(e @ StoreError::InvalidShareRow { .. }) => {
            assert!(e.to_string().contains("not a UTC day"), "{e}")
        }
        other => panic!("expected a refused row, got {other:?}"),
    }
    assert_eq!(store.tree_size(), 0);
    assert!(
        store
            .scan_shares("4548-4", TimeRange::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn debug_output_hides_the_pair() {
    let r = row("4548-4", 3, 0);
    let text = format!("{r:?}");
    assert!(!text.contains(&r.pair.0.to_string()), "{text}");
    assert!(!text.contains(&r.pair.1.to_string()), "{text}");
}

/// A store holding records and two share batches; returns its folder, the rows and its key.
fn with_shares() -> (tempfile::TempDir, Vec<ShareRow>, String) {
    let (dir, mut store) = fresh();
    let all = rows();
    store.commit(&cohort(2), t(1)).unwrap();
    store.commit_shares(&all[..6], PEER, t(2)).unwrap();
    store.commit_shares(&all[6..], PEER, t(3)).unwrap();
    store.verify(&verifier(&store)).unwrap();
    let vkey = store.vkey();
    (dir, all, vkey)
}

fn tamper(dir: &Path, f: impl FnOnce(&DB)) {
    let db = DB::open_cf(&Options::default(), dir.join("db"), layout::ALL).unwrap();
    f(&db);
}

fn verify_fails(dir: &Path, vkey: &str) -> (String, String, String) {
    let store = Store::open(dir, false, &keys()).unwrap();
    match store.verify(&NoteVerifier::from_vkey(vkey).unwrap()) {
        Err(VerifyError::Bad { kind, id, what }) => (kind.to_string(), id, what),
        other => panic!("verify did not name a bad entry: {other:?}"),
    }
}

fn key(r: &ShareRow) -> Vec<u8> {
    layout::share_key(&r.indicator, r.day, &r.handle)
}

#[test]
fn a_share_row_replaced_by_another_rows_value_is_named() {
    let (dir, all, vkey) = with_shares();
    let (a, b) = (&all[1], &all[2]);
    tamper(dir.path(), |db| {
        let shares = db.cf_handle(layout::SHARES).unwrap();
        let other = db.get_cf(shares, key(b)).unwrap().unwrap();
        db.put_cf(shares, key(a), other).unwrap();
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!(
        (kind.as_str(), id),
        ("share row", a.handle.to_string()),
        "{what}"
    );
}

#[test]
fn a_share_row_with_one_byte_changed_is_named() {
    let (dir, all, vkey) = with_shares();
    let victim = &all[7];
    tamper(dir.path(), |db| {
        let shares = db.cf_handle(layout::SHARES).unwrap();
        let mut v = db.get_cf(shares, key(victim)).unwrap().unwrap();
        let last = v.len() - 1;
        v[last] ^= 1;
        db.put_cf(shares, key(victim), v).unwrap();
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!(
        (kind.as_str(), id),
        ("share row", victim.handle.to_string())
    );
    assert!(what.contains("differs"), "{what}");
}

#[test]
fn a_removed_share_row_is_named() {
    let (dir, all, vkey) = with_shares();
    let victim = &all[3];
    tamper(dir.path(), |db| {
        let shares = db.cf_handle(layout::SHARES).unwrap();
        db.delete_cf(shares, key(victim)).unwrap();
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!(
        (kind.as_str(), id),
        ("share row", victim.handle.to_string())
    );
    assert!(what.contains("missing"), "{what}");
}

#[test]
fn a_share_row_moved_to_another_day_is_caught() {
    let (dir, all, vkey) = with_shares();
    let victim = &all[5];
    tamper(dir.path(), |db| {
        let shares = db.cf_handle(layout::SHARES).unwrap();
        let v = db.get_cf(shares, key(victim)).unwrap().unwrap();
        db.delete_cf(shares, key(victim)).unwrap();
        let moved = layout::share_key(
            &victim.indicator,
            Timestamp(victim.day.0 + DAY),
            &victim.handle,
        );
        db.put_cf(shares, moved, v).unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!(
        (kind.as_str(), id),
        ("share row", victim.handle.to_string())
    );
}

#[test]
fn an_injected_share_row_is_named() {
    let (dir, all, vkey) = with_shares();
    let forged = row("4548-4", 200, 0);
    tamper(dir.path(), |db| {
        let shares = db.cf_handle(layout::SHARES).unwrap();
        let v = db.get_cf(shares, key(&all[0])).unwrap().unwrap();
        db.put_cf(shares, key(&forged), v).unwrap();
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!(
        (kind.as_str(), id),
        ("share row", forged.handle.to_string())
    );
    assert!(what.contains("not anchored"), "{what}");
}

#[test]
fn a_removed_or_injected_patient_index_entry_is_named() {
    let (dir, _all, vkey) = with_shares();
    let entries = |db: &DB| -> Vec<Vec<u8>> {
        let cf = db.cf_handle(layout::SHARE_PATIENTS).unwrap();
        db.iterator_cf(cf, rocksdb::IteratorMode::Start)
            .map(|kv| kv.unwrap().0.to_vec())
            .collect()
    };
    tamper(dir.path(), |db| {
        let first = entries(db).remove(0);
        db.delete_cf(db.cf_handle(layout::SHARE_PATIENTS).unwrap(), first)
            .unwrap();
    });
    let (kind, _, what) = verify_fails(dir.path(), &vkey);
    assert_eq!(kind, "share patient index", "{what}");
    assert!(what.contains("missing"), "{what}");

    let (dir, _all, vkey) = with_shares();
    tamper(dir.path(), |db| {
        // The same row indexed under another patient's tag.
        let mut moved = entries(db).remove(0);
        moved[0] ^= 1;
        db.put_cf(db.cf_handle(layout::SHARE_PATIENTS).unwrap(), moved, [])
            .unwrap();
    });
    let (kind, _, what) = verify_fails(dir.path(), &vkey);
    assert_eq!(kind, "share patient index", "{what}");
}

#[test]
fn a_removed_manifest_names_its_receipt() {
    let (dir, _all, vkey) = with_shares();
    // Twelve records (leaves 0..12), then the receipts at leaves 12 and 13.
    tamper(dir.path(), |db| {
        let receipts = db.cf_handle(layout::SHARE_RECEIPTS).unwrap();
        db.delete_cf(receipts, 13u64.to_be_bytes()).unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("share receipt", "13"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Whatever the batch, every stored row reads back, per indicator, in handle order.
    #[test]
    fn scans_return_every_row_in_handle_order(
        spec in proptest::collection::vec((0u8..3, -50i64..50, any::<u64>(), any::<u64>()), 1..40),
    ) {
        let (_dir, mut store) = fresh();
        let codes = ["4548-4", "8867-4", "2339-0"];
        let batch: Vec<ShareRow> = spec
            .iter()
            .enumerate()
            .map(|(i, (c, t, a, b))| ShareRow {
                handle: RecordHandle(Sha256::digest((i as u64).to_be_bytes()).into()),
                indicator: codes[usize::from(*c)].into(),
                day: Timestamp(*t * DAY),
                patient: Pseudonym([*c; 32]),
                party: 2,
                pair: (*a, *b),
            })
            .collect();
        store.commit_shares(&batch, PEER, t(1)).unwrap();
        for code in codes {
            let expected = sorted_by_handle(batch.iter().filter(|r| r.indicator == code).cloned().collect());
            prop_assert_eq!(store.scan_shares(code, TimeRange::default()).unwrap(), expected);
        }
    }
}

#[test]
fn visiting_rows_gives_them_by_day_then_handle_one_at_a_time() {
    let (_dir, mut store) = fresh();
    let all = rows();
    store.commit_shares(&all, PEER, t(5)).unwrap();
    let range = TimeRange {
        from: Some(Timestamp(-DAY)),
        to: Some(Timestamp(2 * DAY)),
    };
    let mut expected: Vec<ShareRow> = all
        .iter()
        .filter(|r| r.indicator == "4548-4" && (-DAY..2 * DAY).contains(&r.day.0))
        .cloned()
        .collect();
    expected.sort_by_key(|r| (r.day, r.handle));
    let mut visited = Vec::new();
    store
        .visit_shares("4548-4", range, |r| visited.push(r))
        .unwrap();
    assert_eq!(visited, expected);
    // The same rows as the scan, which orders them by handle alone.
    assert_eq!(
        sorted_by_handle(visited),
        store.scan_shares("4548-4", range).unwrap()
    );
}
