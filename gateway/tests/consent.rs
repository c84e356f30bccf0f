//! Consent end to end: three Synthea patients enrolled at node 0 with their own keys, their
//! bundles ingested (values held back until a consent covers them, then shared), and researcher
//! queries on a cluster that requires consent.
//! Nothing is computed before anyone consents; a grant lets exactly that patient's rows in
//! (only the indicators it names); a revocation takes them out again, so the count drops by
//! exactly that patient's rows; a patient who is not enrolled has nothing shared; a revocation
//! by another patient and a grant naming an unknown
//! indicator are refused naming the reason. A clinician gets a patient's raw records only with
//! the patient's approval too (2 of 2), or a second clinician's under the patient's own 2-of-3
//! policy. On the wire the records and each node's audit report are sealed to the requester's
//! key for that request. A grant made while a party is down reaches it when it is back. Each patient's audit lists exactly their records,
//! consents, the queries that used their rows and the raw accesses, every entry proven. Every
//! wait is bounded.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hdg_gateway::node::access::{ACCESS_DOMAIN, AccessRequest, records_context};
use hdg_gateway::node::approvals::{ApprovedRequest, digest};
use hdg_gateway::node::audit::{audit_body, report_context, report_signed_message};
use hdg_gateway::node::sealed_reply::{ReplyKey, SealedReply};
use hdg_gateway::node::signed::{Kind, request_digest, sign};
use hdg_schema::Timestamp;
use serde_json::Value;

mod common;
use common::*;

const HEART_RATE: &str = "8867-4";
const BMI: &str = "39156-5";

/// `hdg consent` as the patient whose seed is in `key`, at node 2.
fn consent(dir: &Path, key: &Path, action: &[&str]) -> (bool, String) {
    consent_at(dir, 2, key, action)
}

/// The consent id `hdg consent grant` printed.
fn consent_id(out: &str) -> String {
    out.split_whitespace()
        .nth(1)
        .filter(|id| id.len() == 64)
        .unwrap_or_else(|| panic!("no consent id in {out}"))
        .to_string()
}

