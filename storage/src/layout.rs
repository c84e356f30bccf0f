//! The on-disk layout: column family names and the ordered byte encodings of their keys.
//!
//! Keys sort the way queries scan them: an indicator's observations by effective time, a
//! patient's observations by indicator then time. Times are i64 milliseconds stored big-endian
//! with the sign bit flipped, so byte order equals numeric order.

use hdg_schema::{Pseudonym, RecordHandle, Timestamp};

/// record handle -> [`crate::record::StoredRecord`] bytes (patient, leaf index, sealed body).
///
/// Every key of this node's own records names them by handle ([`RecordHandle`]: a keyed hash of
/// the record id), never by id: an id is a hash of low-entropy content.
pub const RECORDS: &str = "records";
/// (indicator, effective, handle) -> ().
pub const BY_INDICATOR: &str = "by_indicator";
/// (patient, indicator, effective, handle) -> ().
pub const BY_PATIENT: &str = "by_patient";
/// old handle -> handle of the observation that supersedes it.
pub const SUPERSEDED_BY: &str = "superseded_by";
/// leaf index (u64 BE) -> ledger entry bytes (the Merkle leaf data).
pub const LEDGER_LEAVES: &str = "ledger_leaves";
/// (level u8, index u64 BE) -> hash of that perfect subtree.
pub const LEDGER_NODES: &str = "ledger_nodes";
/// block height (u64 BE) -> signed checkpoint note text.
pub const LEDGER_HEADS: &str = "ledger_heads";
/// patient pseudonym -> wrapped data key, or [`ERASED`] once shredded.
pub const KEYS: &str = "keys";
/// Singletons: the ledger frontier, the origin name.
pub const META: &str = "meta";
/// (indicator, UTC day, record handle) -> this party's sealed share pair (see `crate::shares`);
/// same key encoding as [`BY_INDICATOR`], with the effective time coarsened to its day.
pub const SHARES: &str = "shares";
/// Retired in layout 3 (it was record handle -> [`SHARES`] key, for the duplicate check and
/// erasure): opening a layout-2 store moves what erasure needs into [`SHARE_PATIENTS`] and empties
/// it. The family stays so RocksDB opens stores that have it; `verify` refuses an entry in it.
pub const SHARE_IDS: &str = "share_ids";
/// (patient tag, [`SHARES`] key) -> (): a patient's rows, for their erasure
/// ([`share_patient_key`]). The tag is a keyed hash of the pseudonym (`Store::patient_tag`), so
/// the index names no patient.
pub const SHARE_PATIENTS: &str = "share_patients";
/// patient tag -> leaf index (u64 BE) of the erasure of the patient's rows here: rows of an
/// erased patient that arrive later are dropped, never stored.
pub const SHARES_ERASED: &str = "shares_erased";
/// [`delivery_key`] (peer node, request digest) -> the erasure request (JSON) this node still
/// has to deliver to that peer.
pub const ERASURE_OUTBOX: &str = "erasure_outbox";
/// share receipt leaf index (u64 BE) -> manifest of the rows it anchors (keys and value digests).
pub const SHARE_RECEIPTS: &str = "share_receipts";
/// leaf index of a local record (u64 BE) -> record handle: its value still has to be
/// secret-shared.
pub const OUTBOX: &str = "outbox";
/// (patient pseudonym, leaf index u64 BE) -> record handle: a value held back until a consent
/// covers it (then moved to [`OUTBOX`]).
pub const HELD: &str = "held";
/// A peer log's ed25519 key -> the last signed checkpoint note this node cosigned for it.
pub const WITNESSED: &str = "witnessed";
/// (log key, SHA-256 of the presented note) -> fork evidence (see `crate::witness`).
pub const FORKS: &str = "forks";
/// (height u64 BE, witness key) -> that witness's cosignature line on this node's head.
pub const COSIGNATURES: &str = "cosignatures";
/// consent id -> the patient's signed consent request (see `crate::consents`).
pub const CONSENTS: &str = "consents";
/// [`delivery_key`] (peer node, consent id) -> (): a consent this node still has to deliver to
/// that peer.
pub const CONSENT_OUTBOX: &str = "consent_outbox";
/// (patient pseudonym, leaf index u64 BE) -> (): ledger entries that concern the patient besides
/// their records (consents, queries that selected their rows, raw accesses); see `crate::patient_log`.
pub const PATIENT_LOG: &str = "patient_log";
/// leaf index (u64 BE) of a query or raw access -> its text (see `crate::patient_log`).
pub const ENTRY_TEXT: &str = "entry_text";
/// request digest -> (leaf index u64 BE, approved registry change JSON); see
/// `crate::registry_log`.
pub const REGISTRY_CHANGES: &str = "registry_changes";
/// (request time, signer, nonce) -> (): the signed requests this node accepted within the
/// clock-skew window, so a replay after a restart is still refused (see `crate::replay_log`).
/// The time is encoded as in [`time_key`]; entries older than the window are deleted.
pub const REPLAY: &str = "replay";
/// (researcher key, period u64 BE) -> privacy loss spent in that period (nano-rho of zCDP,
/// u64 BE), charged in the same write as the query's ledger entry (see `crate::privacy_spent`).
pub const PRIVACY_SPENT: &str = "privacy_spent";
/// node-keyed pseudonym of a patient reference -> (leaf index u64 BE, 1 enrolled / 0 unenrolled,
/// patient key): the reference's current link (see `crate::enrolment_log`).
pub const ENROLMENTS: &str = "enrolments";

