//! Disclosure control on a running private cluster (`privacy = "dp"`, the default of
//! `hdg init`), against the attacks of the disclosure-control issue:
//! - **differencing**: the sum over a window, then over the window one day longer, where only
//!   the target patient has a value on that day. On exact answers the difference is the
//!   target's value; here it is off by the noise of two releases, and the answers carry no row
//!   count, no bytes sent and no row digest that could tell the windows apart;
//! - **the budget ends it**: each party charges every query to the researcher in its own store
//!   and refuses the one that would exceed the budget, naming it, whichever node coordinates,
//!   after a restart of all three, and when the coordinator's own rules lie (a bigger budget).

use std::time::Duration;

use hdg_gateway::node::query::privacy::DpRules;
use serde_json::Value;

mod common;
use common::*;

const HEART_RATE: &str = "8867-4";
/// What each node's config allows one researcher per period (epsilon at delta 1e-6).
const BUDGET: f64 = 7.0;
/// What each query spends.
const EPSILON: f64 = 1.0;

fn rules() -> DpRules {
    DpRules {
        delta: 1e-6,
        max_epsilon: 4.0,
        budget_epsilon: BUDGET,
        period_days: 30,
    }
}

/// A private sum of heart rates over `[2024-05-01, to)` asked at node `i`: the sum estimate, or
/// the refusal's status and reason.
fn sum_until(dir: &std::path::Path, i: usize, to: &str) -> Result<f64, (u64, String)> {
    let (ok, text) = hdg_query(
        dir,
        i,
        &researcher(dir),
        &[
            "--stat",
            "sum",
            "--indicator",
            HEART_RATE,
            "--from",
            "2024-05-01",
            "--to",
            to,
            "--epsilon",
            &EPSILON.to_string(),
            "--clip",
            "40..140",
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {text}"));
    if !ok {
        return Err((
            json["status"].as_u64().unwrap_or(0),
            json["error"].as_str().unwrap_or_default().to_string(),
        ));
    }
    assert!(
        json["rows"].is_null(),
        "a private answer carries no row count: {json}"
    );
    let estimates = json["fixed_point"]["result"]["Private"]["estimates"]
        .as_array()
        .unwrap();
    let sum = estimates.iter().find(|e| e["name"] == "sum").unwrap();
    assert!(sum["low"].as_f64() < sum["value"].as_f64(), "{sum}");
    Ok(sum["value"].as_f64().unwrap())
}

fn assert_budget_refusal(outcome: Result<f64, (u64, String)>, at: &str) {
    let (status, reason) = outcome.expect_err(at);
    assert_eq!(status, 403, "{at}: {reason}");
    assert!(
        reason.contains("privacy budget exhausted") && reason.contains(&BUDGET.to_string()),
        "{at}: {reason}"
    );
}

#[test]
fn differencing_is_noise_and_the_budget_ends_it_at_every_party() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_private_cluster(dir, &[("dp_budget_epsilon", &BUDGET.to_string())]);
    let mut nodes = Nodes::start_healthy(dir);
    // Nine patients on the first nine days; the target alone on the tenth.
    let target = 87.3;
    let mut csv = String::from("patient,indicator,value,unit,effective,source\n");
    for d in 0..9 {
        csv.push_str(&format!(
            "p-{d},{HEART_RATE},{},/min,2024-05-{:02},ward\n",
            60 + d,
            d + 1
        ));
    }
    csv.push_str(&format!(
        "target,{HEART_RATE},{target},/min,2024-05-10T08:30:00Z,ward\n"
    ));
    let (status, receipt) = post_observations(dir, 0, "", "text/csv", csv.as_bytes());
    assert_eq!(status, 200, "{receipt}");
    wait_outbox_empty(&mut nodes, dir, 0);

    // The attack, pair after pair, until the budget stops it.
    let r = rules();
    let fits = r.budget_nano_rho() / r.charge(EPSILON);
    assert!(fits >= 10, "{fits}");
    let mut estimates = Vec::new();
    let mut answered = 0;
    let refusal = loop {
        let with = sum_until(dir, 1, "2024-05-11");
        if with.is_err() {
            break with;
        }
        answered += 1;
        let without = sum_until(dir, 1, "2024-05-10");
        if without.is_err() {
            break without;
        }
        answered += 1;
        estimates.push(with.unwrap() - without.unwrap());
    };
    assert_eq!(answered, fits, "the budget admits exactly what it holds");
    assert_budget_refusal(refusal, "the attack's next query");
    // Each estimate of the target's value is off by the noise of two sums (clip 40..140 /min:
    // radius 500 in tenths), far beyond the value's resolution; none is exact.
    let errors: Vec<f64> = estimates.iter().map(|e| e - target * 10.0).collect();
    assert!(errors.iter().all(|e| e.abs() > 0.5), "{errors:?}");
    let n = errors.len() as f64;
    let rms = (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
    assert!(rms > 1_000.0, "rms error {rms} (tenths of /min)");

    // `hdg budget` asks each node for its own record: all spent.
    let (ok, out) = hdg_text(&[
        "budget",
        "--cluster",
        dir.to_str().unwrap(),
        "--key",
        researcher(dir).to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{out}");
    let budget: Value = serde_json::from_str(out.trim()).unwrap();
    for node in budget["nodes"].as_array().unwrap() {
        assert_eq!(node["queries_of_epsilon_1_left"], 0, "{node}");
        let spent = node["spent_epsilon"].as_f64().unwrap();
        assert!(spent > BUDGET - 1.0 && spent <= BUDGET, "{node}");
    }

    // Refused by every party, whichever coordinates.
    for i in 0..3 {
        assert_budget_refusal(sum_until(dir, i, "2024-05-11"), &format!("node{i}"));
    }
    // After a restart of all three: the spend is in each store.
    for i in 0..3 {
        nodes.terminate(i, Duration::from_secs(20));
    }
    for i in 0..3 {
        nodes.start(dir, i);
    }
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    for i in 0..3 {
        assert_budget_refusal(
            sum_until(dir, i, "2024-05-11"),
            &format!("node{i} after a restart"),
        );
    }
    // A coordinator whose own rules lie (a budget ten times larger) passes its own check; the
    // other two parties check their own stores and refuse.
    nodes.terminate(0, Duration::from_secs(20));
    set_config(dir, 0, &[("dp_budget_epsilon", "70.0")]);
    nodes.start(dir, 0);
    wait_healthy(&mut nodes, dir, 0, 2);
    assert_budget_refusal(sum_until(dir, 0, "2024-05-11"), "a lying coordinator");
    for i in 0..3 {
        nodes.assert_running(i);
    }
}