#[test]
fn only_consented_rows_are_used_and_a_revocation_removes_exactly_that_patients_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (bundles, keys) =
        consented_cluster(dir, &["patient-0.json", "patient-2.json", "patient-3.json"]);
    let [a_bundle, b_bundle, c_bundle] = &bundles[..] else {
        unreachable!("three bundles")
    };
    let [a_key, b_key, c_key] = &keys[..] else {
        unreachable!("three bundles, three keys")
    };
    let mut nodes = Nodes::start_healthy(dir);
    let stored: Vec<usize> = ingest_at_node0(dir, &bundles)
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(outbox(dir, 0), 0, "held until a consent covers them");
    // A patient who is not enrolled cannot consent: their values are stored but stay local.
    let (status, receipt) = post_observations(
        dir,
        0,
        "",
        "application/fhir+json",
        &synthea_bundle("patient-1.json"),
    );
    assert_eq!(status, 200, "{receipt}");
    assert!(!receipt["records"].as_array().unwrap().is_empty());
    assert_eq!(
        receipt["outbox"], 0,
        "nothing of theirs is queued for sharing"
    );
    let [a_hr, b_hr, c_hr] = [a_bundle, b_bundle, c_bundle].map(|b| numeric_count(b, HEART_RATE));
    let [a_bmi, c_bmi] = [a_bundle, c_bundle].map(|b| numeric_count(b, BMI));
    assert!(a_hr > 0 && b_hr > 0 && c_hr > 0 && a_bmi > 0 && c_bmi > 0);

    let abc = [a_key.as_path(), b_key.as_path(), c_key.as_path()];
    // Nobody has consented: the (private) count uses nobody's rows.
    assert_eq!(
        patients_used(dir, HEART_RATE, &abc),
        Ok(vec![false, false, false])
    );

    // A key nobody registered cannot consent (or fill the store with grants from fresh keys):
    // 403, nothing stored.
    let stranger = dir.join("stranger.key");
    std::fs::write(&stranger, hex::encode([0x5a; 32])).unwrap();
    let (ok, out) = consent(dir, &stranger, &["grant", "--purpose", "research"]);
    assert!(
        !ok && out.contains("403") && out.contains("unknown key"),
        "{out}"
    );

    // A and C consent to research on everything, B to research on heart rate only.
    let (ok, out) = consent(dir, a_key, &["grant", "--purpose", "research"]);
    assert!(ok, "{out}");
    let a_grant = consent_id(&out);
    // C's grant comes as a FHIR R4 Consent (research, everything); the node answers with the
    // FHIR form of what it stored.
    let fhir = dir.join("consent-c.json");
    std::fs::write(
        &fhir,
        r#"{"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
            "provision": {"type": "permit", "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]}}"#,
    )
    .unwrap();
    let (ok, out) = consent(
        dir,
        c_key,
        &["--json", "grant", "--fhir", fhir.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    let c_receipt: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        c_receipt["fhir"]["provision"]["purpose"][0]["code"], "HRESCH",
        "{c_receipt}"
    );
    let (ok, out) = consent(
        dir,
        b_key,
        &["grant", "--purpose", "research", "--indicator", HEART_RATE],
    );
    assert!(ok, "{out}");
    // The grants released the values they cover to the sharing outbox.
    wait_outbox_empty(&mut nodes, dir, 0);
    assert_eq!(
        patients_used(dir, HEART_RATE, &abc),
        Ok(vec![true, true, true])
    );
    assert_eq!(
        patients_used(dir, BMI, &abc),
        Ok(vec![true, false, true]),
        "B's grant covers heart rate only"
    );

    // B cannot revoke A's grant; a grant must name known indicators.
    let (ok, out) = consent(dir, b_key, &["revoke", "--id", &a_grant]);
    assert!(!ok && out.contains("granted by another patient"), "{out}");
    let (ok, out) = consent(
        dir,
        b_key,
        &["grant", "--purpose", "research", "--indicator", "0000-0"],
    );
    assert!(
        !ok && out.contains("0000-0") && out.contains("not in the catalog"),
        "{out}"
    );
    assert_eq!(
        patients_used(dir, HEART_RATE, &abc),
        Ok(vec![true, true, true])
    );

    // A revokes: every later query loses exactly A's rows.
    let (ok, out) = consent(dir, a_key, &["revoke", "--id", &a_grant]);
    assert!(ok, "{out}");
    assert_eq!(
        patients_used(dir, HEART_RATE, &abc),
        Ok(vec![false, true, true])
    );
    // BMI is now C's alone.
    assert_eq!(patients_used(dir, BMI, &abc), Ok(vec![false, false, true]));

    // Raw access to A's heart-rate records: the clinician alone is refused; with A's approval
    // (2 of 2) the home node releases exactly A's records and anchors the access.
    let clinician = dir.join("identities/clinician-1.key");
    let a_public = hex::encode(SigningKey::from_bytes(&[11; 32]).verifying_key().to_bytes());
    let access = |approvers: &[&Path]| {
        let url = format!("https://{}", http_addr(dir, 0));
        let mut args = vec![
            "access",
            "--node",
            &url,
            "--cluster",
            dir.to_str().unwrap(),
            "--patient",
            &a_public,
            "--requester",
            clinician.to_str().unwrap(),
            "--why",
            "follow-up visit",
            "--indicator",
            HEART_RATE,
            "--json",
        ];
        for a in approvers {
            args.extend(["--approve", a.to_str().unwrap()]);
        }
        let (ok, out) = hdg_text(&args);
        (
            ok,
            serde_json::from_str::<Value>(out.lines().next().unwrap_or_default()).unwrap(),
        )
    };
    let (ok, refused) = access(&[]);
    assert!(!ok, "{refused}");
    let reason = refused["error"].as_str().unwrap();
    assert!(
        reason.contains("not enough approvals") && reason.contains("the patient"),
        "{reason}"
    );
    let (ok, granted) = access(&[a_key.as_path()]);
    assert!(ok, "{granted}");
    let records = granted["records"].as_array().unwrap();
    assert_eq!(
        records.len() as u64,
        a_hr,
        "every one of A's heart-rate records, no other"
    );
    assert!(
        records
            .iter()
            .all(|r| r["code"]["coding"][0]["code"] == HEART_RATE)
    );

    // A's own policy: 2 of 3 among A, clinician-1 and a second clinician, who can then approve
    // in A's place.
    let seed_of = |file: &Path| {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(std::fs::read_to_string(file).unwrap().trim(), &mut seed).unwrap();
        hex::encode(SigningKey::from_bytes(&seed).verifying_key().to_bytes())
    };
    let second = dir.join("second-clinician.key");
    std::fs::write(&second, hex::encode([77u8; 32])).unwrap();
    let (ok, out) = consent(
        dir,
        a_key,
        &[
            "access-policy",
            "--clinician",
            &seed_of(&clinician),
            "--clinician",
            &seed_of(&second),
            "--required",
            "2",
        ],
    );
    assert!(ok, "{out}");
    let (ok, granted) = access(&[second.as_path()]);
    assert!(ok, "{granted}");
    assert_eq!(granted["records"].as_array().unwrap().len() as u64, a_hr);
    let (ok, refused) = access(&[]);
    assert!(!ok, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("policy is 2 of 3"),
        "{refused}"
    );
    wire_answers_are_sealed(dir, a_key, &clinician, a_hr);

    // Each patient's audit: their records at their hospital, their consents, the queries that
    // selected their rows at every node and raw accesses, every entry proven by `hdg audit`.
    for (key, records, consents, queries, accesses) in
        [(a_key, stored[0], 3, 3, 3), (b_key, stored[1], 1, 3, 0)]
    {
        let (ok, out) = audit_at(dir, 1, key, &["--json"]);
        assert!(ok, "{out}");
        let answer: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        for (i, node) in answer["nodes"].as_array().unwrap().iter().enumerate() {
            let kinds: Vec<&str> = node["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap())
                .collect();
            let n = |k: &str| kinds.iter().filter(|x| **x == k).count();
            let (expected_records, expected_accesses) =
                if i == 0 { (records, accesses) } else { (0, 0) };
            assert_eq!(
                (n("record"), n("consent"), n("query"), n("access")),
                (expected_records, consents, queries, expected_accesses),
                "node{i}: {kinds:?}"
            );
            assert_eq!(
                kinds.len(),
                expected_records + consents + queries + expected_accesses
            );
        }
    }

    let (ok, text) = audit_at(dir, 2, a_key, &[]);
    assert!(ok, "{text}");
    assert!(text.contains("each proven under its signed head"), "{text}");
    assert!(
        text.contains(&format!(
            "query: count of {HEART_RATE} for research by research-institute, privacy loss epsilon 1"
        )),
        "the audit names each query and the epsilon it spent: {text}"
    );
    assert!(
        text.contains("raw access (follow-up visit) approved by clinician-1, the patient"),
        "{text}"
    );

    // A grant made while a party is down is queued for it and delivered once it is back;
    // meanwhile the parties' row sets differ and queries are refused, never computed.
    nodes.terminate(2, Duration::from_secs(20));
    let (ok, out) = consent_at(dir, 1, a_key, &["grant", "--purpose", "research"]);
    assert!(ok && out.contains("queued for"), "{out}");
    nodes.start(dir, 2);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    wait_for(
        "the queued grant reaches node2 and A's rows count again",
        || match patients_used(dir, HEART_RATE, &abc) {
            Ok(used) if used == [true, true, true] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );

    // The consents are anchored at all three nodes, and the ledgers are still cosigned.
    wait_cluster_verified(dir);
    for i in 0..3 {
        nodes.assert_running(i);
    }
}

/// A raw access and an audit as they cross the wire: the records and every node's report are
/// sealed to the key the request names, open only with it and only as the answer to that
/// request (and, for an audit, from that node), and a request naming a low-order key or no key
/// is refused before anything is released. Adds one raw access of A's heart-rate records.
fn wire_answers_are_sealed(dir: &Path, a_key: &Path, clinician: &Path, a_hr: u64) {
    let post = |i: usize, path: &str, body: Vec<u8>| {
        http(
            http_addr(dir, i),
            "POST",
            path,
            Some(("application/json", &body)),
        )
    };
    let access_request = |reply_to: [u8; 32]| {
        let body = serde_json::to_string(&AccessRequest {
            patient: hex::encode(seed_key(a_key).verifying_key().to_bytes()),
            requester: hex::encode(seed_key(clinician).verifying_key().to_bytes()),
            indicators: vec![HEART_RATE.into()],
            why: "wire check".into(),
            until: now_ms() + 60_000,
            reply_to: hex::encode(reply_to),
        })
        .unwrap();
        let mut req = ApprovedRequest {
            body,
            nonce: hex::encode(rand::random::<[u8; 16]>()),
            time: now_ms(),
            approvals: vec![],
        };
        req.approve(&seed_key(clinician), Kind::Access);
        req.approve(&seed_key(a_key), Kind::Access);
        req
    };

    let (status, refused) = post(
        0,
        "/v1/access",
        serde_json::to_vec(&access_request([0; 32])).unwrap(),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("low-order"),
        "{refused}"
    );

    let reply = ReplyKey::new();
    let req = access_request(reply.public());
    let (status, answer) = post(0, "/v1/access", serde_json::to_vec(&req).unwrap());
    assert_eq!(status, 200, "{answer}");
    let text = answer.to_string();
    assert!(
        answer.get("records").is_none()
            && !text.contains(HEART_RATE)
            && !text.contains("valueQuantity"),
        "records in the clear: {text}"
    );
    let sealed: SealedReply = serde_json::from_value(answer["sealed"].clone()).unwrap();
    let context = records_context(&digest(&req, ACCESS_DOMAIN));
    let opened: Value = serde_json::from_slice(&reply.open(&sealed, &context).unwrap()).unwrap();
    assert_eq!(opened["records"].as_array().unwrap().len() as u64, a_hr);
    assert!(
        ReplyKey::new().open(&sealed, &context).is_err(),
        "opened with another key"
    );
    let other = records_context(&[0; 32]);
    assert!(
        reply.open(&sealed, &other).is_err(),
        "opened as another request's answer"
    );

    // The audit, asked at node 1, which relays node 0's and node 2's reports: each is sealed by
    // the node that wrote it, so the relay holds only ciphertext.
    let reply = ReplyKey::new();
    let signed = sign(
        &seed_key(a_key),
        Kind::Audit,
        &audit_body(&reply.public()),
        Timestamp(now_ms()),
    );
    let (status, answer) = post(1, "/v1/audit", serde_json::to_vec(&signed).unwrap());
    assert_eq!(status, 200, "{answer}");
    let request = request_digest(Kind::Audit, &signed).unwrap();
    let pins = hdg_client::cluster_file::ClusterFile::load(dir)
        .and_then(|c| c.pins())
        .unwrap();
    for (i, node) in answer["nodes"].as_array().unwrap().iter().enumerate() {
        assert!(
            node.get("entries").is_none(),
            "node{i}'s report in the clear: {node}"
        );
        let sealed: SealedReply = serde_json::from_value(node["sealed"].clone()).unwrap();
        // Inside: the node's signature on the report, by the key the cluster file pins.
        let context = report_context(&request, i);
        let plain = reply.open(&sealed, &context).unwrap();
        let (signature, report) = plain.split_first_chunk::<64>().unwrap();
        ed25519_dalek::VerifyingKey::from_bytes(&pins[i])
            .unwrap()
            .verify_strict(
                &report_signed_message(&context, report),
                &ed25519_dalek::Signature::from_bytes(signature),
            )
            .expect("the report is signed by its node's key");
        let report: Value = serde_json::from_slice(report).unwrap();
        assert_eq!(report["party"].as_u64(), Some(i as u64));
        assert!(!report["entries"].as_array().unwrap().is_empty());
        assert!(
            reply
                .open(&sealed, &report_context(&request, (i + 1) % 3))
                .is_err(),
            "node{i}'s report passes for another node's"
        );
    }
    for body in [r#"{"action":"audit"}"#.to_string(), audit_body(&[0; 32])] {
        let signed = sign(&seed_key(a_key), Kind::Audit, &body, Timestamp(now_ms()));
        let (status, refused) = post(1, "/v1/audit", serde_json::to_vec(&signed).unwrap());
        assert_eq!(status, 400, "{body}: {refused}");
    }
}