/// Every column family, in the order they are opened.
pub const ALL: [&str; 28] = [
    RECORDS,
    BY_INDICATOR,
    BY_PATIENT,
    SUPERSEDED_BY,
    LEDGER_LEAVES,
    LEDGER_NODES,
    LEDGER_HEADS,
    KEYS,
    META,
    SHARES,
    SHARE_IDS,
    SHARE_RECEIPTS,
    OUTBOX,
    WITNESSED,
    FORKS,
    COSIGNATURES,
    CONSENTS,
    PATIENT_LOG,
    ENTRY_TEXT,
    REGISTRY_CHANGES,
    HELD,
    CONSENT_OUTBOX,
    SHARE_PATIENTS,
    SHARES_ERASED,
    ERASURE_OUTBOX,
    REPLAY,
    PRIVACY_SPENT,
    ENROLMENTS,
];

/// Tombstone left in [`KEYS`] when a patient's data key is destroyed.
pub const ERASED: &[u8] = b"erased";
/// [`META`] key of the serialised ledger frontier.
pub const META_FRONTIER: &[u8] = b"frontier";
/// [`META`] key of the log's origin line.
pub const META_ORIGIN: &[u8] = b"origin";
/// [`META`] key of the on-disk layout version (one byte).
pub const META_LAYOUT: &[u8] = b"layout";
/// [`META`] key of the key ranges an erasure deleted and has not yet compacted away.
pub const META_COMPACTION: &[u8] = b"erasure compaction";

/// The key of a delivery an outbox owes a peer ([`CONSENT_OUTBOX`], [`ERASURE_OUTBOX`]): the
/// peer's node id (u16 BE), then the consent id or request digest.
pub fn delivery_key(node: u16, id: &[u8; 32]) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..2].copy_from_slice(&node.to_be_bytes());
    k[2..].copy_from_slice(id);
    k
}

/// The (peer node, id) of a [`delivery_key`]. A 33-byte key is the form written before
/// clusters had node ids: a party index byte, which in the three-node layout is the node id.
pub fn decode_delivery_key(k: &[u8]) -> Option<(u16, [u8; 32])> {
    match k.len() {
        34 => Some((u16::from_be_bytes([k[0], k[1]]), k[2..].try_into().ok()?)),
        33 => Some((u16::from(k[0]), k[1..].try_into().ok()?)),
        _ => None,
    }
}

/// Every key a delivery to `node` of `id` may be stored under: the current form, and the
/// earlier party-index form where the node id fits one byte (deleting a delivery deletes
/// both, so one queued before the change is not delivered forever).
pub fn delivery_keys(node: u16, id: &[u8; 32]) -> Vec<Vec<u8>> {
    let mut keys = vec![delivery_key(node, id).to_vec()];
    if let Ok(party) = u8::try_from(node) {
        let mut old = vec![party];
        old.extend_from_slice(id);
        keys.push(old);
    }
    keys
}

