//! The outbox: numeric observations committed with `commit_with_outbox` wait, durably and oldest
//! first, until `outbox_done` says every party has its shares.

mod common;

use common::*;
use hdg_ledger::NoteVerifier;
use hdg_schema::{
    Observation, ObservationData, Pseudonym, RecordHandle, RecordId, Status, Timestamp, Value,
};
use hdg_storage::{Sharing, Store, VerifyError, layout};
use proptest::prelude::*;
use rocksdb::{DB, Options};

/// A free-text observation: stored, but never secret-shared.
fn text_obs(p: u8, t: i64) -> Observation {
    Observation::new(ObservationData {
        patient: Pseudonym([p; 32]),
        indicator: "72166-2".into(),
        value: Value::Text("never smoker".into()),
        effective: Timestamp(t),
        source: "test device".into(),
        recorded: Timestamp(t),
        status: Status::Final,
        supersedes: None,
    })
}

/// The pending observations (the outbox also names each by its handle and by the leaf that
/// anchors its record: both checked here).
fn pending(store: &mut Store, limit: usize) -> Vec<Observation> {
    store
        .outbox_pending(limit)
        .unwrap()
        .into_iter()
        .map(|p| {
            assert_eq!(p.handle, store.handle(&p.observation.id()));
            let entry = hdg_ledger::LedgerEntry::from_bytes(&store.leaf(p.leaf_index).unwrap());
            assert_eq!(entry.unwrap().subject, p.handle.0);
            p.observation
        })
        .collect()
}

/// The outbox entries (leaf indexes) of `obs`, as the outbox names them.
fn entries_of(store: &mut Store, obs: &[Observation]) -> Vec<u64> {
    let handles: Vec<RecordHandle> = obs.iter().map(|o| store.handle(&o.id())).collect();
    store
        .outbox_pending(usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|p| handles.contains(&p.handle))
        .map(|p| p.leaf_index)
        .collect()
}

fn numeric(obs: &[Observation]) -> Vec<Observation> {
    obs.iter()
        .filter(|o| o.value.is_numeric())
        .cloned()
        .collect()
}

#[test]
fn pending_equals_the_numeric_observations_committed_after_reopen() {
    let (dir, mut store) = fresh();
    let mut first = cohort(3);
    first.insert(2, text_obs(1, 5));
    let second: Vec<Observation> = (0..6)
        .map(|i| obs(5, "4548-4", 60 + i, 10_000 + i))
        .collect();
    store.commit_with_outbox(&first, t(1)).unwrap();
    store.commit(&[obs(7, "4548-4", 80, 3)], t(2)).unwrap();
    store.commit_with_outbox(&second, t(3)).unwrap();
    drop(store);

    let mut store = Store::open(dir.path(), false, &keys()).unwrap();
    let mut expected = numeric(&first);
    expected.extend(numeric(&second));
    assert_eq!(expected.len(), first.len() - 1 + second.len());
    assert_eq!(pending(&mut store, usize::MAX), expected, "oldest first");
    assert_eq!(store.outbox_len().unwrap(), expected.len() as u64);
    assert_eq!(pending(&mut store, 4), expected[..4]);
    store
        .verify(&NoteVerifier::from_vkey(&store.vkey()).unwrap())
        .unwrap();
}

/// Values the same store handle just committed are handed on from memory once; a second
/// scan (a retry) and a reopened store read the same values back from their records.
#[test]
fn values_handed_on_from_memory_equal_the_ones_read_back() {
    let (dir, mut store) = fresh();
    let batch = cohort(5);
    store.commit_with_outbox(&batch, t(1)).unwrap();
    let expected = numeric(&batch);
    assert_eq!(
        pending(&mut store, 3),
        expected[..3],
        "from memory, oldest first"
    );
    assert_eq!(
        pending(&mut store, usize::MAX),
        expected,
        "a retry reads back"
    );
    assert_eq!(pending(&mut store, usize::MAX), expected);
    drop(store);
    let mut store = Store::open(dir.path(), false, &keys()).unwrap();
    assert_eq!(pending(&mut store, usize::MAX), expected, "after a reopen");
}

