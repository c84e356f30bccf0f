//! Every statistic equals the plaintext computation (exactly for integer aggregates), at the
//! edges of its documented range, for n = 0, 1, 2 and random data; out-of-range inputs are
//! refused.

use proptest::prelude::*;

use super::filtered::filtered_mean;
use super::histogram::histogram;
use super::moments::{count, covariance, mean, pearson, sum, variance};
use super::order::{max, median, min, order_statistic, quantile, quantile_rank};
use super::regression::linear_regression;
use super::vector_sum::vector_sum;
use super::*;
use crate::protocols::testing::share;
use crate::{StaticSecret, run_three};

const B: i64 = 5_000;

fn bounded(max_len: usize) -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(
        prop_oneof![Just(0i64), Just(B), Just(-B), -B..=B],
        0..max_len,
    )
}

fn bound() -> ValueBound {
    ValueBound::new(B as u64)
}

fn sum_i128(v: &[i64]) -> i128 {
    v.iter().map(|x| *x as i128).sum()
}

fn dot_i128(v: &[i64], w: &[i64]) -> i128 {
    v.iter().zip(w).map(|(a, b)| *a as i128 * *b as i128).sum()
}

/// Relative closeness for finished floating-point values.
fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9),
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Parts of 3 values: many parts, each verified under malicious security before the next;
    /// the statistics equal those of one part.
    #[test]
    fn statistics_in_parts_equal_one_part(v in bounded(40), w0 in bounded(40)) {
        let n = v.len();
        let w: Vec<i64> = (0..n).map(|i| w0.get(i).copied().unwrap_or(7)).collect();
        let run = |part: usize| {
            run_three(|p| {
                p.set_security(crate::Security::Malicious);
                p.set_part_values(part);
                let (x, y) = (share(p, &v), share(p, &w));
                let mut out = vec![
                    variance(p, &x, bound()).unwrap().reveal(p).unwrap(),
                    covariance(p, &x, &y, bound(), bound()).unwrap().reveal(p).unwrap(),
                    pearson(p, &x, &y, bound(), bound()).unwrap().reveal(p).unwrap(),
                    histogram(p, &x, &[-B / 2, 0, 17, B / 2], bound()).unwrap().reveal(p).unwrap(),
                    filtered_mean(p, &x, 10, 1, bound()).unwrap().reveal(p).unwrap(),
                ];
                if n > 0 {
                    out.push(median(p, &x, bound()).unwrap().reveal(p).unwrap());
                }
                out
            })
        };
        let (parts, whole) = (run(3), run(1 << 20));
        prop_assert_eq!(&parts[0], &whole[0]);
        prop_assert_eq!(&parts[0], &parts[2]);
    }

    #[test]
    fn moments_equal_plaintext(v in bounded(40), w0 in bounded(40)) {
        let n = v.len();
        let w: Vec<i64> = (0..n).map(|i| w0.get(i).copied().unwrap_or(7)).collect();
        let out = run_three(|p| {
            let (x, y) = (share(p, &v), share(p, &w));
            let c = count(&x).reveal(p).unwrap();
            let s = sum(&x, bound()).unwrap().reveal(p).unwrap();
            let m = mean(&x, bound()).unwrap().reveal(p).unwrap();
            let var = variance(p, &x, bound()).unwrap().reveal(p).unwrap();
            let cov = covariance(p, &x, &y, bound(), bound()).unwrap().reveal(p).unwrap();
            let r = pearson(p, &x, &y, bound(), bound()).unwrap().reveal(p).unwrap();
            (c, s, m, var, cov, r)
        });
        let nn = n as u64;
        let nf = n as f64;
        let s1 = sum_i128(&v);
        let s2 = dot_i128(&v, &v);
        // plaintext, two-pass in f64
        let mx = v.iter().map(|a| *a as f64).sum::<f64>() / nf;
        let my = w.iter().map(|a| *a as f64).sum::<f64>() / nf;
        let ssx: f64 = v.iter().map(|a| (*a as f64 - mx).powi(2)).sum();
        let ssy: f64 = w.iter().map(|a| (*a as f64 - my).powi(2)).sum();
        let sxy: f64 = v.iter().zip(&w).map(|(a, b)| (*a as f64 - mx) * (*b as f64 - my)).sum();
        for (c, s, m, var, cov, r) in out {
            prop_assert_eq!(c, StatValue::Count { n: nn });
            prop_assert_eq!(s, StatValue::Sum { n: nn, sum: s1 as i64 });
            match m {
                StatValue::Mean { sum, mean, .. } => {
                    prop_assert_eq!(sum as i128, s1);
                    prop_assert!(close(mean, (n > 0).then_some(mx)));
                }
                other => prop_assert!(false, "{:?}", other),
            }
            match var {
                StatValue::Variance { sum, sum_squares, population_variance, sample_variance, sample_std_dev, .. } => {
                    prop_assert_eq!((sum as i128, sum_squares as i128), (s1, s2));
                    if n > 0 {
                        // tolerance relative to the scale of the data (two-pass rounding)
                        let pv = population_variance.unwrap();
                        prop_assert!((pv - ssx / nf).abs() <= 1e-9 * (ssx / nf + mx * mx + 1.0));
                    }
                    prop_assert_eq!(sample_variance.is_some(), n >= 2);
                    prop_assert_eq!(sample_std_dev.is_some(), n >= 2);
                }
                other => prop_assert!(false, "{:?}", other),
            }
            match cov {
                StatValue::Covariance { sum_xy, population_covariance, .. } => {
                    prop_assert_eq!(sum_xy as i128, dot_i128(&v, &w));
                    if n > 0 {
                        let pc = population_covariance.unwrap();
                        prop_assert!((pc - sxy / nf).abs() <= 1e-9 * (ssx.max(ssy) / nf + mx.abs() * my.abs() + 1.0));
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
            match r {
                StatValue::Pearson { r, sums, .. } => {
                    prop_assert_eq!(sums.map(|s| s as i128), [s1, sum_i128(&w), s2, dot_i128(&w, &w), dot_i128(&v, &w)]);
                    if ssx > 1e-6 && ssy > 1e-6 {
                        let want = sxy / (ssx * ssy).sqrt();
                        prop_assert!((r.unwrap() - want).abs() < 1e-9, "{:?} vs {}", r, want);
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }

    #[test]
    fn histogram_counts_equal_plaintext(v in bounded(60), mut edges in proptest::collection::btree_set(-B - 1..=B + 1, 0..5)) {
        let edges: Vec<i64> = std::mem::take(&mut edges).into_iter().collect();
        let out = run_three(|p| {
            let x = share(p, &v);
            histogram(p, &x, &edges, bound()).unwrap().reveal(p).unwrap()
        });
        let mut want = vec![0u64; edges.len() + 1];
        for x in &v {
            want[edges.iter().filter(|e| **e <= *x).count()] += 1;
        }
        for h in out {
            prop_assert_eq!(h, StatValue::Histogram { edges: edges.clone(), counts: want.clone() });
        }
    }

    #[test]
    fn filtered_mean_with_minimum_cohort(v in bounded(40), threshold in -B..=B, k in 0u64..6) {
        let out = run_three(|p| {
            let x = share(p, &v);
            filtered_mean(p, &x, threshold, k, bound()).unwrap().reveal(p).unwrap()
        });
        let kept: Vec<i64> = v.iter().copied().filter(|x| *x > threshold).collect();
        let want = if (kept.len() as u64) < k {
            StatValue::Withheld { min_cohort: k }
        } else {
            let s: i64 = kept.iter().sum();
            StatValue::FilteredMean {
                threshold,
                count: kept.len() as u64,
                sum: s,
                mean: (!kept.is_empty()).then(|| s as f64 / kept.len() as f64),
            }
        };
        for got in out {
            prop_assert_eq!(&got, &want);
        }
    }

    #[test]
    fn order_statistics_equal_sorted_plaintext(v in proptest::collection::vec(prop_oneof![Just(-300i64), Just(300), -300i64..=300], 1..12), q in 0.01f64..=1.0) {
        let b = ValueBound::new(300);
        let n = v.len() as u64;
        let rank = quantile_rank(q, n).unwrap();
        let out = run_three(|p| {
            let x = share(p, &v);
            (
                min(p, &x, b).unwrap().reveal(p).unwrap(),
                max(p, &x, b).unwrap().reveal(p).unwrap(),
                median(p, &x, b).unwrap().reveal(p).unwrap(),
                quantile(p, &x, q, b).unwrap().reveal(p).unwrap(),
            )
        });
        let mut sorted = v.clone();
        sorted.sort();
        let at = |r: u64| StatValue::OrderStatistic { rank: r, value: sorted[r as usize - 1] };
        for (lo, hi, med, qv) in out {
            prop_assert_eq!(lo, at(1));
            prop_assert_eq!(hi, at(n));
            prop_assert_eq!(med, at(n.div_ceil(2)));
            prop_assert_eq!(qv, at(rank));
        }
    }
}

#[test]
fn sums_at_the_largest_documented_bound_are_exact_and_beyond_are_refused() {
    // n * B^2 < 2^63 with n = 3: B = floor(sqrt((2^63 - 1) / 3))
    let n = 3u64;
    let b = (((i64::MAX as u64) / n) as f64).sqrt() as u64;
    let b = (b.saturating_sub(2)..b + 3)
        .filter(|c| (n as u128) * (*c as u128) * (*c as u128) < (1u128 << 63))
        .max()
        .unwrap();
    let v = vec![b as i64, -(b as i64), b as i64];
    let out = run_three(|p| {
        let x = share(p, &v);
        let ok = variance(p, &x, ValueBound::new(b))
            .unwrap()
            .reveal(p)
            .unwrap();
        let refused = variance(p, &x, ValueBound::new(b + 1)).unwrap_err();
        let four = share(p, &[0, 0, 0, 0]);
        let refused_n = variance(p, &four, ValueBound::new(b)).unwrap_err();
        (ok, refused, refused_n)
    });
    for (ok, refused, refused_n) in out {
        match ok {
            StatValue::Variance {
                sum, sum_squares, ..
            } => {
                assert_eq!(sum as i128, b as i128);
                assert_eq!(sum_squares as i128, 3 * (b as i128) * (b as i128));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            refused,
            StatsError::Overflow {
                statistic: "variance",
                ..
            }
        ));
        assert!(matches!(refused_n, StatsError::Overflow { .. }));
    }
}

#[test]
fn comparisons_refuse_values_beyond_two_to_the_62() {
    let out = run_three(|p| {
        let x = share(p, &[1, 2]);
        (
            histogram(p, &x, &[0], ValueBound::new(1 << 62)).unwrap_err(),
            filtered_mean(p, &x, i64::MAX, 1, ValueBound::new(10)).unwrap_err(),
            order_statistic(p, &x, 3, ValueBound::new(10)).unwrap_err(),
        )
    });
    for (h, f, o) in out {
        assert!(matches!(h, StatsError::Overflow { .. }));
        assert!(matches!(f, StatsError::Overflow { .. }));
        assert!(matches!(o, StatsError::InvalidParameter { .. }));
    }
}

#[test]
fn regression_matches_plaintext_least_squares() {
    // y = 3 + 2 x1 - x2 + noise, small integers
    let n = 50;
    let x1: Vec<i64> = (0..n).map(|i| (i * 37 % 23) - 11).collect();
    let x2: Vec<i64> = (0..n).map(|i| (i * 17 % 13) - 6).collect();
    let y: Vec<i64> = (0..n)
        .map(|i| 3 + 2 * x1[i as usize] - x2[i as usize] + (i % 5) - 2)
        .collect();
    let b = ValueBound::new(100);
    let out = run_three(|p| {
        let (a, c, t) = (share(p, &x1), share(p, &x2), share(p, &y));
        linear_regression(p, &[a, c], &t, &[b, b], b)
            .unwrap()
            .reveal(p)
            .unwrap()
    });
    // plaintext: centred normal equations solved by Cramer's rule
    let mean = |v: &[i64]| v.iter().sum::<i64>() as f64 / n as f64;
    let (m1, m2, my) = (mean(&x1), mean(&x2), mean(&y));
    let c = |u: &[i64], mu: f64, v: &[i64], mv: f64| {
        u.iter()
            .zip(v)
            .map(|(a, b)| (*a as f64 - mu) * (*b as f64 - mv))
            .sum::<f64>()
    };
    let (s11, s12, s22) = (
        c(&x1, m1, &x1, m1),
        c(&x1, m1, &x2, m2),
        c(&x2, m2, &x2, m2),
    );
    let (s1y, s2y, syy) = (c(&x1, m1, &y, my), c(&x2, m2, &y, my), c(&y, my, &y, my));
    let det = s11 * s22 - s12 * s12;
    let b1 = (s1y * s22 - s2y * s12) / det;
    let b2 = (s2y * s11 - s1y * s12) / det;
    let b0 = my - b1 * m1 - b2 * m2;
    let r2 = (b1 * s1y + b2 * s2y) / syy;
    // Standard errors from the residuals themselves: s^2 = SSE / (n - 3), Var(b) = s^2 S^-1
    // with S the centred cross products, Var(b0) = s^2 (1/n + xbar' S^-1 xbar).
    let sse: f64 = (0..n as usize)
        .map(|i| (y[i] as f64 - b0 - b1 * x1[i] as f64 - b2 * x2[i] as f64).powi(2))
        .sum();
    let s2 = sse / (n as f64 - 3.0);
    let (i11, i12, i22) = (s22 / det, -s12 / det, s11 / det);
    let se = [
        (s2 * (1.0 / n as f64 + m1 * m1 * i11 + 2.0 * m1 * m2 * i12 + m2 * m2 * i22)).sqrt(),
        (s2 * i11).sqrt(),
        (s2 * i22).sqrt(),
    ];
    for got in out {
        match got {
            StatValue::LinearRegression {
                coefficients: Some(cf),
                r_squared: Some(r),
                standard_errors: Some(errors),
                n: nn,
            } => {
                for (g, w) in errors.iter().zip(se) {
                    assert!((g - w).abs() < 1e-9 * w, "{errors:?} vs {se:?}");
                }
                assert_eq!(nn, n as u64);
                for (g, w) in cf.iter().zip([b0, b1, b2]) {
                    assert!(
                        (g - w).abs() < 1e-9 * w.abs().max(1.0),
                        "{cf:?} vs {:?}",
                        [b0, b1, b2]
                    );
                }
                assert!((r - r2).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn regression_on_collinear_covariates_gives_no_coefficients() {
    let x: Vec<i64> = (0..10).collect();
    let x2: Vec<i64> = x.iter().map(|v| 2 * v).collect();
    let b = ValueBound::new(100);
    let out = run_three(|p| {
        let (a, c) = (share(p, &x), share(p, &x2));
        linear_regression(p, &[a.clone(), c], &a, &[b, b], b)
            .unwrap()
            .reveal(p)
            .unwrap()
    });
    for got in out {
        assert!(matches!(
            got,
            StatValue::LinearRegression {
                coefficients: None,
                ..
            }
        ));
    }
}

#[test]
fn vector_sum_of_contributions() {
    let contributions = [
        vec![1i64, -2, 3],
        vec![10, 20, -30],
        vec![0, 0, i32::MAX as i64],
    ];
    let out = run_three(|p| {
        let shared: Vec<_> = contributions.iter().map(|c| share(p, c)).collect();
        let ok = vector_sum(&shared, ValueBound::new(i32::MAX as u64))
            .unwrap()
            .reveal(p)
            .unwrap();
        let refused = vector_sum(&shared, ValueBound::new(u64::MAX / 2)).unwrap_err();
        (ok, refused)
    });
    for (ok, refused) in out {
        assert_eq!(
            ok,
            StatValue::VectorSum {
                sums: vec![11, 18, i32::MAX as i64 - 27]
            }
        );
        assert!(matches!(refused, StatsError::Overflow { .. }));
    }
}

#[test]
fn sealed_aggregates_open_for_the_recipient_only() {
    let recipient = StaticSecret::random_from_rng(&mut rand::rng());
    let public = crate::PublicKey::from(&recipient);
    let v = vec![1i64, 5, 9, -3];
    let out = run_three(|p| {
        let x = share(p, &v);
        let agg = variance(p, &x, bound()).unwrap();
        let mean_agg = mean(&x, bound()).unwrap();
        (
            agg.seal(p, &public, b"request", &mut rand::rng()).unwrap(),
            mean_agg
                .seal(p, &public, b"request", &mut rand::rng())
                .unwrap(),
        )
    });
    let sealed = [0, 1, 2].map(|i| out[i].0.clone());
    match open_aggregates(&recipient, &sealed, b"request").unwrap() {
        StatValue::Variance {
            sum, sum_squares, ..
        } => assert_eq!((sum, sum_squares), (12, 116)),
        other => panic!("{other:?}"),
    }
    let mixed = [out[0].0.clone(), out[1].1.clone(), out[2].0.clone()];
    assert_eq!(
        open_aggregates(&recipient, &mixed, b"request"),
        Err(StatsError::Mismatch)
    );
    // Relabelled aggregates (another statistic, other parameters or another row count written
    // beside the same ciphertexts) and aggregates for another request do not open.
    let relabel = |f: &dyn Fn(&mut SealedAggregates)| {
        let mut s = sealed.clone();
        s.iter_mut().for_each(f);
        open_aggregates(&recipient, &s, b"request")
    };
    for changed in [
        relabel(&|s| s.statistic = Statistic::Covariance),
        relabel(&|s| s.n += 1),
        open_aggregates(&recipient, &sealed, b"another request"),
    ] {
        assert!(
            matches!(
                changed,
                Err(StatsError::Reveal(RevealError::Decrypt { .. }))
            ),
            "{changed:?}"
        );
    }
}

#[test]
fn canonical_bytes_tell_every_statistic_and_parameter_apart() {
    let all = [
        Statistic::Count,
        Statistic::Sum,
        Statistic::Mean,
        Statistic::Variance,
        Statistic::Covariance,
        Statistic::Pearson,
        Statistic::Histogram { edges: vec![] },
        Statistic::Histogram { edges: vec![1] },
        Statistic::Histogram { edges: vec![1, 2] },
        Statistic::Histogram { edges: vec![2] },
        Statistic::FilteredMean { threshold: 1 },
        Statistic::FilteredMean { threshold: -1 },
        Statistic::Withheld { min_cohort: 1 },
        Statistic::OrderStatistic { rank: 1 },
        Statistic::OrderStatistic { rank: 2 },
        Statistic::LinearRegression { covariates: 1 },
        Statistic::VectorSum,
    ];
    let bytes: std::collections::HashSet<Vec<u8>> =
        all.iter().map(Statistic::canonical_bytes).collect();
    assert_eq!(bytes.len(), all.len());
}

#[test]
fn every_statistic_handles_n_zero_one_two() {
    for v in [vec![], vec![-B], vec![B, 0]] {
        let n = v.len() as u64;
        let out = run_three(|p| {
            let x = share(p, &v);
            let var = variance(p, &x, bound()).unwrap().reveal(p).unwrap();
            let hist = histogram(p, &x, &[0], bound()).unwrap().reveal(p).unwrap();
            let filt = filtered_mean(p, &x, -1, 0, bound())
                .unwrap()
                .reveal(p)
                .unwrap();
            let r = pearson(p, &x, &x, bound(), bound())
                .unwrap()
                .reveal(p)
                .unwrap();
            let lo = (n > 0).then(|| min(p, &x, bound()).unwrap().reveal(p).unwrap());
            let empty_order = order_statistic(p, &x, n + 1, bound()).is_err();
            (var, hist, filt, r, lo, empty_order)
        });
        for (var, hist, filt, r, lo, empty_order) in out {
            let s: i64 = v.iter().sum();
            match var {
                StatValue::Variance {
                    n: nn,
                    sum,
                    mean,
                    sample_variance,
                    ..
                } => {
                    assert_eq!((nn, sum), (n, s));
                    assert_eq!(mean.is_some(), n > 0);
                    assert_eq!(sample_variance.is_some(), n > 1);
                }
                other => panic!("{other:?}"),
            }
            let below = v.iter().filter(|x| **x < 0).count() as u64;
            assert_eq!(
                hist,
                StatValue::Histogram {
                    edges: vec![0],
                    counts: vec![below, n - below]
                }
            );
            let kept: Vec<i64> = v.iter().copied().filter(|x| *x > -1).collect();
            let ks: i64 = kept.iter().sum();
            assert_eq!(
                filt,
                StatValue::FilteredMean {
                    threshold: -1,
                    count: kept.len() as u64,
                    sum: ks,
                    mean: (!kept.is_empty()).then(|| ks as f64 / kept.len() as f64),
                }
            );
            match r {
                // a single value or n = 0 has no variance: r undefined; two distinct values: r = 1
                StatValue::Pearson { r, .. } => assert_eq!(r, (n == 2).then_some(1.0)),
                other => panic!("{other:?}"),
            }
            if let Some(lo) = lo {
                assert_eq!(
                    lo,
                    StatValue::OrderStatistic {
                        rank: 1,
                        value: *v.iter().min().unwrap()
                    }
                );
            }
            assert!(empty_order);
        }
    }
}
