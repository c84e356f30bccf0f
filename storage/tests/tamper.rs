//! An insider with write access to the database files changes them through the RocksDB API (valid
//! checksums, not bit flips); `verify` must fail on every change and name the entry.

mod common;

use std::path::Path;

use common::*;
use hdg_ledger::{Checkpoint, NoteSigner, NoteVerifier};
use hdg_schema::{Observation, RecordHandle};
use hdg_storage::{Store, VerifyError, layout};
use rocksdb::{DB, Options};

/// A store with two blocks of records; returns the folder, the records and the verifier key.
fn two_blocks() -> (tempfile::TempDir, Vec<Observation>, String) {
    let (dir, mut store) = fresh();
    let batch = cohort(6);
    store.commit(&batch[..20], t(1)).unwrap();
    store.commit(&batch[20..], t(2)).unwrap();
    let vkey = store.vkey();
    store
        .verify(&NoteVerifier::from_vkey(&vkey).unwrap())
        .unwrap();
    (dir, batch, vkey)
}

/// Opens the raw database, lets `f` change it, closes it.
fn tamper(dir: &Path, f: impl FnOnce(&DB)) {
    let db = DB::open_cf(&Options::default(), dir.join("db"), layout::ALL).unwrap();
    f(&db);
}

/// Runs `verify` with the published key; returns (kind, id, what) of the failure.
fn verify_fails(dir: &Path, vkey: &str) -> (String, String, String) {
    let store = Store::open(dir, false, &keys()).unwrap();
    match store.verify(&NoteVerifier::from_vkey(vkey).unwrap()) {
        Err(VerifyError::Bad { kind, id, what }) => (kind.to_string(), id, what),
        other => panic!("verify did not name a bad entry: {other:?}"),
    }
}

/// The handle (its name in the store and the ledger) of `o` in the store at `dir`.
fn handle(dir: &Path, o: &Observation) -> RecordHandle {
    Store::open(dir, false, &keys()).unwrap().handle(&o.id())
}

fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).unwrap()
}

#[test]
fn record_body_replaced_by_another_validly_sealed_body() {
    let (dir, batch, vkey) = two_blocks();
    let (a, b) = (handle(dir.path(), &batch[3]), handle(dir.path(), &batch[4]));
    tamper(dir.path(), |db| {
        let other = db.get_cf(cf(db, layout::RECORDS), b.0).unwrap().unwrap();
        db.put_cf(cf(db, layout::RECORDS), a.0, other).unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id), ("record", a.to_string()));
}

#[test]
fn record_deleted() {
    let (dir, batch, vkey) = two_blocks();
    let victim = handle(dir.path(), &batch[25]);
    tamper(dir.path(), |db| {
        db.delete_cf(cf(db, layout::RECORDS), victim.0).unwrap()
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id), ("record", victim.to_string()));
    assert!(what.contains("missing"), "{what}");
}

#[test]
fn index_entry_pointing_elsewhere() {
    let (dir, batch, vkey) = two_blocks();
    let o = &batch[7];
    let h = handle(dir.path(), o);
    tamper(dir.path(), |db| {
        let k = layout::by_indicator_key(&o.indicator, o.effective, &h);
        db.delete_cf(cf(db, layout::BY_INDICATOR), &k).unwrap();
        let moved =
            layout::by_indicator_key(&o.indicator, hdg_schema::Timestamp(o.effective.0 + 1), &h);
        db.put_cf(cf(db, layout::BY_INDICATOR), moved, []).unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id), ("index entry", h.to_string()));
}

#[test]
fn extra_index_entry() {
    let (dir, batch, vkey) = two_blocks();
    let o = &batch[7];
    let h = handle(dir.path(), o);
    tamper(dir.path(), |db| {
        let extra = layout::by_indicator_key("2339-0", o.effective, &h);
        db.put_cf(cf(db, layout::BY_INDICATOR), extra, []).unwrap();
    });
    assert_eq!(verify_fails(dir.path(), &vkey).0, "index entry");
}

