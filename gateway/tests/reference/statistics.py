"""The plaintext reference of gateway/tests/numpy_reference.rs: each statistic computed with
numpy and scipy from the cohort's rows, under the nodes' selection rules written here again
(not taken from the gateway): an exact statistic of one indicator uses every row; a statistic of
several, and every private one, pairs each patient's latest row of each (latest day, then
larger record handle) and keeps the patients who have all of them; a private one clips each
value to the query's bounds. Values are the catalog's fixed-point integers.

Usage: statistics.py ROWS.csv QUESTIONS.json  (prints one JSON object: answer per question name)
ROWS.csv: indicator,patient,day,handle,value (hex pseudonym and handle, day in unix ms).
"""

import csv
import json
import sys

import numpy as np
from scipy import stats


def read_rows(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["indicator"], []).append(
                (r["patient"], int(r["day"]), r["handle"], int(r["value"]))
            )
    return rows


def latest(rows):
    """Each patient's latest value: by day, then the larger handle (as bytes: equal-length
    lowercase hex compares alike)."""
    best = {}
    for patient, day, handle, value in rows:
        if patient not in best or (day, handle) > best[patient][:2]:
            best[patient] = (day, handle, value)
    return {p: v[2] for p, v in best.items()}


def paired(rows, codes):
    """Columns of each patient's latest value of every code, patients with all, in pseudonym
    order."""
    per_code = [latest(rows[c]) for c in codes]
    patients = sorted(set.intersection(*(set(m) for m in per_code)))
    return [np.array([m[p] for p in patients], dtype=np.float64) for m in per_code]


def ols(y, xs):
    """Least squares of y on xs with an intercept: coefficients, classical standard errors,
    R^2."""
    design = np.column_stack([np.ones(len(y))] + xs)
    beta, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    assert rank == design.shape[1]
    residuals = y - design @ beta
    s2 = residuals @ residuals / (len(y) - design.shape[1])
    errors = np.sqrt(np.diag(s2 * np.linalg.inv(design.T @ design)))
    r2 = 1.0 - (residuals @ residuals) / np.sum((y - y.mean()) ** 2)
    return beta, errors, float(r2)


def in_cohort(rows, codes, cohort):
    """Columns of each patient's latest value of every code, the patients with all of them and
    with a latest value of the cohort's indicator above its threshold."""
    columns = paired(rows, codes + [cohort["by"]])
    keep = columns[-1] > cohort["threshold"]
    return [c[keep] for c in columns[:-1]]


def cohort_mean(rows, q):
    """A private mean in a cohort: count and mean of the clipped latest values of its patients."""
    (x,) = in_cohort(rows, [q["indicator"]], q["cohort"])
    x = np.clip(x, *q["clip"])
    return {"count": float(len(x)), "mean": float(np.mean(x))}


def private_regression(rows, q):
    """A private regression's estimates by name: each patient's latest values (of a cohort's
    patients only, with one), clipped."""
    codes = [q["indicator"]] + q["predictors"]
    clips = [q["clip"]] + q["predictor_clips"]
    chosen = in_cohort(rows, codes, q["cohort"]) if "cohort" in q else paired(rows, codes)
    columns = [np.clip(c, lo, hi) for c, (lo, hi) in zip(chosen, clips)]
    beta, errors, r2 = ols(columns[0], columns[1:])
    names = ["intercept"] + [f"slope {j}" for j in range(1, len(beta))]
    out = {"count": float(len(columns[0]))}
    out.update({n: float(b) for n, b in zip(names, beta)})
    out.update({f"standard error: {n}": float(e) for n, e in zip(names, errors)})
    out["r squared"] = r2
    return out


def two_groups(rows, q):
    """A two-group comparison's estimates by name: each patient's latest x (clipped) split by
    their latest `by` above the threshold; Welch's t and its degrees of freedom from scipy."""
    x, by = paired(rows, [q["indicator"], q["by"]])
    x = np.clip(x, *q["clip"])
    above, below = x[by > q["threshold"]], x[by <= q["threshold"]]
    welch = stats.ttest_ind(above, below, equal_var=False)
    out = {}
    for name, g in (("above", above), ("below", below)):
        out[f"{name}: count"] = float(len(g))
        out[f"{name}: mean"] = float(np.mean(g))
        out[f"{name}: variance"] = float(np.var(g, ddof=1))
    out["difference of means"] = float(np.mean(above) - np.mean(below))
    out["welch t"] = float(welch.statistic)
    out["degrees of freedom"] = float(welch.df)
    return out


def nearest_rank(x, q):
    return float(np.percentile(x, 100.0 * q, method="inverted_cdf"))


def answer(rows, q):
    stat = q["stat"]
    if stat in ("covariance", "pearson"):
        x, y = paired(rows, [q["indicator"], q["pair"]])
        if stat == "covariance":
            return {"n": len(x), "covariance": float(np.cov(x, y, ddof=1)[0, 1])}
        return {"n": len(x), "r": float(stats.pearsonr(x, y).statistic)}
    if stat == "two_groups":
        return two_groups(rows, q)
    if stat == "cohort_mean":
        return cohort_mean(rows, q)
    if stat == "regression" and "clip" in q:
        return private_regression(rows, q)
    if stat == "regression":
        columns = paired(rows, [q["indicator"]] + q["predictors"])
        beta, errors, r2 = ols(columns[0], columns[1:])
        return {
            "n": len(columns[0]),
            "coefficients": beta.tolist(),
            "standard_errors": errors.tolist(),
            "r_squared": r2,
        }
    x = np.array([r[3] for r in rows[q["indicator"]]], dtype=np.float64)
    if stat == "mean":
        return {"n": len(x), "mean": float(np.mean(x))}
    if stat == "variance":
        return {"n": len(x), "variance": float(np.var(x, ddof=1))}
    if stat == "median":
        return {"value": nearest_rank(x, 0.5)}
    if stat == "quantile":
        return {"value": nearest_rank(x, q["q"])}
    if stat == "min":
        return {"value": float(np.min(x))}
    if stat == "max":
        return {"value": float(np.max(x))}
    if stat == "histogram":
        # Buckets (-inf, e0), [e0, e1), ..., [ek, +inf).
        bucket = np.searchsorted(np.array(q["edges"]), x, side="right")
        return {"counts": np.bincount(bucket, minlength=len(q["edges"]) + 1).tolist()}
    if stat == "filtered_mean":
        kept = x[x > q["threshold"]]
        return {"count": len(kept), "mean": float(np.mean(kept))}
    raise SystemExit(f"unknown statistic {stat}")


def main():
    rows = read_rows(sys.argv[1])
    with open(sys.argv[2]) as f:
        questions = json.load(f)
    print(json.dumps({q["name"]: answer(rows, q) for q in questions}))


if __name__ == "__main__":
    main()
