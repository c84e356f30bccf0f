"""Ask a Healthcare Data Gateway cluster for statistics computed by multi-party computation.

    from hdg import Cluster
    c = Cluster("cluster/cluster.toml", "cluster/identities/researcher.key")
    r = c.mean("4548-4", window=("2020-01-01", "2025-01-01"))
    print(r.value, r.unit)          # e.g. 6.12 %
    r.to_pandas()                   # one row per figure, with noise intervals when private

Every query is signed with the researcher's key, answered by the three computing parties in
sealed secret shares, and checked here (each party's signature against the key the cluster file
pins, the same rows at all three, the answer bound to this request) before it is opened. The
checks and the protocol are the Rust client's (`hdg-client`), the same code as `hdg query`.

Values are in the indicator's unit, as the catalog gives it (UCUM): a window is a pair of FHIR
dates or dateTimes (from included, to excluded), clipping bounds are (low, high) in the unit, and
a filter is a clause such as "value > 6.5 %".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple, Union

from hdg._native import Refused, Researcher

__all__ = ["Cluster", "Figure", "Refused", "Result"]

Window = Tuple[Optional[str], Optional[str]]
Bounds = Union[str, Tuple[float, float]]


@dataclass(frozen=True)
class Figure:
    """One figure of an answer, in `unit`. A private answer's figures carry the 95% interval
    of the noise the parties added (`low`, `high`) and its standard deviation; an exact
    answer's carry none. `value` is None when undefined (a mean of no values)."""

    name: str
    value: Optional[float]
    unit: str
    low: Optional[float] = None
    high: Optional[float] = None
    noise_sd: Optional[float] = None


@dataclass(frozen=True)
class Result:
    """A checked, opened answer."""

    statistic: str
    indicator: str
    unit: str
    private: bool
    figures: Tuple[Figure, ...]
    epsilon: Optional[float] = None
    rows: Optional[int] = None
    pair: Optional[str] = None
    by: Optional[str] = None
    predictors: Optional[Tuple[str, ...]] = None
    query_ledger_index: Tuple[Optional[int], ...] = ()
    fixed_point: Any = field(default=None, repr=False)

    def __getitem__(self, name: str) -> Figure:
        """The figure called `name` (`"mean"`, `"r"`, `"slope 39156-5"`, ...)."""
        for f in self.figures:
            if f.name == name:
                return f
        names = ", ".join(f.name for f in self.figures)
        raise KeyError(f"{name!r}: this answer has {names}")

    @property
    def value(self) -> Optional[float]:
        """The figure named after the statistic (`mean`, `variance`, ...), or else the last
        figure (a count's count, a quantile's value)."""
        for f in self.figures:
            if f.name == self.statistic:
                return f.value
        return self.figures[-1].value if self.figures else None

    def values(self) -> dict:
        """Every figure's value by name."""
        return {f.name: f.value for f in self.figures}

    def to_pandas(self):
        """The figures as a pandas DataFrame (needs pandas: `pip install hdg[pandas]`)."""
        import pandas as pd

        return pd.DataFrame(
            [f.__dict__ for f in self.figures],
            columns=["name", "value", "unit", "low", "high", "noise_sd"],
        ).set_index("name")

    @staticmethod
    def from_json(text: str) -> "Result":
        d = json.loads(text)
        return Result(
            statistic=d["statistic"],
            indicator=d["indicator"],
            unit=d["unit"],
            private=d["private"],
            figures=tuple(Figure(**f) for f in d["figures"]),
            epsilon=d.get("epsilon"),
            rows=d.get("rows"),
            pair=d.get("pair"),
            by=d.get("by"),
            predictors=tuple(d["predictors"]) if d.get("predictors") else None,
            query_ledger_index=tuple(d.get("query_ledger_index", ())),
            fixed_point=d.get("fixed_point"),
        )


def _bounds(bounds: Optional[Bounds]) -> Optional[str]:
    if bounds is None or isinstance(bounds, str):
        return bounds
    low, high = bounds
    return f"{low}..{high}"


