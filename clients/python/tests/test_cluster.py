"""The Python client against a live exact cluster: every statistic equals numpy on the values
the cohort holds (conftest.py wrote them), in the indicator's unit; bad questions, refusals and
an impostor node are errors that say what is wrong."""

import math

import numpy as np
import pytest

from hdg import Cluster, Refused

HBA1C, BMI, SBP = "4548-4", "39156-5", "8480-6"


def close(a, b, rel=1e-9):
    assert a is not None and math.isclose(a, b, rel_tol=rel, abs_tol=1e-9), (a, b)


def x(live, code=HBA1C):
    return np.array(live.values[code], dtype=np.float64)


def nearest_rank(values, q):
    return float(np.percentile(values, 100.0 * q, method="inverted_cdf"))


def test_mean_and_variance_equal_numpy_in_the_unit(live):
    r = live.cluster.mean(HBA1C)
    assert (r.statistic, r.indicator, r.unit, r.private) == ("mean", HBA1C, "%", False)
    assert r.rows == len(x(live)) and r["count"].value == len(x(live))
    close(r.value, np.mean(x(live)))
    assert r["mean"].unit == "%"
    assert len(r.query_ledger_index) == 3

    r = live.cluster.variance(SBP)
    close(r["variance"].value, np.var(x(live, SBP), ddof=1))
    close(r["standard deviation"].value, np.std(x(live, SBP), ddof=1))
    assert r["variance"].unit == "mm[Hg]2"


def test_count_and_sum(live):
    assert live.cluster.count(BMI).value == len(x(live, BMI))
    close(live.cluster.sum(BMI)["sum"].value, np.sum(x(live, BMI)))


def test_filtered_mean_keeps_the_values_above_the_threshold(live):
    r = live.cluster.mean(HBA1C, where="value > 7.5")
    kept = x(live)[x(live) > 7.5]
    assert r["count"].value == len(kept)
    close(r["mean"].value, np.mean(kept))
    close(r["threshold"].value, 7.5)


def test_order_statistics_are_the_nearest_rank_values(live):
    close(live.cluster.median(HBA1C).value, nearest_rank(x(live), 0.5))
    close(live.cluster.quantile(HBA1C, 0.9).value, nearest_rank(x(live), 0.9))
    close(live.cluster.min(SBP).value, np.min(x(live, SBP)))
    close(live.cluster.max(SBP).value, np.max(x(live, SBP)))


def test_histogram_counts_equal_numpy(live):
    edges = [6, 8, 10]
    r = live.cluster.histogram(HBA1C, edges=edges)
    expected = np.bincount(np.searchsorted(edges, x(live), side="right"), minlength=4)
    assert [f.value for f in r.figures] == expected.tolist()
    assert r.figures[0].name.startswith("bucket")


def test_pearson_and_covariance_pair_per_patient(live):
    r = live.cluster.pearson(HBA1C, pair=BMI)
    close(r["r"].value, np.corrcoef(x(live), x(live, BMI))[0, 1])
    assert r.pair == BMI
    r = live.cluster.covariance(HBA1C, pair=BMI)
    close(r["covariance"].value, np.cov(x(live), x(live, BMI), ddof=1)[0, 1])
    assert r["covariance"].unit == "%.(kg/m2)"


def test_regression_equals_least_squares(live):
    r = live.cluster.regression(SBP, predictors=[BMI, HBA1C])
    y = x(live, SBP)
    design = np.column_stack([np.ones(len(y)), x(live, BMI), x(live)])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ beta
    s2 = residuals @ residuals / (len(y) - 3)
    errors = np.sqrt(np.diag(s2 * np.linalg.inv(design.T @ design)))
    names = ["intercept", f"slope {BMI}", f"slope {HBA1C}"]
    for name, b, e in zip(names, beta, errors):
        close(r[name].value, b, rel=1e-7)
        close(r[f"standard error: {name}"].value, e, rel=1e-7)
    close(r["r squared"].value, 1 - residuals @ residuals / np.sum((y - y.mean()) ** 2), rel=1e-7)
    assert r.predictors == (BMI, HBA1C)
    assert r[f"slope {BMI}"].unit == "mm[Hg]/(kg/m2)"


def test_a_window_that_holds_no_value_selects_nothing(live):
    # The cohort's values are all on 2024-03-01.
    assert live.cluster.count(HBA1C, window=("2024-03-01", "2024-03-02")).value == 80
    with pytest.raises(Refused) as refused:
        live.cluster.mean(HBA1C, window=("2025-01-01", None))
    status, reason = refused.value.args
    assert 400 <= status < 500 and "cohort" in reason, refused.value.args


def test_to_pandas_gives_one_row_per_figure(live):
    pd = pytest.importorskip("pandas")
    frame = live.cluster.variance(HBA1C).to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == ["count", "mean", "variance", "standard deviation"]
    close(frame.loc["mean", "value"], np.mean(x(live)))


