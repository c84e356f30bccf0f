//! The ledger as kept in RocksDB: perfect-subtree nodes served to the proof algorithms, leaves,
//! signed heads, and the outsider proof of a record's inclusion.

use hdg_ledger::{Hash, InclusionProofJson, NodeError, NodeReader, inclusion_proof};
use hdg_schema::RecordId;
use rocksdb::IteratorMode;

use crate::error::StoreError;
use crate::layout;
use crate::store::{Store, corrupt};

/// Serves the ledger's perfect-subtree hashes from the `ledger_nodes` column family.
pub struct DbNodes<'a>(&'a Store);

impl NodeReader for DbNodes<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, NodeError> {
        let v = self
            .0
            .db
            .get_pinned_cf(
                self.0.cf(layout::LEDGER_NODES),
                layout::node_key(level, index),
            )
            .map_err(|e| NodeError::Store(e.to_string()))?
            .ok_or(NodeError::Missing { level, index })?;
        v.as_ref()
            .try_into()
            .map_err(|_| NodeError::Store(format!("node {level}/{index} is not 32 bytes")))
    }
}

impl Store {
    /// The ledger's node reader, for proofs.
    pub fn nodes(&self) -> DbNodes<'_> {
        DbNodes(self)
    }

    /// The entry bytes of ledger leaf `index`.
    pub fn leaf(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        self.db
            .get_cf(self.cf(layout::LEDGER_LEAVES), index.to_be_bytes())?
            .ok_or_else(|| corrupt(&format!("ledger leaf {index}"), "missing"))
    }

    /// The newest signed head, if any block was closed.
    pub fn latest_head(&self) -> Result<Option<String>, StoreError> {
        Ok(crate::store::last_head(&self.db)?.map(|(_, note)| note))
    }

    /// Every signed head, oldest first, as (height, note text).
    pub fn heads(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::LEDGER_HEADS), IteratorMode::Start)
        {
            let (k, v) = kv?;
            out.push(crate::store::decode_head(&k, &v)?);
        }
        Ok(out)
    }

    /// The outsider proof that record `id` is in the ledger under the latest signed head.
    pub fn inclusion_proof(&self, id: &RecordId) -> Result<InclusionProofJson, StoreError> {
        let stored = self
            .stored(&self.handle(id))?
            .ok_or(StoreError::NotFound(*id))?;
        let checkpoint = self
            .latest_head()?
            .ok_or_else(|| corrupt("ledger", "has records but no signed head"))?;
        let size = self.tree_size();
        let path = inclusion_proof(&self.nodes(), stored.leaf_index, size)
            .map_err(|e| StoreError::Ledger(e.to_string()))?;
        let leaf = self.leaf(stored.leaf_index)?;
        Ok(InclusionProofJson::new(
            &leaf,
            stored.leaf_index,
            size,
            &path,
            &self.frontier.root(),
            &checkpoint,
        ))
    }
}
