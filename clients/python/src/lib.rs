//! `hdg._native`: the researcher side of `hdg-client` for Python. One class, `Researcher`,
//! whose `ask` takes a request as JSON (`hdg_client::request::Request`) and returns the
//! checked, opened answer as JSON (`hdg_client::report::Report`); `python/hdg/__init__.py`
//! turns both into Python values. Everything a client checks (the pinned TLS key, the three
//! parties' signatures, the sealed answers) is the Rust client's, unchanged.
//!
//! Errors: a request that does not read is a `ValueError`; the cluster's refusal is a
//! `Refused(status, reason)`; anything else (the node unreachable, an answer failing a check)
//! is a `RuntimeError` naming the cause.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use hdg_client::request::Request;
use hdg_client::researcher;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    hdg._native,
    Refused,
    PyException,
    "The cluster refused the query: args are (HTTP status, reason)."
);

/// A researcher's connection to a cluster: its cluster file's pins, the coordinator and the
/// researcher's key.
#[pyclass(frozen, module = "hdg._native")]
struct Researcher(researcher::Researcher);

/// The error and its causes on one line.
fn runtime(e: anyhow::Error) -> PyErr {
    PyRuntimeError::new_err(format!("{e:#}"))
}

/// A timeout in seconds, refused unless positive and finite.
fn seconds(timeout: f64) -> PyResult<Duration> {
    if !(timeout.is_finite() && timeout > 0.0) {
        return Err(PyValueError::new_err(
            "timeout: a positive number of seconds",
        ));
    }
    Ok(Duration::from_secs_f64(timeout))
}

#[pymethods]
impl Researcher {
    /// Loads the cluster file and the key file and dials `node` (default: party 0's API).
    #[new]
    #[pyo3(signature = (cluster, key, node=None, insecure_http=false))]
    fn new(
        cluster: PathBuf,
        key: PathBuf,
        node: Option<String>,
        insecure_http: bool,
    ) -> PyResult<Researcher> {
        researcher::Researcher::open(&cluster, &key, node.as_deref(), insecure_http)
            .map(Researcher)
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))
    }

    /// The coordinator's base URL.
    #[getter]
    fn node(&self) -> String {
        self.0.node().to_owned()
    }

    /// The coordinator's health report as JSON (its peers, its outbox of undelivered shares).
    #[pyo3(signature = (timeout=10.0))]
    fn health(&self, py: Python<'_>, timeout: f64) -> PyResult<String> {
        let timeout = seconds(timeout)?;
        let health = py.detach(|| self.0.health(timeout)).map_err(runtime)?;
        Ok(health.to_string())
    }

    /// Asks `request` (JSON) and returns the report (JSON); waits at most `timeout` seconds,
    /// without holding the GIL.
    #[pyo3(signature = (request, timeout=120.0))]
    fn ask(&self, py: Python<'_>, request: &str, timeout: f64) -> PyResult<String> {
        let request: Request = serde_json::from_str(request)
            .map_err(|e| PyValueError::new_err(format!("request: {e}")))?;
        let question = request
            .question()
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
        let timeout = seconds(timeout)?;
        let answer = py
            .detach(|| self.0.ask_question(&request, question, timeout, None))
            .map_err(runtime)?;
        match answer {
            Ok(report) => serde_json::to_string(&report).map_err(|e| runtime(e.into())),
            Err(refused) => Err(Refused::new_err((refused.status, refused.reason))),
        }
    }
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Researcher>()?;
    m.add("Refused", m.py().get_type::<Refused>())?;
    Ok(())
}
