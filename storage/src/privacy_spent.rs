//! The privacy loss each researcher has spent per period, in nano-rho of zCDP (an integer, so
//! that every party adds the same numbers the same way). A private query's charge is written in
//! the same synced batch as its ledger entry ([`Store::anchor_use`]), so a restart remembers
//! exactly the queries the ledger shows, and the entry's text (the signed query, with its
//! epsilon) is the anchored record of the spend.

use rocksdb::WriteBatch;

use crate::error::StoreError;
use crate::layout;
use crate::store::{Store, corrupt};

/// A private query's charge: `nano_rho` more for `researcher` in `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrivacySpend {
    /// The researcher's ed25519 public key.
    pub researcher: [u8; 32],
    /// The budget period (the cluster's period index of the query's time).
    pub period: u64,
    /// The charge, in nano-rho.
    pub nano_rho: u64,
}

fn key(researcher: &[u8; 32], period: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(researcher);
    k[32..].copy_from_slice(&period.to_be_bytes());
    k
}

impl Store {
    /// What `researcher` has spent in `period` (0 if nothing), in nano-rho.
    pub fn privacy_spent(&self, researcher: &[u8; 32], period: u64) -> Result<u64, StoreError> {
        match self
            .db
            .get_cf(self.cf(layout::PRIVACY_SPENT), key(researcher, period))?
        {
            None => Ok(0),
            Some(v) => {
                Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(
                    |_| corrupt("privacy spent", "value is not 8 bytes"),
                )?))
            }
        }
    }

    /// Adds `spend` to the batch (the caller holds the store, so read and write are one step).
    pub(crate) fn charge_privacy(
        &self,
        batch: &mut WriteBatch,
        spend: &PrivacySpend,
    ) -> Result<(), StoreError> {
        let total = self
            .privacy_spent(&spend.researcher, spend.period)?
            .saturating_add(spend.nano_rho);
        batch.put_cf(
            self.cf(layout::PRIVACY_SPENT),
            key(&spend.researcher, spend.period),
            total.to_be_bytes(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_ledger::EntryKind;
    use hdg_schema::{Pseudonym, Timestamp};

    #[test]
    fn a_charge_is_written_with_its_entry_and_survives_a_reopen() {
        let dir = tempfile::TempDir::new().unwrap();
        let keys = crate::keyring::test_keys();
        let r = [7u8; 32];
        let now = Timestamp(1_700_000_000_000);
        {
            let mut s = Store::open(dir.path(), true, &keys).unwrap();
            assert_eq!(s.privacy_spent(&r, 3).unwrap(), 0);
            for subject in [[1u8; 32], [2; 32]] {
                let spend = PrivacySpend {
                    researcher: r,
                    period: 3,
                    nano_rho: 250_000_000,
                };
                let patients = [Pseudonym([1; 32])].into();
                s.anchor_use(
                    EntryKind::Query,
                    subject,
                    "{}",
                    r,
                    &patients,
                    Some(&spend),
                    now,
                )
                .unwrap();
            }
            // A query without a charge (an exact cluster) spends nothing.
            s.anchor_use(EntryKind::Query, [3; 32], "{}", r, &[].into(), None, now)
                .unwrap();
        }
        let s = Store::open(dir.path(), false, &keys).unwrap();
        assert_eq!(s.privacy_spent(&r, 3).unwrap(), 500_000_000);
        assert_eq!(s.privacy_spent(&r, 4).unwrap(), 0);
        assert_eq!(s.privacy_spent(&[8; 32], 3).unwrap(), 0);
    }
}