#[test]
fn done_removes_entries_durably_and_the_rest_stay_pending() {
    let (dir, mut store) = fresh();
    let batch = cohort(4);
    store.commit_with_outbox(&batch, t(1)).unwrap();
    let shared: Vec<Observation> = batch.iter().step_by(2).cloned().collect();
    let done = entries_of(&mut store, &shared);
    assert_eq!(done.len(), shared.len());
    store.outbox_done(&done).unwrap();
    store.outbox_done(&done).unwrap(); // repeating is harmless
    store.outbox_done(&[u64::MAX]).unwrap(); // indexes without an entry are ignored
    assert_eq!(
        store.outbox_len().unwrap(),
        (batch.len() - done.len()) as u64
    );
    drop(store);

    let mut store = Store::open(dir.path(), false, &keys()).unwrap();
    let rest: Vec<Observation> = batch.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(pending(&mut store, usize::MAX), rest);

    // Re-ingesting the same observations queues nothing again: they are duplicates.
    let again = store.commit_with_outbox(&batch, t(2)).unwrap();
    assert_eq!(again.duplicates.len(), batch.len());
    assert_eq!(pending(&mut store, usize::MAX), rest);

    let rest = entries_of(&mut store, &rest);
    store.outbox_done(&rest).unwrap();
    assert!(store.outbox_pending(usize::MAX).unwrap().is_empty());
    assert_eq!(store.outbox_len().unwrap(), 0);
}

#[test]
fn a_plain_commit_queues_nothing() {
    let (_dir, mut store) = fresh();
    store.commit(&cohort(3), t(1)).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0);
}

#[test]
fn erasing_a_patient_drops_their_pending_values() {
    let (_dir, mut store) = fresh();
    let batch = cohort(3);
    store.commit_with_outbox(&batch, t(1)).unwrap();
    erase(&mut store, Pseudonym([2; 32]), "test", t(2));
    let kept: Vec<Observation> = batch
        .iter()
        .filter(|o| o.patient != Pseudonym([2; 32]))
        .cloned()
        .collect();
    assert_eq!(pending(&mut store, usize::MAX), kept);
    assert_eq!(store.outbox_len().unwrap(), kept.len() as u64);
    store
        .verify(&NoteVerifier::from_vkey(&store.vkey()).unwrap())
        .unwrap();
}

#[test]
fn an_outbox_entry_naming_another_record_is_caught() {
    let (dir, mut store) = fresh();
    let batch = cohort(2);
    store.commit_with_outbox(&batch, t(1)).unwrap();
    let vkey = store.vkey();
    drop(store);
    {
        let db = DB::open_cf(&Options::default(), dir.path().join("db"), layout::ALL).unwrap();
        let outbox = db.cf_handle(layout::OUTBOX).unwrap();
        db.put_cf(outbox, 0u64.to_be_bytes(), batch[1].id().0)
            .unwrap();
    }
    let store = Store::open(dir.path(), false, &keys()).unwrap();
    match store.verify(&NoteVerifier::from_vkey(&vkey).unwrap()) {
        Err(VerifyError::Bad { kind, id, .. }) => {
            assert_eq!((kind, id.as_str()), ("outbox entry", "0000000000000000"))
        }
        other => panic!("verify did not name the outbox entry: {other:?}"),
    }
}

#[test]
fn held_values_wait_outside_the_outbox_until_released_and_never_ones_stay_local() {
    let (dir, mut store) = fresh();
    // Patient 1's values are held, patient 2's kept local, patient 3's shared at once.
    let batch: Vec<Observation> = [1u8, 2, 3]
        .iter()
        .flat_map(|p| {
            (0..4).map(move |i| obs(*p, "4548-4", 60 + i64::from(*p) * 10 + i, 1_000 + i))
        })
        .collect();
    let decide = |o: &Observation| match o.patient.0[0] {
        1 => Sharing::Held,
        2 => Sharing::Never,
        _ => Sharing::Now,
    };
    let source = [0x5c; 32];
    let receipt = store.commit_sharing(&batch, t(1), source, &decide).unwrap();
    let entry =
        hdg_ledger::LedgerEntry::from_bytes(&store.leaf(receipt.records[0].leaf_index).unwrap())
            .unwrap();
    assert_eq!(
        entry.actor, source,
        "the ledger names the source that wrote the record"
    );
    let pending_patients = |s: &mut Store| -> Vec<u8> {
        s.outbox_pending(100)
            .unwrap()
            .iter()
            .map(|p| p.observation.patient.0[0])
            .collect()
    };
    assert_eq!(pending_patients(&mut store), vec![3; 4]);
    // A consent covering two of patient 1's values releases exactly those, durably.
    let covered: Vec<RecordId> = batch[..2].iter().map(|o| o.id()).collect();
    let released = store
        .release_held(&Pseudonym([1; 32]), &|o| covered.contains(&o.id()))
        .unwrap();
    assert_eq!(released, 2);
    assert_eq!(
        store.release_held(&Pseudonym([2; 32]), &|_| true).unwrap(),
        0
    );
    drop(store);
    let mut store = Store::open(dir.path(), false, &keys()).unwrap();
    let mut pending = pending_patients(&mut store);
    pending.sort();
    assert_eq!(pending, vec![1, 1, 3, 3, 3, 3]);
    // The other two stay held until a later consent covers them.
    assert_eq!(
        store.release_held(&Pseudonym([1; 32]), &|_| true).unwrap(),
        2
    );
    assert_eq!(store.outbox_len().unwrap(), 8);
}

