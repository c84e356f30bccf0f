"""Live three-node clusters for the client's tests: `hdg init` (no consent required: synthetic
data only), three `hdg node` processes, and a cohort written here, so the tests know every value
the nodes hold and compute each statistic again with numpy. `live` answers exactly; `private`
is a differentially private cluster (the default of `hdg init`) on the same cohort.

The `hdg` binary comes from HDG_BIN, else from the release build in CARGO_TARGET_DIR (or
target/ of this checkout); `./run test` builds it first.
"""

import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hdg import Cluster

REPO = Path(__file__).resolve().parents[3]
PATIENTS = 80
# The cohort: one value per patient and indicator, so "every row" and "each patient's latest"
# (the nodes' two selection rules) give the same values. At the catalog's precision (one
# decimal), so the nodes' fixed point holds them exactly.
INDICATORS = {
    "4548-4": ("%", 4.5, 12.0),  # HbA1c
    "39156-5": ("kg/m2", 18.0, 45.0),  # BMI
    "8480-6": ("mm[Hg]", 95.0, 180.0),  # systolic blood pressure
}


def hdg_binary() -> Path:
    if os.environ.get("HDG_BIN"):
        return Path(os.environ["HDG_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "release" / "hdg"


def hdg(*args: str) -> str:
    done = subprocess.run(
        [str(hdg_binary()), *args], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise AssertionError(f"hdg {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def cohort(seed: int):
    """Values by indicator, in patient order, each rounded to one decimal; the BMI and blood
    pressure follow HbA1c loosely, so correlations and slopes are not zero."""
    rng = random.Random(seed)
    values = {code: [] for code in INDICATORS}
    for _ in range(PATIENTS):
        a1c = rng.uniform(4.5, 12.0)
        bmi = min(45.0, max(18.0, 16.0 + 2.2 * a1c + rng.gauss(0, 3)))
        sbp = min(180.0, max(95.0, 90.0 + 1.1 * bmi + 3.0 * a1c + rng.gauss(0, 8)))
        for code, v in (("4548-4", a1c), ("39156-5", bmi), ("8480-6", sbp)):
            values[code].append(round(v, 1))
    return values


def write_csv(path: Path, values) -> None:
    lines = ["patient,indicator,value,unit,effective,source"]
    for code, (unit, _, _) in INDICATORS.items():
        for p, v in enumerate(values[code]):
            lines.append(f"py-{p:03d},{code},{v:.1f},{unit},2024-03-01,pytest")
    path.write_text("\n".join(lines) + "\n")


def wait_for(what: str, check, within: float = 90.0):
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except RuntimeError as e:  # not up yet
            last = e
        time.sleep(0.2)
    raise AssertionError(f"{what} within {within} s (last error: {last})")


@dataclass
class Live:
    dir: Path
    cluster: Cluster
    key: Path
    values: dict


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """An exact cluster (`--privacy exact`)."""
    yield from running_cluster(tmp_path_factory.mktemp("exact"), ["--privacy", "exact"])


@pytest.fixture(scope="session")
def private(tmp_path_factory):
    """A differentially private cluster."""
    yield from running_cluster(tmp_path_factory.mktemp("private"), [])


def running_cluster(d: Path, init_args):
    if not hdg_binary().exists():
        pytest.fail(f"no hdg binary at {hdg_binary()}: build it (cargo build --release) or set HDG_BIN")
    hdg("init", "--cluster", str(d), "--nodes", "3", "--without-consent", *init_args)
    nodes = []
    try:
        for i in range(3):
            log = open(d / f"node{i}.log", "ab")
            nodes.append(
                subprocess.Popen(
                    [str(hdg_binary()), "node", "--config", str(d / f"node{i}.toml")],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        key = d / "identities" / "research-institute.key"
        cluster = Cluster(d, key, timeout=120)
        wait_for(
            "node0 healthy with both peers",
            lambda: cluster.health()["peers_connected"] >= 2,
        )
        values = cohort(seed=20261130)
        data = d / "cohort.csv"
        write_csv(data, values)
        source = d / "identities" / "source-node0.key"
        hdg("ingest", "--node", cluster.node, "--cluster", str(d), "--key", str(source), str(data))
        wait_for("node0's shares delivered", lambda: cluster.health()["outbox"] == 0)
        yield Live(dir=d, cluster=cluster, key=key, values=values)
    finally:
        for n in nodes:
            n.terminate()
        for n in nodes:
            try:
                n.wait(timeout=30)
            except subprocess.TimeoutExpired:
                n.kill()
