//! Bringing values into the computation.
//!
//! By a party P_j (one message): x_{j+1} = F(k_{j+1}) (known to P_j, P_{j+1}),
//! x_{j+2} = F(k_all), x_j = x - x_{j+1} - x_{j+2}, sent to P_{j-1} only. P_{j+1} sees two
//! pseudo-random values; P_{j-1} sees x_j masked by F(k_{j+1}), a key it does not hold.
//!
//! By an outside data owner ([`share_for_parties`]): x_0 and x_1 come from random seeds, x_2 is
//! computed; each party receives its pair, as a seed or as values, so the owner sends two ring
//! elements per value (x_2, to its two holders) plus four 32-byte seeds.

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::fault::Point;
use crate::prf::{Prf, PrfKind};
use crate::{ArithShares, Party, PartyId, ProtocolError};

/// Shares `n` values owned by party `owner`; the owner passes `Some(values)`, the others `None`.
///
/// Cost: one round; the owner sends n elements to P_{owner-1}; the other two send nothing.
pub fn input(
    party: &mut Party,
    owner: PartyId,
    values: Option<&[u64]>,
    n: usize,
) -> Result<ArithShares, ProtocolError> {
    let op = party.next_op();
    let me = party.id();
    if (me == owner) != values.is_some() {
        return Err(ProtocolError::InvalidArgument {
            step: "input",
            reason: "exactly the owner passes values",
        });
    }
    if me == owner {
        let values = values.expect("checked above");
        if values.len() != n {
            return Err(ProtocolError::InvalidArgument {
                step: "input",
                reason: "values do not have the announced length",
            });
        }
        let next = party.stream_next(op, n);
        let mut own = values.to_vec();
        let k = party.kernels();
        k.sub_assign(&mut own, &next);
        let mut all = vec![0u64; crate::protocols::BLOCK.min(n)];
        for start in (0..n).step_by(crate::protocols::BLOCK) {
            let end = (start + crate::protocols::BLOCK).min(n);
            party.fill_all_at(op, start, &mut all[..end - start]);
            k.sub_assign(&mut own[start..end], &all[..end - start]);
        }
        party.send(me.prev(), &own, Point::Input)?;
        Ok(ArithShares::new(own, next))
    } else if me == owner.next() {
        Ok(ArithShares::new(
            party.stream_prev(op, n),
            party.stream_all(op, n),
        ))
    } else {
        let all = party.stream_all(op, n);
        let own = party.recv(me.next(), n, "input")?;
        Ok(ArithShares::new(all, own))
    }
}

/// Shares of the element-wise sum of the three parties' own vectors of n values, each party
/// passing its own: the three [`input`]s at once, in one round (each party sends its masked
/// vector to its previous party and receives its next party's). The same messages and
/// randomness as the three inputs in party order, so each party's vector stays as hidden as
/// with [`input`].
///
/// Cost: one round; every party sends n elements.
pub fn input_sum(party: &mut Party, own: &[u64], n: usize) -> Result<ArithShares, ProtocolError> {
    if own.len() != n {
        return Err(ProtocolError::InvalidArgument {
            step: "input sum",
            reason: "values do not have the announced length",
        });
    }
    let me = party.id();
    let ops = PartyId::ALL.map(|_| party.next_op());
    let k = party.kernels();
    let mut total = ArithShares::zeros(n);
    // My own input: x - F(k_next) - F(k_all), sent to my previous party.
    let op = ops[me.index()];
    let next = party.stream_next(op, n);
    let mut masked = own.to_vec();
    k.sub_assign(&mut masked, &next);
    let all = party.stream_all(op, n);
    k.sub_assign(&mut masked, &all);
    party.send(me.prev(), &masked, Point::Input)?;
    total.add_assign(&ArithShares::new(masked, next));
    // My previous party's input: I am its next, so I hold its two PRF components.
    let op = ops[me.prev().index()];
    total.add_assign(&ArithShares::new(
        party.stream_prev(op, n),
        party.stream_all(op, n),
    ));
    // My next party's input: its masked vector, sent to me.
    let op = ops[me.next().index()];
    let all = party.stream_all(op, n);
    let theirs = party.recv(me.next(), n, "input sum")?;
    total.add_assign(&ArithShares::new(all, theirs));
    Ok(total)
}

/// Elements each party sends in [`input`] of n values by `owner`.
pub fn input_cost(owner: PartyId, n: usize) -> [u64; 3] {
    let mut c = [0; 3];
    c[owner.index()] = n as u64;
    c
}

/// One share component as an outside owner delivers it: a seed to expand, or the values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub enum ShareSource {
    /// 32-byte seed, expanded by the BLAKE3 XOF into the share.
    Seed([u8; 32]),
    /// The share's values.
    Values(Vec<u64>),
}

/// What an outside data owner sends to one party: that party's pair, compactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct OwnerShares {
    /// Number of values.
    pub n: usize,
    /// x_i.
    pub a: ShareSource,
    /// x_{i+1}.
    pub b: ShareSource,
}

impl OwnerShares {
    /// Expands the pair into this party's shares; fails if a value vector has the wrong length.
    pub fn into_shares(self) -> Result<ArithShares, ProtocolError> {
        let expand = |s: &ShareSource| match s {
            ShareSource::Seed(seed) => Ok(Prf::new(PrfKind::Blake3Xof, seed).stream(0, self.n)),
            ShareSource::Values(v) if v.len() == self.n => Ok(v.clone()),
            ShareSource::Values(_) => Err(ProtocolError::InvalidArgument {
                step: "owner input",
                reason: "share vector length differs from the announced count",
            }),
        };
        Ok(ArithShares::new(expand(&self.a)?, expand(&self.b)?))
    }
}

/// Values per share below which a share is sent as values rather than as a 32-byte seed.
const SEED_WORTH: usize = 4;

/// Splits `values` for the three parties (element i of the result goes to P_i), for a data
/// owner who is not a party. x_0 and x_1 are random: sent as 32-byte seeds when n >= 4 (the
/// seed is then smaller than the values), as values otherwise; x_2 = x - x_0 - x_1 goes as
/// values to its two holders. Cost: 2 ring elements per value, plus 4 seeds or 4n elements.
pub fn share_for_parties<R: CryptoRng + ?Sized>(values: &[u64], rng: &mut R) -> [OwnerShares; 3] {
    let n = values.len();
    let mut random_share = || {
        if n >= SEED_WORTH {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let v = Prf::new(PrfKind::Blake3Xof, &seed).stream(0, n);
            let src = ShareSource::Seed(seed);
            seed.zeroize();
            (v, src)
        } else {
            let v: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
            (v.clone(), ShareSource::Values(v))
        }
    };
    let (mut x0, s0) = random_share();
    let (mut x1, s1) = random_share();
    let mut x2 = values.to_vec();
    let k = crate::kernels::best();
    k.sub_assign(&mut x2, &x0);
    k.sub_assign(&mut x2, &x1);
    x0.zeroize();
    x1.zeroize();
    [
        OwnerShares {
            n,
            a: s0.clone(),
            b: s1.clone(),
        },
        OwnerShares {
            n,
            a: s1,
            b: ShareSource::Values(x2.clone()),
        },
        OwnerShares {
            n,
            a: ShareSource::Values(x2),
            b: s0,
        },
    ]
}
