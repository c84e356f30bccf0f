//! The API's contract: an OpenAPI 3.1 document kept beside the routes (`openapi.json`), served
//! at `GET /v1/openapi.json`. A test reads the router's source and checks that every route is
//! documented with its method and every documented operation is routed, so the two cannot
//! drift apart; `scripts/schemathesis.sh` checks a live cluster's answers against it.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI 3.1 document of the client API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The handler of `GET /v1/openapi.json`.
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::OPENAPI;
    use serde_json::Value;

    /// The (method, path) of every `.route("PATH", METHOD(...))` in the router's source. A
    /// router this scan cannot read whole (a method chained onto another, a nested or merged
    /// router, a service route) fails it rather than passing unseen.
    fn routed(source: &str) -> BTreeSet<(String, String)> {
        for unreadable in [".nest(", ".merge(", ".route_service(", ".nest_service("] {
            assert!(!source.contains(unreadable), "the router uses {unreadable}");
        }
        let mut out = BTreeSet::new();
        for piece in source.split(".route(").skip(1) {
            let call = piece.split("\n        .").next().unwrap_or(piece);
            for chained in [").get(", ").post(", ").put(", ").delete(", ").patch("] {
                assert!(!call.contains(chained), "a chained method router in {call}");
            }
            let mut quoted = piece.splitn(3, '"');
            quoted.next();
            let path = quoted.next().expect("a route's path").to_string();
            let rest = quoted.next().expect("a route's handler");
            let method = rest
                .trim_start_matches([',', ' ', '\n'])
                .split('(')
                .next()
                .expect("a method router")
                .trim()
                .to_string();
            out.insert((method, path));
        }
        out
    }

    /// The (method, path) of every operation in the document.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    out.insert((method.clone(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
        let routes = routed(include_str!("api.rs"));
        assert!(routes.len() >= 12, "the route scan found {routes:?}");
        assert_eq!(documented(&doc), routes);
    }

    #[test]
    fn every_operation_documents_its_errors_and_a_json_answer() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap_or_else(|| {
                    panic!("{method} {path} has no responses");
                });
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: no success"
                );
                if method == "post" {
                    for status in ["400", "413"] {
                        assert!(
                            responses.contains_key(status),
                            "{method} {path}: {status} undocumented"
                        );
                    }
                }
                for (status, response) in responses {
                    assert!(
                        response["content"]["application/json"]["schema"].is_object(),
                        "{method} {path} {status}: no JSON schema"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "chained method router")]
    fn the_route_scan_refuses_a_chained_method() {
        routed("Router::new()\n        .route(\"/a\", get(x).post(y))\n        .fallback(z)");
    }

    #[test]
    fn the_route_scan_reads_multi_line_routes() {
        let source = r#"Router::new()
            .route("/a", get(x))
            .route(
                "/b",
                post(y).layer(z),
            )"#;
        assert_eq!(
            routed(source),
            BTreeSet::from([
                ("get".to_string(), "/a".to_string()),
                ("post".to_string(), "/b".to_string())
            ])
        );
    }
}
