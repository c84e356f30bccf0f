//! Multiplication and dot products.
//!
//! Local step (MPC-NOTES): z_i = x_i*y_i + x_i*y_{i+1} + x_{i+1}*y_i + alpha_i with the
//! zero-sharing alpha_i = F(k_i) - F(k_{i+1}); then P_i sends z_i to P_{i-1}, so each party
//! ends with (z_i, z_{i+1}). The PRF is expanded block by block into cache-resident buffers and
//! fused with the local step.

use crate::fault::Point;
use crate::protocols::BLOCK;
use crate::verify::product_proof::{ProductRecord, Record, Shape};
use crate::{ArithShares, Party, ProtocolError};

/// Shares of x*y, element-wise.
///
/// Cost: one round; every party sends exactly n ring elements (8n bytes) to its previous party.
pub fn mul(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
) -> Result<ArithShares, ProtocolError> {
    if x.len() != y.len() {
        return Err(ProtocolError::InvalidArgument {
            step: "mul",
            reason: "operands differ in length",
        });
    }
    let n = x.len();
    let op = party.next_op();
    let k = party.kernels();
    let mut z = vec![0u64; n];
    let (mut rp, mut rn) = (vec![0u64; BLOCK.min(n)], vec![0u64; BLOCK.min(n)]);
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let len = end - start;
        party.fill_prev_at(op, start, &mut rp[..len]);
        party.fill_next_at(op, start, &mut rn[..len]);
        k.mul_local(
            &mut z[start..end],
            (&x.a[start..end], &x.b[start..end]),
            (&y.a[start..end], &y.b[start..end]),
            (&rp[..len], &rn[..len]),
        );
    }
    let out = reshare(party, z, "mul")?;
    if n > 0 {
        party.record_product(|| record(Shape::Elementwise, (x, y), &out.b, op, 0));
    }
    Ok(out)
}

/// What a party keeps of a product operation for its verification: its operand shares, the
/// product shares from its next party, and where the zero-sharing's streams start.
fn record(
    shape: Shape,
    (x, y): (&ArithShares, &ArithShares),
    received: &[u64],
    op: u64,
    first: u64,
) -> Record {
    Record::Product(ProductRecord {
        shape,
        xa: x.a.clone(),
        xb: x.b.clone(),
        ya: y.a.clone(),
        yb: y.b.clone(),
        received: received.to_vec(),
        op,
        first,
    })
}

/// The record of a dot product of x with itself ([`Shape::Square`]): y's components hold
/// 2 xa and 2 xb, the left side of the square's statement.
fn square_record(x: &ArithShares, received: &[u64], op: u64, first: u64) -> Record {
    let mut twice = x.scale(2);
    Record::Product(ProductRecord {
        shape: Shape::Square { len: x.len() },
        xa: x.a.clone(),
        xb: x.b.clone(),
        ya: std::mem::take(&mut twice.a),
        yb: std::mem::take(&mut twice.b),
        received: received.to_vec(),
        op,
        first,
    })
}

/// Sends z_i to the previous party and pairs it with z_{i+1} from the next party.
pub(crate) fn reshare(
    party: &mut Party,
    z: Vec<u64>,
    step: &'static str,
) -> Result<ArithShares, ProtocolError> {
    let me = party.id();
    party.send(me.prev(), &z, Point::Product)?;
    let from_next = party.recv(me.next(), z.len(), step)?;
    Ok(ArithShares::new(z, from_next))
}

/// Shares of the dot products sum_k x_j[k]*y_j[k], one per pair (x_j, y_j).
///
/// Cost: one round; every party sends one ring element per pair, whatever the vector lengths.
pub fn dot_many(
    party: &mut Party,
    pairs: &[(&ArithShares, &ArithShares)],
) -> Result<ArithShares, ProtocolError> {
    if pairs.iter().any(|(x, y)| x.len() != y.len()) {
        return Err(ProtocolError::InvalidArgument {
            step: "dot",
            reason: "operands of a pair differ in length",
        });
    }
    let op = party.next_op();
    let k = party.kernels();
    let m = pairs.len();
    let mut z: Vec<u64> = pairs
        .iter()
        .map(|(x, y)| k.dot_local((&x.a, &x.b), (&y.a, &y.b)))
        .collect();
    add_zero_share(party, op, &mut z);
    debug_assert_eq!(z.len(), m);
    let out = reshare(party, z, "dot")?;
    for (j, (x, y)) in pairs.iter().enumerate() {
        let received = &out.b[j..j + 1];
        // the same operand twice: proven as a square, half the entries
        if std::ptr::eq(*x, *y) {
            party.record_product(|| square_record(x, received, op, j as u64));
        } else {
            let shape = Shape::Segments { len: x.len() };
            party.record_product(|| record(shape, (x, y), received, op, j as u64));
        }
    }
    Ok(out)
}

/// Shares of one dot product sum_k x[k]*y[k] (a vector of one element).
///
/// Cost: one round; every party sends one ring element.
pub fn dot(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
) -> Result<ArithShares, ProtocolError> {
    dot_many(party, &[(x, y)])
}

/// Shares of the dot products of `segments` equal consecutive segments of x and y.
/// Cost: one round; every party sends one element per segment.
pub fn dot_segments(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
    segments: usize,
) -> Result<ArithShares, ProtocolError> {
    if x.len() != y.len() || segments == 0 || !x.len().is_multiple_of(segments) {
        return Err(ProtocolError::InvalidArgument {
            step: "dot segments",
            reason: "lengths are not equal multiples of the segment length",
        });
    }
    let op = party.next_op();
    let k = party.kernels();
    let seg = x.len() / segments;
    let mut z: Vec<u64> = (0..segments)
        .map(|s| {
            let r = s * seg..(s + 1) * seg;
            k.dot_local(
                (&x.a[r.clone()], &x.b[r.clone()]),
                (&y.a[r.clone()], &y.b[r]),
            )
        })
        .collect();
    add_zero_share(party, op, &mut z);
    let out = reshare(party, z, "dot segments")?;
    party.record_product(|| record(Shape::Segments { len: seg }, (x, y), &out.b, op, 0));
    Ok(out)
}

/// z += F(k_i, op) - F(k_{i+1}, op).
fn add_zero_share(party: &Party, op: u64, z: &mut [u64]) {
    let rp = party.stream_prev(op, z.len());
    let rn = party.stream_next(op, z.len());
    let k = party.kernels();
    k.add_assign(z, &rp);
    k.sub_assign(z, &rn);
}