/// One step of [`the_kept_count_and_the_scan_floor_agree_with_the_outbox`].
#[derive(Clone, Debug)]
enum Step {
    /// Commit `n` new values of patient `p`, queued now or held for a consent.
    Commit { p: u8, n: usize, held: bool },
    /// A consent of patient `p` releases every held value.
    Release { p: u8 },
    /// The oldest `k` pending values were shared (some handles twice, as a retry would).
    Shared { k: usize },
    /// Patient `p` is erased.
    Erase { p: u8 },
    /// The store is closed and opened again.
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..4, 1usize..5, any::<bool>()).prop_map(|(p, n, held)| Step::Commit { p, n, held }),
        2 => (1u8..4).prop_map(|p| Step::Release { p }),
        3 => (0usize..6).prop_map(|k| Step::Shared { k }),
        1 => (1u8..4).prop_map(|p| Step::Erase { p }),
        1 => Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The outbox's count is kept by every write instead of counted, and its scan starts at
    /// a floor instead of the first key: under any order of commits, releases from hold,
    /// shared batches (repeated), erasures and reopens, the count equals what a scan finds,
    /// the scan finds exactly the values still to share (oldest first), and a reopened store,
    /// which counts and scans from the start, agrees.
    #[test]
    fn the_kept_count_and_the_scan_floor_agree_with_the_outbox(steps in prop::collection::vec(step(), 1..24)) {
        let (dir, mut store) = fresh();
        // The model: (leaf, patient, handle) still to share, oldest first, and those held.
        let mut queued: Vec<(u64, u8, RecordHandle)> = Vec::new();
        let mut held: Vec<(u64, u8, RecordHandle)> = Vec::new();
        let mut clock = 1_000i64;
        for s in steps {
            match s {
                Step::Commit { p, n, held: hold } => {
                    let batch: Vec<Observation> = (0..n)
                        .map(|_| {
                            clock += 1;
                            obs(p, "4548-4", 50 + clock % 40, clock)
                        })
                        .collect();
                    let decide = |_: &Observation| if hold { Sharing::Held } else { Sharing::Now };
                    let r = store.commit_sharing(&batch, t(clock), [1; 32], &decide).unwrap();
                    let new = r.records.iter().map(|a| (a.leaf_index, p, a.handle));
                    if hold { held.extend(new) } else { queued.extend(new) }
                }
                Step::Release { p } => {
                    let released = store.release_held(&Pseudonym([p; 32]), &|_| true).unwrap();
                    let before = held.len();
                    queued.extend(held.iter().filter(|(_, q, _)| *q == p));
                    held.retain(|(_, q, _)| *q != p);
                    prop_assert_eq!(released, before - held.len());
                    // Released values keep their leaf order among the queued ones.
                    queued.sort();
                }
                Step::Shared { k } => {
                    let k = k.min(queued.len());
                    let mut done: Vec<u64> = queued.drain(..k).map(|(leaf, _, _)| leaf).collect();
                    if let Some(first) = done.first().copied() {
                        done.push(first);
                    }
                    store.outbox_done(&done).unwrap();
                }
                Step::Erase { p } => {
                    erase(&mut store, Pseudonym([p; 32]), "test", t(clock));
                    queued.retain(|(_, q, _)| *q != p);
                    held.retain(|(_, q, _)| *q != p);
                }
                Step::Reopen => {
                    drop(store);
                    store = Store::open(dir.path(), false, &keys()).unwrap();
                }
            }
            let scanned: Vec<RecordHandle> =
                store.outbox_pending(usize::MAX).unwrap().into_iter().map(|p| p.handle).collect();
            let expected: Vec<RecordHandle> = queued.iter().map(|(_, _, h)| *h).collect();
            prop_assert_eq!(scanned, expected);
            prop_assert_eq!(store.outbox_len().unwrap(), queued.len() as u64);
        }
        drop(store);
        let mut store = Store::open(dir.path(), false, &keys()).unwrap();
        prop_assert_eq!(store.outbox_len().unwrap(), queued.len() as u64);
        prop_assert_eq!(store.outbox_pending(usize::MAX).unwrap().len(), queued.len());
    }
}