class Cluster:
    """A researcher's connection to a cluster.

    `cluster` is the cluster file (`cluster.toml` from `hdg init`, or its folder): the keys
    answers must be signed by. `key` is the researcher's key file (64 hex digits). `node` is the
    coordinator's API (default: the first node of the cluster file); `insecure_http` allows a
    plain-HTTP node, for local debugging only. `timeout` is in seconds.
    """

    def __init__(
        self,
        cluster: str,
        key: str,
        node: Optional[str] = None,
        insecure_http: bool = False,
        timeout: float = 120.0,
    ):
        self._researcher = Researcher(str(cluster), str(key), node, insecure_http)
        self.timeout = timeout

    @property
    def node(self) -> str:
        """The coordinator's URL."""
        return self._researcher.node

    def health(self, timeout: float = 10.0) -> dict:
        """The coordinator's health report: its peers, its outbox of shares not yet delivered."""
        return json.loads(self._researcher.health(timeout))

    def query(
        self,
        stat: str,
        indicator: str,
        *,
        window: Optional[Window] = None,
        epsilon: Optional[float] = None,
        clip: Optional[Bounds] = None,
        purpose: Optional[str] = None,
        **params: Any,
    ) -> Result:
        """Asks `stat` of `indicator`. `params` are the statistic's own: `where` (a clause),
        `by` (with `where`: a cohort, or the split of two-groups), `pair`, `pair_clip`, `predictors` (codes, or `CODE:LO..HI`), `quantile`, `edges`
        (a sequence of numbers in the unit) and `min_cohort`. Raises ValueError for a question
        that does not read, Refused when the cluster refuses it, RuntimeError when an answer
        fails a check or the node cannot be reached."""
        request: dict = {"stat": stat, "indicator": indicator}
        if window is not None:
            start, end = window
            if start is not None:
                request["from"] = start
            if end is not None:
                request["to"] = end
        if epsilon is not None:
            request["epsilon"] = float(epsilon)
        if clip is not None:
            request["clip"] = _bounds(clip)
        if purpose is not None:
            request["purpose"] = purpose
        if "pair_clip" in params:
            params["pair_clip"] = _bounds(params["pair_clip"])
        if "edges" in params and not isinstance(params["edges"], str):
            params["edges"] = ",".join(str(e) for e in params["edges"])
        if "predictors" in params:
            params["predictors"] = list(params["predictors"])
        request.update(params)
        return Result.from_json(self._researcher.ask(json.dumps(request), self.timeout))

    def count(self, indicator: str, **kw: Any) -> Result:
        """How many values."""
        return self.query("count", indicator, **kw)

    def sum(self, indicator: str, **kw: Any) -> Result:
        """The sum of the values."""
        return self.query("sum", indicator, **kw)

    def mean(
        self, indicator: str, where: Optional[str] = None, by: Optional[str] = None, **kw: Any
    ) -> Result:
        """The mean; with `where` ("value > 7"), the count and mean of the matching values;
        with `by` and `where` ("value > 30"), the count and mean in the cohort of patients whose
        latest `by` matches (a private cluster; nobody learns who is in)."""
        if where is not None:
            kw["where"] = where
        if by is not None:
            kw["by"] = by
        return self.query("mean", indicator, **kw)

    def variance(self, indicator: str, **kw: Any) -> Result:
        """Count, mean, sample variance and standard deviation."""
        return self.query("variance", indicator, **kw)

    def median(self, indicator: str, **kw: Any) -> Result:
        """The median."""
        return self.query("median", indicator, **kw)

    def quantile(self, indicator: str, q: float, **kw: Any) -> Result:
        """The q-quantile, 0 < q < 1 in thousandths."""
        return self.query("quantile", indicator, quantile=q, **kw)

    def min(self, indicator: str, **kw: Any) -> Result:
        """The smallest value."""
        return self.query("min", indicator, **kw)

    def max(self, indicator: str, **kw: Any) -> Result:
        """The largest value."""
        return self.query("max", indicator, **kw)

    def histogram(self, indicator: str, edges: Sequence[float], **kw: Any) -> Result:
        """Counts between consecutive `edges` (in the unit), and below and above them."""
        return self.query("histogram", indicator, edges=edges, **kw)

    def pearson(self, indicator: str, pair: str, **kw: Any) -> Result:
        """Pearson's r between two indicators, paired per patient."""
        return self.query("pearson", indicator, pair=pair, **kw)

    def covariance(self, indicator: str, pair: str, **kw: Any) -> Result:
        """The sample covariance of two indicators, paired per patient."""
        return self.query("covariance", indicator, pair=pair, **kw)

    def regression(self, outcome: str, predictors: Sequence[str], **kw: Any) -> Result:
        """Least squares of `outcome` on `predictors` (1 to 8): intercept, slopes, their
        standard errors and R squared; with `by` and `where`, over the cohort of patients whose
        latest `by` matches (a private cluster)."""
        return self.query("regression", outcome, predictors=predictors, **kw)

    def two_groups(self, indicator: str, by: str, where: str, **kw: Any) -> Result:
        """Means and variances of `indicator` in the patients whose `by` matches `where` and
        in the others, from which Welch's t follows."""
        return self.query("two-groups", indicator, by=by, where=where, **kw)
