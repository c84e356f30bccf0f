//! Opening a store and committing observations: one RocksDB `WriteBatch` per commit carries the
//! sealed records, their index entries, their ledger leaves and nodes, and the new signed head, and
//! is acknowledged only after the write-ahead log is synced.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use hdg_ledger::{
    Checkpoint, EntryKind, Frontier, Hash, LedgerEntry, NoteSigner, NoteVerifier, leaf_hash,
};
use hdg_schema::{Observation, Pseudonym, RecordHandle, RecordId, Timestamp};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::keyring::{self, KeySource};
use crate::keys::{self, SecretKey};
use crate::layout;
use crate::outbox::Sharing;
use crate::record::StoredRecord;
use crate::seal;
use crate::share_value::ShareCipher;

/// A node's embedded store: records, indexes, ledger state and wrapped keys in one RocksDB.
pub struct Store {
    /// Shared with work that runs outside the store's lock (an erasure's compaction).
    pub(crate) db: Arc<DB>,
    master: SecretKey,
    /// Turns record ids into handles (derived from the master key).
    handle_key: SecretKey,
    /// Turns pseudonyms into the tags of the share indexes (derived from the master key).
    tag_key: SecretKey,
    pub(crate) signer: NoteSigner,
    pub(crate) node_key: SigningKey,
    pub(crate) origin: String,
    pub(crate) frontier: Frontier,
    pub(crate) height: u64,
    /// Hash of the newest head's checkpoint text, chained into the next head (`prev`).
    last_head: Option<Hash>,
    data_keys: HashMap<Pseudonym, SecretKey>,
    /// Benchmarks only: keep a copy of each commit's serialised write batch in its receipt.
    keep_batches: bool,
    /// How many consent records this handle wrote (see [`Store::consent_generation`]).
    pub(crate) consent_generation: u64,
    /// Entries in the outbox, counted once at open and kept by every write that adds or
    /// removes some ([`Store::outbox_len`] is read after every ingest and every shared batch).
    pub(crate) outbox_entries: u64,
    /// No outbox key below this one is live (see [`Store::outbox_pending`]).
    pub(crate) outbox_floor: u64,
    /// Values this handle committed to the outbox, by leaf index, so that
    /// [`Store::outbox_pending`] hands them on without reading back and opening their records
    /// (the outbox column family stays the list of what is owed; this only saves the read).
    pub(crate) just_queued: crate::outbox::JustQueued,
}

/// One record anchored by a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    /// The record's id.
    pub id: RecordId,
    /// Its handle (its name in the store and the ledger).
    pub handle: RecordHandle,
    /// Index of its ledger leaf.
    pub leaf_index: u64,
}

/// What a durable commit did.
#[derive(Debug)]
pub struct CommitReceipt {
    /// Ledger size after the commit.
    pub tree_size: u64,
    /// Height of the block this commit closed (`None` when nothing new was written).
    pub height: Option<u64>,
    /// New records with their leaf indexes, in input order.
    pub records: Vec<Anchored>,
    /// Observations already stored (or repeated in the batch): skipped, so re-ingest is idempotent.
    pub duplicates: Vec<RecordId>,
    /// Observations refused (e.g. a correction of an unknown record), with the reason.
    pub refused: Vec<(RecordId, StoreError)>,
    /// The signed head closing this commit (C2SP signed note), when one was written.
    pub checkpoint: Option<String>,
    /// Bytes of keys and values in the commit's write batch (the ingest benchmark's baseline
    /// writes the same volume raw).
    pub bytes_written: usize,
    /// Key-value entries in the commit's write batch.
    pub entries_written: usize,
    /// The serialised write batch, when [`Store::keep_write_batches`] is on (benchmarks replay it
    /// into a bare RocksDB to measure raw writes of exactly the same bytes).
    pub write_batch: Option<Vec<u8>>,
}