/// Order-preserving encoding of a signed time: big-endian milliseconds, so keys sort by time.
pub fn time_key(t: Timestamp) -> [u8; 8] {
    ((t.0 as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`time_key`].
pub fn time_from_key(b: [u8; 8]) -> Timestamp {
    Timestamp((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// Length-prefixed indicator code (codes are short ASCII; longer ones are refused upstream).
fn push_indicator(out: &mut Vec<u8>, indicator: &str) {
    let len = u8::try_from(indicator.len()).expect("indicator codes are shorter than 256 bytes");
    out.push(len);
    out.extend_from_slice(indicator.as_bytes());
}

/// Prefix of every [`BY_INDICATOR`] key of one indicator.
pub fn indicator_prefix(indicator: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + indicator.len() + 40);
    push_indicator(&mut k, indicator);
    k
}

/// Key in [`BY_INDICATOR`].
pub fn by_indicator_key(indicator: &str, effective: Timestamp, id: &RecordHandle) -> Vec<u8> {
    let mut k = indicator_prefix(indicator);
    k.extend_from_slice(&time_key(effective));
    k.extend_from_slice(&id.0);
    k
}

/// Key in [`SHARES`]: the same ordered encoding as [`BY_INDICATOR`] with the day as the time, so
/// an indicator's shares scan by day then handle.
pub fn share_key(indicator: &str, effective: Timestamp, id: &RecordHandle) -> Vec<u8> {
    by_indicator_key(indicator, effective, id)
}

/// Key in [`SHARE_PATIENTS`]: the patient's tag, then the row's [`SHARES`] key.
pub fn share_patient_key(tag: &[u8; 32], share_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + share_key.len());
    k.extend_from_slice(tag);
    k.extend_from_slice(share_key);
    k
}

/// Key in [`BY_PATIENT`]; `patient_prefix` is its first 32 bytes.
pub fn by_patient_key(
    patient: &Pseudonym,
    indicator: &str,
    effective: Timestamp,
    id: &RecordHandle,
) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + 1 + indicator.len() + 40);
    k.extend_from_slice(&patient.0);
    push_indicator(&mut k, indicator);
    k.extend_from_slice(&time_key(effective));
    k.extend_from_slice(&id.0);
    k
}

/// The parts of an index key after its prefix: (indicator, effective, id).
pub type IndexTail = (String, Timestamp, RecordHandle);

/// Decodes `len | indicator | time | handle` (a [`BY_INDICATOR`] or [`SHARES`] key, or a
/// [`BY_PATIENT`] key after its 32-byte patient prefix).
pub fn decode_index_tail(k: &[u8]) -> Option<IndexTail> {
    let (&len, rest) = k.split_first()?;
    let len = usize::from(len);
    if rest.len() != len + 8 + 32 {
        return None;
    }
    let indicator = std::str::from_utf8(&rest[..len]).ok()?.to_owned();
    let time = time_from_key(rest[len..len + 8].try_into().ok()?);
    let id = RecordHandle(rest[len + 8..].try_into().ok()?);
    Some((indicator, time, id))
}

/// Key in [`LEDGER_NODES`].
pub fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delivery_keys_read_back_in_both_forms(node: u16, id: [u8; 32]) {
            prop_assert_eq!(decode_delivery_key(&delivery_key(node, &id)), Some((node, id)));
            let keys = delivery_keys(node, &id);
            prop_assert_eq!(keys.len(), if node < 256 { 2 } else { 1 });
            for k in keys {
                prop_assert_eq!(decode_delivery_key(&k), Some((node, id)));
            }
        }

        #[test]
        fn time_keys_sort_like_times(a: i64, b: i64) {
            prop_assert_eq!(time_key(Timestamp(a)).cmp(&time_key(Timestamp(b))), a.cmp(&b));
            prop_assert_eq!(time_from_key(time_key(Timestamp(a))), Timestamp(a));
        }

        #[test]
        fn share_keys_sort_like_indicator_time_id(
            a in ("[0-9]{1,6}-[0-9]", any::<i64>(), any::<[u8; 32]>()),
            b in ("[0-9]{1,6}-[0-9]", any::<i64>(), any::<[u8; 32]>()),
        ) {
            let ka = share_key(&a.0, Timestamp(a.1), &RecordHandle(a.2));
            let kb = share_key(&b.0, Timestamp(b.1), &RecordHandle(b.2));
            // Within one indicator, keys order by (time, id); across indicators they never interleave.
            if a.0 == b.0 {
                prop_assert_eq!(ka.cmp(&kb), (a.1, a.2).cmp(&(b.1, b.2)));
            } else {
                prop_assert!(!ka.starts_with(&indicator_prefix(&b.0)));
            }
            prop_assert_eq!(decode_index_tail(&ka), Some((a.0, Timestamp(a.1), RecordHandle(a.2))));
        }

        #[test]
        fn index_keys_round_trip(code in "[0-9]{1,6}-[0-9]", t: i64, id: [u8; 32]) {
            let k = by_indicator_key(&code, Timestamp(t), &RecordHandle(id));
            prop_assert_eq!(decode_index_tail(&k), Some((code.clone(), Timestamp(t), RecordHandle(id))));
            let pk = by_patient_key(&Pseudonym([3; 32]), &code, Timestamp(t), &RecordHandle(id));
            prop_assert_eq!(decode_index_tail(&pk[32..]), Some((code, Timestamp(t), RecordHandle(id))));
        }
    }

    #[test]
    fn one_indicator_prefix_never_covers_another() {
        // "1-1" must not be a prefix of "1-10" keys: the length byte separates them.
        let k = by_indicator_key("1-10", Timestamp(0), &RecordHandle([0; 32]));
        assert!(!k.starts_with(&indicator_prefix("1-1")));
    }
}
