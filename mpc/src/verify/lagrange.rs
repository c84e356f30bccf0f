//! Polynomials given by their values at the nodes 0, 1, ..., n-1 of F_p: the weights that
//! evaluate such a polynomial anywhere.

use super::fp61::Fp;

/// Weights w with f(x) = sum_k w[k] f(k) for every polynomial f of degree below `n`.
pub fn weights(n: usize, x: Fp) -> Vec<Fp> {
    (0..n)
        .map(|k| {
            let (mut num, mut den) = (Fp::ONE, Fp::ONE);
            for j in (0..n).filter(|j| *j != k) {
                num = num * (x - node(j));
                den = den * (node(k) - node(j));
            }
            num * den.inv().expect("distinct nodes")
        })
        .collect()
}

/// Node k.
pub fn node(k: usize) -> Fp {
    Fp::new(k as u64)
}

/// The value at x of the polynomial with `values` at nodes 0..values.len().
pub fn eval(values: &[Fp], x: Fp) -> Fp {
    weights(values.len(), x)
        .iter()
        .zip(values)
        .map(|(w, v)| *w * *v)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A polynomial given by coefficients, sampled at the nodes, evaluates back to itself.
        #[test]
        fn interpolation_recovers_the_polynomial(
            coefficients in proptest::collection::vec(any::<u64>(), 1..9), x in any::<u64>(),
        ) {
            let c: Vec<Fp> = coefficients.iter().map(|v| Fp::new(*v)).collect();
            let at = |x: Fp| c.iter().rev().fold(Fp::ZERO, |acc, k| acc * x + *k);
            let values: Vec<Fp> = (0..c.len()).map(|k| at(node(k))).collect();
            prop_assert_eq!(eval(&values, Fp::new(x)), at(Fp::new(x)));
        }
    }
}
