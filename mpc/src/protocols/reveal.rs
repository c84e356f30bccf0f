//! Opening shared values to all three parties: P_i sends x_i to P_{i+1}, the one share it lacks.
//!
//! Checked (under [`Security::Malicious`](crate::Security)): the share P_{i+1} lacks has a
//! second holder, P_{i+2}, which sends P_{i+1} a digest of its copy in the same round. P_{i+1}
//! compares the digest with the values it received before it adds them to anything, so a party
//! that lies about its share is caught by the one it lies to, who names the pair (the sender of
//! the values and the sender of the digest: one of the two deviated). The digest is BLAKE3 over
//! the session, the operation counter and the values: a digest from another opening never
//! matches. It needs to hide nothing: the receiver is about to learn the values anyway.
//! Then the three parties exchange verdicts ([`agree`]), so that all stop when one does.

use crate::fault::Point;
use crate::kernels::words_for;
use crate::verdict::{Deviation, VERDICT_WORDS, agree};
use crate::verify::verify_pending;
use crate::words;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// Words of an opening's check digest (32 bytes).
pub const DIGEST_WORDS: usize = words::WORDS_32;

/// Words a checked opening adds to what each party sends with unsigned verdicts: the digest
/// and a verdict to each peer (in three messages more, and one round more).
pub const CHECK_WORDS: usize = DIGEST_WORDS + 2 * VERDICT_WORDS;

/// Messages a checked opening adds for each party with unsigned verdicts.
pub const CHECK_MESSAGES: u64 = 3;

/// Words and messages a checked opening adds for each party: [`CHECK_WORDS`] and
/// [`CHECK_MESSAGES`] unsigned; signed verdicts ([`crate::Party::sign_verdicts`]) send 40 words
/// and 2 messages more, in one round more.
pub fn check_cost(signed: bool) -> (usize, u64) {
    let (words, messages) = crate::verdict::cost_per_peer(signed);
    (DIGEST_WORDS + 2 * words, 1 + 2 * messages)
}

/// Opens x to every party.
///
/// Cost: one round; every party sends n ring elements to its next party. Checked: also a
/// 32-byte digest to its previous party, then a second round of 3 words to each peer.
pub fn reveal(party: &mut Party, x: &ArithShares) -> Result<Vec<u64>, ProtocolError> {
    let mut v = open_missing(party, &x.a, &x.b, x.len(), "reveal")?;
    let k = party.kernels();
    k.add_assign(&mut v, &x.a);
    k.add_assign(&mut v, &x.b);
    Ok(v)
}

/// Opens shared bits to every party.
///
/// Cost: one round; every party sends ceil(n/64) words to its next party. Checked: as
/// [`reveal`].
pub fn reveal_bits(party: &mut Party, x: &BoolShares) -> Result<Vec<bool>, ProtocolError> {
    let missing = open_missing(party, &x.a, &x.b, words_for(x.len), "reveal bits")?;
    Ok((0..x.len)
        .map(|i| {
            let w = i / 64;
            ((x.a[w] ^ x.b[w] ^ missing[w]) >> (i % 64)) & 1 == 1
        })
        .collect())
}

/// Sends my component `a` to my next party (it lacks it) and, when checked, the digest of my
/// component `b` to my previous party (it lacks that one); returns the component I lack, from
/// my previous party, once it matches my next party's digest of its copy and no party reports
/// a difference ([`agree`]).
fn open_missing(
    party: &mut Party,
    a: &[u64],
    b: &[u64],
    len: usize,
    step: &'static str,
) -> Result<Vec<u64>, ProtocolError> {
    // Nothing is opened before everything computed so far is verified.
    verify_pending(party)?;
    let me = party.id();
    let op = party.next_op();
    let checked = party.security().checks();
    party.send(me.next(), a, Point::Opening)?;
    if checked {
        let digest = opening_digest(party, op, b);
        party.send(me.prev(), &digest, Point::OpeningCheck)?;
    }
    let missing = party.recv(me.prev(), len, step)?;
    if checked {
        let witness = party.recv(me.next(), DIGEST_WORDS, step)?;
        let found = (witness != opening_digest(party, op, &missing)).then(|| Deviation {
            sender: me.prev(),
            witness: me.next(),
        });
        agree(party, found, step)?;
    }
    Ok(missing)
}

/// BLAKE3 of the session, the operation and the values, as four words.
fn opening_digest(party: &Party, op: u64, values: &[u64]) -> [u64; DIGEST_WORDS] {
    words::op_digest(
        "hdg-mpc 2026 checked opening v1",
        &party.session().0,
        op,
        values,
    )
}
