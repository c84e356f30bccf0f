//! Enrolment end to end, without editing a file or restarting a node: patients registered with
//! the cluster but enrolled nowhere are enrolled at node 0 (`hdg enrol`, signed by node 0's
//! administrator and co-signed by the patient), consent, and are counted; an enrolment and an
//! unenrolment are in the ledger and in the patient's audit; after an unenrolment the records
//! taken in are filed under the hospital's pseudonym again and never shared; the links survive a
//! restart. Refused, each naming its rule: staff of another hospital, no patient co-signature,
//! a reference already enrolled to another key, a replayed request, an unknown field.

use std::path::Path;

use hdg_gateway::cli::enrol::request;
use hdg_gateway::node::approvals::ApprovedRequest;
use hdg_gateway::node::enrolment::Action;
use hdg_gateway::node::signed::Kind;
use serde_json::Value;

mod common;
use common::*;

const HEART_RATE: &str = "8867-4";

/// `hdg enrol` at node 0 linking `reference` to the patient of `patient`, approved by the
/// staff key `staff` (a file under `identities/`): success and output.
fn enrol(
    dir: &Path,
    reference: &str,
    patient: &Path,
    staff: &str,
    extra: &[&str],
) -> (bool, String) {
    let staff = dir.join("identities").join(staff);
    let mut args = vec![
        "--reference",
        reference,
        "--patient-key",
        patient.to_str().unwrap(),
        "--staff-key",
        staff.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    hdg_at(dir, 0, "enrol", &args)
}

/// Posts an approved enrolment request to node 0: status and answer.
fn post_enrolment(dir: &Path, req: &ApprovedRequest) -> (u16, Value) {
    let body = serde_json::to_vec(req).unwrap();
    http(
        http_addr(dir, 0),
        "POST",
        "/v1/enrolments",
        Some(("application/json", &body)),
    )
}

/// The `enrolment` entries of the audit of the patient of `key`, at node 0.
fn enrolments_in_audit(dir: &Path, key: &Path) -> Vec<Value> {
    let (ok, out) = audit_at(dir, 0, key, &["--json"]);
    assert!(ok, "{out}");
    let audit: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    audit["nodes"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "enrolment")
        .map(|e| e["enrolment"].clone())
        .collect()
}

#[test]
fn staff_and_patients_enrol_without_a_restart_and_every_broken_rule_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_cluster(dir);
    let keys = register_patients(dir, 3);
    let [a_key, b_key, c_key] = &keys[..] else {
        unreachable!("three patients")
    };
    let bundles = ["patient-0.json", "patient-2.json"].map(synthea_bundle);
    let [a_ref, b_ref] = [&bundles[0], &bundles[1]].map(|b| patient_reference(b));
    let mut nodes = Nodes::start_healthy(dir);

    // Staff of another hospital: admin-1 administers node1, not node0.
    let (ok, out) = enrol(dir, &a_ref, a_key, "admin-1.key", &[]);
    assert!(!ok);
    assert!(out.contains("staff of hospital \"node1\""), "{out}");
    // node0's administrator and the patient: enrolled, applied at once.
    let (ok, out) = enrol(dir, &a_ref, a_key, "admin-0.key", &[]);
    assert!(ok, "{out}");
    assert!(out.contains("enrolled at node0"), "{out}");
    // No co-signature: the staff member's approval alone.
    let staff = seed_key(&dir.join("identities/admin-0.key"));
    let [b, c] = [b_key, c_key].map(|k| seed_key(k));
    let mut alone = request(Action::Enrol, "node0", &b_ref, &b, &staff).unwrap();
    alone.approvals.pop();
    let (status, answer) = post_enrolment(dir, &alone);
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("has not co-signed"),
        "{answer}"
    );
    // A reference already enrolled to another key.
    let (status, answer) = post_enrolment(
        dir,
        &request(Action::Enrol, "node0", &a_ref, &c, &staff).unwrap(),
    );
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("already enrolled to another key")
    );
    // A field the body does not have (a role, say), re-signed by both: malformed, named.
    let mut odd = request(Action::Enrol, "node0", &b_ref, &b, &staff).unwrap();
    odd.body = odd.body.replace('}', r#","role":"doctor"}"#);
    odd.approvals.clear();
    odd.approve(&staff, Kind::Enrolment);
    odd.approve(&b, Kind::Enrolment);
    let (status, answer) = post_enrolment(dir, &odd);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `role`")
    );
    // B enrolled by a request built here; the same request again is a replay.
    let b_enrol = request(Action::Enrol, "node0", &b_ref, &b, &staff).unwrap();
    let (status, answer) = post_enrolment(dir, &b_enrol);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["action"], "enrol");
    let (status, answer) = post_enrolment(dir, &b_enrol);
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("replayed"),
        "{answer}"
    );

    // Ingested after the enrolment: filed under the patients' keys, so their grants cover them.
    ingest_at_node0(dir, &bundles);
    for key in [a_key, b_key] {
        let (ok, out) = consent_at(
            dir,
            2,
            key,
            &["grant", "--purpose", "research", "--indicator", HEART_RATE],
        );
        assert!(ok, "{out}");
    }
    wait_outbox_empty(&mut nodes, dir, 0);
    let used = patients_used(dir, HEART_RATE, &[a_key, b_key, c_key]).unwrap();
    assert_eq!(used, vec![true, true, false]);

    // The enrolment is in the patient's audit, naming who enrolled them and never the reference.
    let a_entries = enrolments_in_audit(dir, a_key);
    assert_eq!(a_entries.len(), 1, "{a_entries:?}");
    assert_eq!(a_entries[0]["action"], "enrol");
    assert_eq!(a_entries[0]["by"], "admin-0");
    assert!(!a_entries[0].to_string().contains(&a_ref));
    let (_, text) = audit_at(dir, 0, a_key, &[]);
    assert!(
        text.contains("your key linked to your records at node0, by admin-0"),
        "{text}"
    );

    // Unenrolment: both sign again; what node 0 takes in afterwards is filed under its own
    // pseudonym of the reference, which no consent can name, so nothing of it is shared.
    let (ok, out) = enrol(dir, &b_ref, b_key, "admin-0.key", &["--unenrol"]);
    assert!(ok, "{out}");
    let (ok, out) = enrol(dir, &b_ref, b_key, "admin-0.key", &["--unenrol"]);
    assert!(!ok);
    assert!(out.contains("not enrolled"), "{out}");
    let (status, receipt) = post_observations(dir, 0, "", "application/fhir+json", &bundles[1]);
    assert_eq!(status, 200, "{receipt}");
    assert!(
        !receipt["records"].as_array().unwrap().is_empty(),
        "new records: {receipt}"
    );
    assert_eq!(
        receipt["outbox"], 0,
        "nothing of theirs is queued for sharing"
    );
    let actions: Vec<Value> = enrolments_in_audit(dir, b_key)
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(actions, vec!["enrol", "unenrol"]);

    // The links survive a restart: A is still enrolled, B not.
    nodes.terminate(0, std::time::Duration::from_secs(20));
    nodes.start(dir, 0);
    wait_healthy(&mut nodes, dir, 0, 2);
    let (ok, out) = enrol(dir, &a_ref, a_key, "admin-0.key", &[]);
    assert!(!ok);
    assert!(out.contains("already enrolled to this key"), "{out}");
    let (ok, out) = enrol(dir, &b_ref, b_key, "admin-0.key", &[]);
    assert!(ok, "{out}");
    nodes.terminate(0, std::time::Duration::from_secs(20));
    drop(nodes);
    // Every enrolment entry's text still matches what the ledger anchored.
    let store = open_store(dir, 0);
    store.verify(&store.verifier()).unwrap();
    let links = store.enrolments().unwrap();
    assert_eq!(links.iter().filter(|l| l.enrolled).count(), 2, "{links:?}");
}