impl Store {
    /// Opens the store in `dir`, unlocking its keyring with `keys` (a key kept outside the
    /// folder, see [`crate::keyring`]); with `create`, makes the folder, the keyring and the
    /// database when missing. A wrong key is refused ([`StoreError::WrongKey`]), and so is a
    /// folder that still keeps plaintext key files ([`StoreError::PlaintextKeys`]).
    pub fn open(dir: &Path, create: bool, keys: &KeySource) -> Result<Store, StoreError> {
        keyring::refuse_plaintext_keys(dir)?;
        let has_db = dir.join("db").join("CURRENT").exists();
        let has_ring = keyring::exists(dir);
        if !create && !has_db {
            return Err(StoreError::NotInitialized(dir.to_path_buf()));
        }
        if create {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::KeyFile {
                path: dir.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        // Creation order: keyring, then database. Keys are only ever made for a folder with
        // neither: a database whose keyring went missing must fail, never get new keys.
        let ring = match (has_ring, has_db) {
            (true, _) => keyring::open(dir, keys)?,
            (false, false) => keyring::create(dir, keys)?,
            (false, true) => {
                return Err(StoreError::KeyFile {
                    path: dir.join(keyring::KEYRING_FILE),
                    reason:
                        "is missing, but the database exists: restore the keyring from its backup"
                            .into(),
                });
            }
        };
        let master = ring.master.clone();
        let node_key = ring.node_key();
        keyring::restore_public_key(dir, &node_key)?;

        let mut opts = Options::default();
        opts.create_if_missing(create);
        // A crash while the column families were being created leaves some missing: creating the
        // missing (empty) ones on every open finishes that step.
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_enable_pipelined_write(true);
        // One writer per store: the single-threaded memtable insert path is the faster one.
        opts.set_allow_concurrent_memtable_write(false);
        let cfs = layout::ALL
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, column_family_options(name)));
        let db = Arc::new(DB::open_cf_descriptors(&opts, dir.join("db"), cfs)?);
        check_layout(&db)?;
        // An erasure whose compaction did not finish (a crash) finishes it now.
        if let Some(c) = crate::erasure::Compaction::pending(&db)? {
            c.run()?;
        }

        let origin = match db.get_cf(cf(&db, layout::META), layout::META_ORIGIN)? {
            Some(o) => String::from_utf8(o).map_err(|_| corrupt("origin", "not UTF-8"))?,
            None => {
                let o = default_origin(&node_key);
                db.put_cf(cf(&db, layout::META), layout::META_ORIGIN, o.as_bytes())?;
                o
            }
        };
        let frontier = match db.get_cf(cf(&db, layout::META), layout::META_FRONTIER)? {
            Some(b) => {
                Frontier::from_bytes(&b).map_err(|e| corrupt("ledger frontier", &e.to_string()))?
            }
            None => Frontier::new(),
        };
        let (height, last_head) = match last_head(&db)? {
            None => (0, None),
            Some((h, note)) => {
                let text = hdg_ledger::SignedNote::parse(&note)
                    .map_err(|e| corrupt(&format!("signed head {h}"), &e.to_string()))?
                    .text;
                let cp = Checkpoint::parse(&text)
                    .map_err(|e| corrupt(&format!("signed head {h}"), &e.to_string()))?;
                (h + 1, Some(cp.text_hash()))
            }
        };
        let signer = NoteSigner::new(&origin, node_key.clone())
            .map_err(|e| corrupt("origin", &e.to_string()))?;
        let outbox_entries = crate::outbox::count_outbox(&db)?;
        Ok(Store {
            db,
            handle_key: SecretKey::derived(&master, HANDLE_CONTEXT),
            tag_key: SecretKey::derived(&master, TAG_CONTEXT),
            master,
            signer,
            node_key,
            origin,
            frontier,
            height,
            last_head,
            data_keys: HashMap::new(),
            keep_batches: false,
            consent_generation: 0,
            outbox_entries,
            outbox_floor: 0,
            just_queued: Default::default(),
        })
    }

    /// The node's ed25519 identity (TLS, signed heads, cosignatures, signed answers).
    pub fn node_signing_key(&self) -> SigningKey {
        self.node_key.clone()
    }