def test_a_question_that_does_not_read_is_a_value_error_naming_it(live):
    cases = [
        (lambda c: c.quantile(HBA1C, 1.5), "strictly between 0 and 1"),
        (lambda c: c.query("mode", HBA1C), "unknown statistic mode"),
        (lambda c: c.query("mean", HBA1C, wehre="value > 1"), "unknown field `wehre`"),
        (lambda c: c.mean(HBA1C, clip=(4, "lots")), "clip 4..lots"),
        (lambda c: c.mean(HBA1C, epsilon=0), "epsilon"),
        (lambda c: c.mean(HBA1C, window=("yesterday", None)), "bad time yesterday"),
        (lambda c: c.regression(SBP, predictors=[]), "predictor"),
    ]
    for ask, expected in cases:
        with pytest.raises(ValueError) as e:
            ask(live.cluster)
        assert expected in str(e.value), str(e.value)


def test_the_cluster_refuses_what_its_rules_forbid(live):
    # An exact cluster computes no two-group comparison (it is only released with noise), and
    # no indicator outside the catalog; both are refused by the nodes, with their reason.
    with pytest.raises(Refused) as refused:
        live.cluster.two_groups(HBA1C, by=BMI, where="value > 30")
    status, reason = refused.value.args
    assert 400 <= status < 500, refused.value.args
    assert reason


def test_an_impostor_node_is_refused_before_anything_is_sent(live, tmp_path):
    # The same cluster file with node 0's and node 1's keys swapped: the certificate node 0
    # presents is not of the key the file now pins for its address.
    lines = (live.dir / "cluster.toml").read_text().splitlines()
    k0, k1 = [n for n, line in enumerate(lines) if line.startswith("public_key")][:2]
    lines[k0], lines[k1] = lines[k1], lines[k0]
    (tmp_path / "cluster.toml").write_text("\n".join(lines) + "\n")
    impostor = Cluster(tmp_path, live.key)
    with pytest.raises(RuntimeError) as e:
        impostor.mean(HBA1C)
    assert "not pinned" in str(e.value) or "certificate" in str(e.value), str(e.value)


def test_a_missing_key_or_cluster_file_is_named(live, tmp_path):
    with pytest.raises(ValueError) as e:
        Cluster(live.dir, tmp_path / "none.key")
    assert "none.key" in str(e.value)
    with pytest.raises(ValueError) as e:
        Cluster(tmp_path / "nowhere", live.key)
    assert "cluster file" in str(e.value)


def test_a_private_answer_has_noise_intervals_and_no_row_count(private):
    r = private.cluster.mean(HBA1C, clip=(4, 14), epsilon=0.5)
    assert r.private and r.epsilon == 0.5 and r.rows is None
    mean = r["mean"]
    assert mean.low < mean.value < mean.high and mean.noise_sd > 0
    # Within 6 noise sds of the truth (HbA1c clipped to 4..14 changes nothing here).
    assert abs(mean.value - np.mean(x(private))) < 6 * mean.noise_sd, (mean, np.mean(x(private)))
    frame = r.to_pandas() if _has_pandas() else None
    if frame is not None:
        assert frame.loc["mean", "low"] == mean.low


def test_a_private_two_group_comparison_follows_welch(private):
    r = private.cluster.two_groups(SBP, by=BMI, where="value > 30", clip=(95, 180), epsilon=4)
    values = x(private, SBP)
    above, below = values[x(private, BMI) > 30], values[x(private, BMI) <= 30]
    for name, group in (("above", above), ("below", below)):
        f = r[f"{name}: mean"]
        assert abs(f.value - np.mean(group)) < 6 * f.noise_sd, (name, f, np.mean(group))
    assert r.by == BMI
    assert "welch t" in r.values()


def test_the_private_budget_refusal_is_a_refused_403(private):
    with pytest.raises(Refused) as refused:
        private.cluster.mean(HBA1C, clip=(4, 14), epsilon=10_000)
    status, reason = refused.value.args
    assert status in (400, 403, 422), refused.value.args
    assert "epsilon" in reason or "budget" in reason, reason


def test_a_cohort_chosen_by_another_indicator_keeps_only_its_patients(private):
    bmi = x(private, BMI)
    inside = bmi > 30
    r = private.cluster.mean(HBA1C, by=BMI, where="value > 30", clip=(4, 14), epsilon=4)
    assert r.by == BMI and r.private
    assert abs(r["count"].value - inside.sum()) < 6 * r["count"].noise_sd
    mean = r["mean"]
    assert abs(mean.value - np.mean(x(private)[inside])) < 6 * mean.noise_sd, mean

    r = private.cluster.regression(
        SBP, predictors=[f"{HBA1C}:4..14"], by=BMI, where="value > 30", clip=(95, 180), epsilon=4
    )
    assert r.predictors == (HBA1C,) and r.by == BMI
    assert abs(r["count"].value - inside.sum()) < 6 * r["count"].noise_sd
    assert {"intercept", f"slope {HBA1C}", "r squared"} <= set(r.values())


def test_an_exact_cluster_refuses_a_cohort(live):
    with pytest.raises(Refused) as refused:
        live.cluster.mean(HBA1C, by=BMI, where="value > 30")
    status, reason = refused.value.args
    assert 400 <= status < 500 and "differential privacy" in reason, refused.value.args
    with pytest.raises(ValueError) as e:
        live.cluster.mean(HBA1C, by=BMI)
    assert "needs where" in str(e.value)


def _has_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True
