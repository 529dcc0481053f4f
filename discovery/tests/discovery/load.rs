//! 1,000 concurrent registrations and lookups, none failing.

use futures::future::join_all;
use http::StatusCode;
use serde_json::json;

use crate::support::{Server, colony, key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_registrations_and_lookups() {
    let server = Server::start(&["--register-burst", "2000"]);
    let registrations = (0..1000).map(|i| {
        let server = &server;
        async move {
            server
                .post(
                    "RegisterColony",
                    &colony(&format!("colony-{i}"), &key((i % 250) as u8)),
                )
                .await
        }
    });
    for (status, body) in join_all(registrations).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(server.registered_colonies().await, 1000);

    // Lookups over one gRPC connection (HTTP/2 streams) and over JSON.
    let client = server.grpc().await;
    let grpc_lookups = (0..1000).map(|i| {
        let mut client = client.clone();
        async move {
            client
                .lookup_colony(coral_proto::discovery::v1::LookupColonyRequest {
                    mesh_id: format!("colony-{i}"),
                })
                .await
                .map(|r| r.into_inner().pubkey)
        }
    });
    for (i, result) in join_all(grpc_lookups).await.into_iter().enumerate() {
        assert_eq!(result.expect("gRPC lookup"), key((i % 250) as u8));
    }
    let json_lookups = (0..1000).map(|i| {
        let server = &server;
        async move {
            server
                .post("LookupColony", &json!({"mesh_id": format!("colony-{i}")}))
                .await
        }
    });
    for (i, (status, body)) in join_all(json_lookups).await.into_iter().enumerate() {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["meshId"], format!("colony-{i}"));
    }
}