    /// The handle of record `id` at this node: keyed BLAKE3 of the id under a key derived from
    /// the master key. Store keys, ledger entries and share rows name records by handle, so none
    /// of them is a hash of the record's content (see [`RecordHandle`]).
    pub fn handle(&self, id: &RecordId) -> RecordHandle {
        RecordHandle(*blake3::keyed_hash(self.handle_key.expose(), &id.0).as_bytes())
    }

    /// The log's origin line (also the note key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key of this node's signed heads, in the standard `name+keyhash+base64` form.
    pub fn vkey(&self) -> String {
        self.verifier().to_vkey()
    }

    /// The verifier of this node's signed heads.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The node-secret key that turns local patient references into pseudonyms (derived from the
    /// master key, so it never needs a file of its own).
    pub fn pseudonym_key(&self) -> [u8; 32] {
        blake3::derive_key("hdg 2026-11 patient pseudonym key v1", self.master.expose())
    }

    /// The key that seals this party's share pairs at rest (derived from the master key).
    fn share_sealing_key(&self) -> SecretKey {
        SecretKey::derived(&self.master, "hdg 2026-11 share sealing key v1")
    }

    /// The share rows' ciphers: version 3 under its own key, version 2 under the share
    /// sealing key (both derived from the master key).
    pub(crate) fn share_cipher(&self) -> ShareCipher {
        let v3 = SecretKey::derived(
            &self.master,
            "hdg 2026-12 share sealing key v3 aes-256-gcm-siv",
        );
        ShareCipher::new(&v3, &self.share_sealing_key())
    }

    /// The key of the patient tags in the share indexes (derived from the master key).
    pub(crate) fn share_patient_tag_key(&self) -> &SecretKey {
        &self.tag_key
    }

    /// The key this node splits its values into shares with, deterministically per record (so a
    /// retried sharing sends the same shares). Derived from the master key: secret, and sealed
    /// at rest with it.
    pub fn share_split_key(&self) -> SecretKey {
        SecretKey::derived(&self.master, "hdg 2026-11 share split key v1")
    }

    /// Benchmarks only: copy each commit's serialised write batch into its receipt, so the same
    /// bytes can be replayed into a bare RocksDB ([`crate::baseline::replay_write_batches`]).
    pub fn keep_write_batches(&mut self, on: bool) {
        self.keep_batches = on;
    }

    /// Number of ledger leaves.
    pub fn tree_size(&self) -> u64 {
        self.frontier.size()
    }

    /// Commits a batch of observations durably (WAL synced) and closes a ledger block.
    ///
    /// Already-stored observations are skipped as duplicates; a correction whose target is unknown,
    /// already superseded or another patient's is refused alone. Everything else in the batch is
    /// written atomically with its index entries, ledger leaves and the new signed head.
    pub fn commit(
        &mut self,
        obs: &[Observation],
        now: Timestamp,
    ) -> Result<CommitReceipt, StoreError> {
        self.commit_observations(obs, now, None, None)
    }