#[test]
fn ledger_leaf_changed() {
    let (dir, _batch, vkey) = two_blocks();
    tamper(dir.path(), |db| {
        let k = 5u64.to_be_bytes();
        let mut leaf = db
            .get_cf(cf(db, layout::LEDGER_LEAVES), k)
            .unwrap()
            .unwrap();
        let last = leaf.len() - 1;
        leaf[last] ^= 1; // the entry's time
        db.put_cf(cf(db, layout::LEDGER_LEAVES), k, leaf).unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("ledger leaf", "5"));
}

#[test]
fn ledger_leaf_changed_with_its_nodes_rewritten_is_caught_by_the_signed_head() {
    let (dir, _batch, vkey) = two_blocks();
    tamper(dir.path(), |db| {
        let k = 5u64.to_be_bytes();
        let mut leaf = db
            .get_cf(cf(db, layout::LEDGER_LEAVES), k)
            .unwrap()
            .unwrap();
        let last = leaf.len() - 1;
        leaf[last] ^= 1;
        db.put_cf(cf(db, layout::LEDGER_LEAVES), k, &leaf).unwrap();
        // Recompute every stored node from the forged leaves, as a careful insider would.
        let mut frontier = hdg_ledger::Frontier::new();
        for i in 0..36u64 {
            let leaf = db
                .get_cf(cf(db, layout::LEDGER_LEAVES), i.to_be_bytes())
                .unwrap()
                .unwrap();
            for (level, index, hash) in frontier.append(hdg_ledger::leaf_hash(&leaf)) {
                db.put_cf(
                    cf(db, layout::LEDGER_NODES),
                    layout::node_key(level, index),
                    hash,
                )
                .unwrap();
            }
        }
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("head", "0"), "{what}");
}

#[test]
fn ledger_leaf_removed() {
    let (dir, _batch, vkey) = two_blocks();
    tamper(dir.path(), |db| {
        db.delete_cf(cf(db, layout::LEDGER_LEAVES), 9u64.to_be_bytes())
            .unwrap()
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("ledger leaf", "9"));
    assert!(what.contains("missing"), "{what}");
}

#[test]
fn two_ledger_leaves_swapped() {
    let (dir, _batch, vkey) = two_blocks();
    tamper(dir.path(), |db| {
        let leaves = cf(db, layout::LEDGER_LEAVES);
        let a = db.get_cf(leaves, 2u64.to_be_bytes()).unwrap().unwrap();
        let b = db.get_cf(leaves, 3u64.to_be_bytes()).unwrap().unwrap();
        db.put_cf(leaves, 2u64.to_be_bytes(), b).unwrap();
        db.put_cf(leaves, 3u64.to_be_bytes(), a).unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("ledger leaf", "2"));
}

#[test]
fn head_re_signed_with_another_key() {
    let (dir, _batch, vkey) = two_blocks();
    tamper(dir.path(), |db| {
        let heads = cf(db, layout::LEDGER_HEADS);
        let note =
            String::from_utf8(db.get_cf(heads, 1u64.to_be_bytes()).unwrap().unwrap()).unwrap();
        let body = note.split("\n\n").next().unwrap().to_owned() + "\n";
        let cp = Checkpoint::parse(&body).unwrap();
        let forger =
            NoteSigner::new(&cp.origin, ed25519_dalek::SigningKey::from_bytes(&[7; 32])).unwrap();
        db.put_cf(
            heads,
            1u64.to_be_bytes(),
            forger.sign(&cp.to_text()).unwrap(),
        )
        .unwrap();
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("head", "1"));
    assert!(what.contains("signature"), "{what}");
}

#[test]
fn head_chain_broken() {
    let (dir, _batch, vkey) = two_blocks();
    tamper(dir.path(), |db| {
        db.delete_cf(cf(db, layout::LEDGER_HEADS), 0u64.to_be_bytes())
            .unwrap()
    });
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("head", "0"));
    assert!(what.contains("missing"), "{what}");
}

#[test]
fn heads_signed_after_the_node_key_was_replaced_fail_against_the_published_key() {
    let (dir, _batch, vkey) = two_blocks();
    // Whoever replaces the keyring signs with another node key (and loses the master key).
    for f in [
        hdg_storage::keyring::KEYRING_FILE,
        hdg_storage::keyring::NODE_PUB_FILE,
    ] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    hdg_storage::keyring::create(dir.path(), &keys()).unwrap();
    let mut forged = Store::open(dir.path(), true, &keys()).unwrap();
    assert_ne!(forged.vkey(), vkey);
    forged.commit(&[obs(9, "4548-4", 60, 1)], t(3)).unwrap();
    drop(forged);
    let (kind, id, what) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id.as_str()), ("head", "2"));
    assert!(what.contains("signature"), "{what}");
}

/// An abort's stored reason (which names the parties) cannot be rewritten to blame others.
#[test]
fn abort_reason_rewritten() {
    let (dir, _, vkey) = two_blocks();
    let reason = "reveal: P1 found that what P0 sent disagrees with the copy P2 holds";
    let leaf = {
        let mut store = Store::open(dir.path(), false, &keys()).unwrap();
        let (leaf, _) = store.anchor_abort([7; 32], reason, [9; 32], t(3)).unwrap();
        assert_eq!(store.entry_text(leaf).unwrap().as_deref(), Some(reason));
        store
            .verify(&NoteVerifier::from_vkey(&vkey).unwrap())
            .unwrap();
        leaf
    };
    tamper(dir.path(), |db| {
        let other = reason
            .replace("P0 sent", "P2 sent")
            .replace("P2 holds", "P0 holds");
        db.put_cf(cf(db, layout::ENTRY_TEXT), leaf.to_be_bytes(), other)
            .unwrap();
    });
    let (kind, id, _) = verify_fails(dir.path(), &vkey);
    assert_eq!((kind.as_str(), id), ("abort", leaf.to_string()));
}
