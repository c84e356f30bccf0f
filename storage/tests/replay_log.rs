//! The replay log survives a restart, forgets by time, and never keeps a closed store open.

mod common;

use common::{fresh, keys};
use hdg_storage::{ReplayEntry, Store, StoreError};

fn entry(time: i64, who: u8) -> ReplayEntry {
    ReplayEntry {
        time,
        signer: [who; 32],
        nonce: vec![who; 16],
    }
}

#[test]
fn remembered_requests_are_there_after_a_reopen_and_forgotten_by_time() {
    let (dir, store) = fresh();
    let log = store.replay_log();
    for (t, who) in [(1_000, 1), (2_000, 2), (3_000, 3)] {
        log.remember(&entry(t, who)).unwrap();
    }
    drop(store);
    // The log does not keep the closed store open, and says so when used.
    assert!(matches!(
        log.remember(&entry(4_000, 4)),
        Err(StoreError::Closed)
    ));

    let store = Store::open(dir.path(), false, &keys()).unwrap();
    let log = store.replay_log();
    assert_eq!(
        log.since(0).unwrap(),
        vec![entry(1_000, 1), entry(2_000, 2), entry(3_000, 3)]
    );
    assert_eq!(
        log.since(2_000).unwrap(),
        vec![entry(2_000, 2), entry(3_000, 3)]
    );
    log.forget_before(3_000).unwrap();
    assert_eq!(log.since(i64::MIN).unwrap(), vec![entry(3_000, 3)]);
}