    /// [`Store::commit`], and with `outbox` every new numeric observation is queued for sharing,
    /// held back, or kept local as it decides (see [`Store::commit_sharing`]), inside the same
    /// write batch.
    /// `actor` is who wrote the records (a source's key), recorded in their ledger entries;
    /// `None` is this node itself (an offline import).
    pub(crate) fn commit_observations(
        &mut self,
        obs: &[Observation],
        now: Timestamp,
        actor: Option<[u8; 32]>,
        outbox: Option<&dyn Fn(&Observation) -> Sharing>,
    ) -> Result<CommitReceipt, StoreError> {
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let mut new_keys: HashMap<Pseudonym, SecretKey> = HashMap::new();
        let mut in_batch: HashMap<RecordId, (Pseudonym, Option<RecordId>)> = HashMap::new();
        let mut receipt = CommitReceipt {
            tree_size: frontier.size(),
            height: None,
            records: Vec::with_capacity(obs.len()),
            duplicates: Vec::new(),
            refused: Vec::new(),
            checkpoint: None,
            bytes_written: 0,
            entries_written: 0,
            write_batch: None,
        };
        let actor = actor.unwrap_or_else(|| self.node_key.verifying_key().to_bytes());
        let mut queued = Vec::new();

        let handles: Vec<RecordHandle> = obs.iter().map(|o| self.handle(&o.id())).collect();
        let stored = self.existing_records(&handles)?;
        let mut records = Vec::with_capacity(obs.len());
        let mut by_indicator = Vec::with_capacity(obs.len());
        let mut by_patient = Vec::with_capacity(obs.len());
        for (o, handle) in obs.iter().zip(handles) {
            if in_batch.contains_key(&o.id()) || stored.contains(&handle) {
                receipt.duplicates.push(o.id());
                continue;
            }
            if let Some(old) = o.supersedes {
                if let Err(e) = self.check_correction(o, &old, &in_batch) {
                    receipt.refused.push((o.id(), e));
                    continue;
                }
                batch.put_cf(
                    self.cf(layout::SUPERSEDED_BY),
                    self.handle(&old).0,
                    handle.0,
                );
            }
            let key = match self.data_key_for(&o.patient, &mut new_keys, &mut batch) {
                Ok(k) => k,
                Err(e @ StoreError::Erased(_)) => {
                    receipt.refused.push((o.id(), e));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let sealed = seal::seal(&key, &handle, &o.patient, &o.canonical_bytes());
            let entry = LedgerEntry {
                kind: if o.supersedes.is_some() {
                    EntryKind::Correction
                } else {
                    EntryKind::Record
                },
                subject: handle.0,
                content_hash: Sha256::digest(&sealed).into(),
                actor,
                time: now.0,
            };
            let leaf_index = frontier.size();
            append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
            let stored = StoredRecord {
                patient: o.patient,
                leaf_index,
                sealed,
            };
            records.push((handle.0, stored.to_bytes()));
            by_indicator.push(layout::by_indicator_key(&o.indicator, o.effective, &handle));
            by_patient.push(layout::by_patient_key(
                &o.patient,
                &o.indicator,
                o.effective,
                &handle,
            ));
            match outbox
                .filter(|_| o.value.is_numeric())
                .map(|decide| decide(o))
            {
                Some(Sharing::Now) => {
                    batch.put_cf(
                        self.cf(layout::OUTBOX),
                        crate::outbox::outbox_key(leaf_index),
                        handle.0,
                    );
                    queued.push((leaf_index, handle, o));
                }
                Some(Sharing::Held) => batch.put_cf(
                    self.cf(layout::HELD),
                    crate::outbox::held_key(&o.patient, leaf_index),
                    handle.0,
                ),
                Some(Sharing::Never) | None => {}
            }
            in_batch.insert(o.id(), (o.patient, o.supersedes));
            receipt.records.push(Anchored {
                id: o.id(),
                handle,
                leaf_index,
            });
        }

        if receipt.records.is_empty() {
            return Ok(receipt);
        }
        // The column families whose keys lead with the handle, the indicator or the patient,
        // which the batch visits out of order, go in key order: RocksDB's memtable then inserts
        // each next to the last instead of searching its whole skip list for every record.
        records.sort_unstable_by_key(|r| r.0);
        for (handle, stored) in &records {
            batch.put_cf(self.cf(layout::RECORDS), handle, stored);
        }
        by_indicator.sort_unstable();
        for key in &by_indicator {
            batch.put_cf(self.cf(layout::BY_INDICATOR), key, []);
        }
        by_patient.sort_unstable();
        for key in &by_patient {
            batch.put_cf(self.cf(layout::BY_PATIENT), key, []);
        }
        let head = self.close_block(&mut batch, &frontier, now);
        receipt.bytes_written = batch.size_in_bytes();
        receipt.entries_written = batch.len();
        if self.keep_batches {
            receipt.write_batch = Some(batch.data().to_vec());
        }
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        self.outbox_entries += queued.len() as u64;
        for (leaf_index, handle, o) in queued {
            self.just_queued.keep(leaf_index, handle, o);
        }
        self.data_keys.extend(new_keys);
        receipt.tree_size = self.frontier.size();
        receipt.height = Some(head.height);
        receipt.checkpoint = Some(head.note);
        Ok(receipt)
    }

    /// Anchors one entry that has no stored body of its own (a query, an access, a consent or a
    /// registry change: hashes only) and closes a block: one synced write. Returns the entry's leaf
    /// index and the new signed head. Records, corrections, erasures and share receipts have their
    /// own commit paths (their entries are checked against stored data) and are refused here.
    pub fn anchor(
        &mut self,
        kind: EntryKind,
        subject: [u8; 32],
        content_hash: [u8; 32],
        actor: [u8; 32],
        now: Timestamp,
    ) -> Result<(u64, String), StoreError> {
        if matches!(
            kind,
            EntryKind::Record
                | EntryKind::Correction
                | EntryKind::Erasure
                | EntryKind::ShareReceipt
        ) {
            return Err(StoreError::Ledger(format!(
                "{kind:?} entries are written by their own commit path, not anchored alone"
            )));
        }
        let entry = LedgerEntry {
            kind,
            subject,
            content_hash,
            actor,
            time: now.0,
        };
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let leaf_index = frontier.size();
        append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
        let head = self.close_block(&mut batch, &frontier, now);
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        Ok((leaf_index, head.note))
    }

    fn check_correction(
        &self,
        o: &Observation,
        old: &RecordId,
        in_batch: &HashMap<RecordId, (Pseudonym, Option<RecordId>)>,
    ) -> Result<(), StoreError> {
        let old_handle = self.handle(old);
        let old_patient = match in_batch.get(old) {
            Some((p, _)) => *p,
            None => {
                self.stored(&old_handle)?
                    .ok_or(StoreError::UnknownSuperseded {
                        id: o.id(),
                        old: *old,
                    })?
                    .patient
            }
        };
        if old_patient != o.patient {
            return Err(StoreError::CorrectionPatientMismatch {
                id: o.id(),
                old: *old,
            });
        }
        let later_in_batch = in_batch.iter().find(|(_, (_, s))| s.as_ref() == Some(old));
        if let Some((by, _)) = later_in_batch {
            return Err(StoreError::AlreadySuperseded { old: *old, by: *by });
        }
        if let Some(by) = self
            .db
            .get_cf(self.cf(layout::SUPERSEDED_BY), old_handle.0)?
        {
            let by = RecordHandle(
                by.as_slice()
                    .try_into()
                    .map_err(|_| corrupt("supersession", "bad handle"))?,
            );
            let by = self.get_handle(&by)?.id();
            return Err(StoreError::AlreadySuperseded { old: *old, by });
        }
        Ok(())
    }

    /// The patient's data key: cached, unwrapped from the store, or made (and wrapped into `batch`).
    fn data_key_for(
        &mut self,
        patient: &Pseudonym,
        new_keys: &mut HashMap<Pseudonym, SecretKey>,
        batch: &mut WriteBatch,
    ) -> Result<SecretKey, StoreError> {
        if let Some(k) = self
            .data_keys
            .get(patient)
            .or_else(|| new_keys.get(patient))
        {
            return Ok(k.clone());
        }
        match self.db.get_cf(self.cf(layout::KEYS), patient.0)? {
            Some(v) if v == layout::ERASED => Err(StoreError::Erased(*patient)),
            Some(wrapped) => {
                let k = keys::unwrap_data_key(&self.master, patient, &wrapped)?;
                self.data_keys.insert(*patient, k.clone());
                Ok(k)
            }
            None => {
                let k = SecretKey::random();
                batch.put_cf(
                    self.cf(layout::KEYS),
                    patient.0,
                    keys::wrap_data_key(&self.master, patient, &k),
                );
                new_keys.insert(*patient, k.clone());
                Ok(k)
            }
        }
    }

    /// Drops the cached data key of a patient whose key was destroyed.
    pub(crate) fn forget_data_key(&mut self, patient: &Pseudonym) {
        self.data_keys.remove(patient);
    }

    /// The unwrapped data key of a patient, or `Erased`/`UnknownPatient`.
    pub(crate) fn existing_data_key(&self, patient: &Pseudonym) -> Result<SecretKey, StoreError> {
        if let Some(k) = self.data_keys.get(patient) {
            return Ok(k.clone());
        }
        match self.db.get_cf(self.cf(layout::KEYS), patient.0)? {
            Some(v) if v == layout::ERASED => Err(StoreError::Erased(*patient)),
            Some(wrapped) => keys::unwrap_data_key(&self.master, patient, &wrapped),
            None => Err(StoreError::UnknownPatient(*patient)),
        }
    }

    /// Writes the frontier and a new signed head into `batch`; returns the head.
    pub(crate) fn close_block(
        &self,
        batch: &mut WriteBatch,
        frontier: &Frontier,
        now: Timestamp,
    ) -> Head {
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: frontier.size(),
            root: frontier.root(),
            height: self.height,
            time: now.0,
            prev: self.last_head,
        };
        let note = checkpoint
            .sign(&self.signer)
            .expect("the origin was checked as a key name when the store opened");
        batch.put_cf(
            self.cf(layout::META),
            layout::META_FRONTIER,
            frontier.to_bytes(),
        );
        // Every block carries the layout it was written in (a replayed batch is self-contained).
        batch.put_cf(self.cf(layout::META), layout::META_LAYOUT, [LAYOUT_VERSION]);
        batch.put_cf(
            self.cf(layout::LEDGER_HEADS),
            self.height.to_be_bytes(),
            note.as_bytes(),
        );
        Head {
            height: self.height,
            text_hash: checkpoint.text_hash(),
            note,
        }
    }

    /// Makes a durable commit's new state current.
    pub(crate) fn advance(&mut self, frontier: Frontier, head: &Head) {
        self.frontier = frontier;
        self.height = head.height + 1;
        self.last_head = Some(head.text_hash);
    }

    pub(crate) fn write_durably(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// The handles among `handles` that are already stored, looked up in one batched read.
    fn existing_records(
        &self,
        handles: &[RecordHandle],
    ) -> Result<HashSet<RecordHandle>, StoreError> {
        let found = self.db.batched_multi_get_cf(
            self.cf(layout::RECORDS),
            handles.iter().map(|h| &h.0),
            false,
        );
        let mut out = HashSet::new();
        for (h, r) in handles.iter().zip(found) {
            if r?.is_some() {
                out.insert(*h);
            }
        }
        Ok(out)
    }

    /// The stored (sealed) form of the record with `handle`, if present.
    pub(crate) fn stored(&self, handle: &RecordHandle) -> Result<Option<StoredRecord>, StoreError> {
        match self.db.get_pinned_cf(self.cf(layout::RECORDS), handle.0)? {
            None => Ok(None),
            Some(b) => StoredRecord::from_bytes(&b)
                .map(Some)
                .ok_or_else(|| corrupt(&format!("record {handle}"), "does not decode")),
        }
    }

    pub(crate) fn cf(&self, name: &str) -> &ColumnFamily {
        cf(&self.db, name)
    }
}

/// Appends one ledger leaf: the entry bytes and every perfect node it completes go into `batch`.
pub(crate) fn append_leaf(
    batch: &mut WriteBatch,
    store: &Store,
    frontier: &mut Frontier,
    leaf: &[u8],
) {
    let index = frontier.size();
    batch.put_cf(store.cf(layout::LEDGER_LEAVES), index.to_be_bytes(), leaf);
    for (level, idx, hash) in frontier.append(leaf_hash(leaf)) {
        batch.put_cf(
            store.cf(layout::LEDGER_NODES),
            layout::node_key(level, idx),
            hash,
        );
    }
}

/// SHA-256 over sorted record handles: the records part of an erasure entry's content hash.
pub(crate) fn sorted_digest(handles: &[RecordHandle]) -> [u8; 32] {
    let mut h = Sha256::new();
    for id in handles {
        h.update(id.0);
    }
    h.finalize().into()
}

/// The on-disk layout this code reads and writes: 3 indexes a patient's share rows by their keys
/// and has no handle index; 2 named records by handle and held share rows by day (version 1,
/// before it, named records by id).
const LAYOUT_VERSION: u8 = 3;

/// Refuses a database of a layout this code cannot read, moves a layout-2 one to this layout
/// ([`crate::migrate`]), and marks a new one with this layout.
fn check_layout(db: &DB) -> Result<(), StoreError> {
    let meta = cf(db, layout::META);
    match db.get_cf(meta, layout::META_LAYOUT)? {
        Some(v) if v.as_slice() == [LAYOUT_VERSION] => Ok(()),
        Some(v) if v.as_slice() == [2] => {
            crate::migrate::share_index_2_to_3(db)?;
            let mut synced = rocksdb::WriteOptions::default();
            synced.set_sync(true);
            db.put_cf_opt(meta, layout::META_LAYOUT, [LAYOUT_VERSION], &synced)?;
            Ok(())
        }
        Some(_) => Err(StoreError::OldLayout),
        None => {
            let mut leaves =
                db.iterator_cf(cf(db, layout::LEDGER_LEAVES), rocksdb::IteratorMode::Start);
            if leaves.next().transpose()?.is_some() {
                return Err(StoreError::OldLayout);
            }
            db.put_cf(meta, layout::META_LAYOUT, [LAYOUT_VERSION])?;
            Ok(())
        }
    }
}

/// BLAKE3 key-derivation context of the record handle key.
const HANDLE_CONTEXT: &str = "hdg 2026-11 record handle key v1";
/// BLAKE3 key-derivation context of the share patient tag key.
const TAG_CONTEXT: &str = "hdg 2026-11 share patient tag key v1";

fn default_origin(key: &SigningKey) -> String {
    let pk = key.verifying_key().to_bytes();
    format!("hdg.local/node-{}", hex::encode(&pk[..4]))
}

/// Per-column-family tuning: records are looked up by id on every commit (duplicate check), mostly
/// for ids that are not there, so they get bloom filters in the memtable and in the table files.
fn column_family_options(name: &str) -> Options {
    let mut o = Options::default();
    o.set_write_buffer_size(64 << 20);
    o.set_max_write_buffer_number(4);
    // Point lookups that mostly miss: a record or a share row not stored yet (every commit
    // checks for duplicates), a patient not erased. A bloom filter in the memtable and in the
    // tables answers a miss without searching the skip list or reading a block.
    if [layout::RECORDS, layout::SHARES, layout::SHARES_ERASED].contains(&name) {
        o.set_memtable_prefix_bloom_ratio(0.1);
        o.set_memtable_whole_key_filtering(true);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_whole_key_filtering(true);
        o.set_block_based_table_factory(&table);
    }
    o
}

/// A block head just written: its height, the hash chained into the next head, and the note.
pub(crate) struct Head {
    pub(crate) height: u64,
    text_hash: Hash,
    pub(crate) note: String,
}

/// The newest stored head: its height and signed note text.
pub(crate) fn last_head(db: &DB) -> Result<Option<(u64, String)>, StoreError> {
    let mut it = db.iterator_cf(cf(db, layout::LEDGER_HEADS), rocksdb::IteratorMode::End);
    match it.next() {
        None => Ok(None),
        Some(kv) => {
            let (k, v) = kv?;
            decode_head(&k, &v).map(Some)
        }
    }
}

/// A `ledger_heads` entry: (height, signed note text).
pub(crate) fn decode_head(key: &[u8], value: &[u8]) -> Result<(u64, String), StoreError> {
    let h: [u8; 8] = key
        .try_into()
        .map_err(|_| corrupt("head key", "not 8 bytes"))?;
    let note =
        String::from_utf8(value.to_vec()).map_err(|_| corrupt("signed head", "not UTF-8"))?;
    Ok((u64::from_be_bytes(h), note))
}

pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    db.cf_handle(name)
        .expect("every column family is opened with the database")
}

pub(crate) fn corrupt(what: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}
