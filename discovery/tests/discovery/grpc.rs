//! The same service through a tonic client, plus reflection.

use coral_proto::discovery::v1::*;
use http::StatusCode;
use tonic::Code;

use crate::support::{Server, colony, key};

fn register(mesh_id: &str, pubkey: &str) -> RegisterColonyRequest {
    RegisterColonyRequest {
        mesh_id: mesh_id.into(),
        pubkey: pubkey.into(),
        endpoints: vec!["203.0.113.5:41580".into()],
        mesh_ipv4: "10.42.0.1".into(),
        mesh_ipv6: "fd42::1".into(),
        connect_port: 9000,
        metadata: [("environment".to_owned(), "prod".to_owned())].into(),
    }
}

#[tokio::test]
async fn register_lookup_and_not_found_over_grpc() {
    let server = Server::start(&["--ttl", "120"]);
    let mut client = server.grpc().await;
    let response = client
        .register_colony(register("shop-prod", &key(7)))
        .await
        .unwrap()
        .into_inner();
    assert!(response.success);
    assert_eq!(response.ttl, 120);
    let expires = response.expires_at.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now + 110..=now + 130).contains(&expires.seconds));

    let found = client
        .lookup_colony(LookupColonyRequest {
            mesh_id: "shop-prod".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.pubkey, key(7));
    assert_eq!(found.endpoints, ["203.0.113.5:41580"]);
    assert_eq!(found.connect_port, 9000);
    assert!(found.last_seen.is_some());

    let missing = client
        .lookup_colony(LookupColonyRequest {
            mesh_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "colony not found: nope");

    let health = client.health(HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(health.status, "ok");
    assert_eq!(health.registered_colonies, 1);
}

#[tokio::test]
async fn a_live_mesh_id_cannot_be_hijacked() {
    let server = Server::start(&[]);
    let mut client = server.grpc().await;
    client
        .register_colony(register("shop-prod", &key(1)))
        .await
        .unwrap();
    let mut hijack = register("shop-prod", &key(2));
    hijack.endpoints = vec!["198.51.100.66:41580".into()];
    let refused = client.register_colony(hijack).await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert!(refused.message().contains("shop-prod"));

    // Same refusal over Connect-JSON: 409 already_exists.
    let (status, body) = server
        .post("RegisterColony", &colony("shop-prod", &key(3)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "already_exists");

    // The entry still belongs to the first owner.
    let found = client
        .lookup_colony(LookupColonyRequest {
            mesh_id: "shop-prod".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.pubkey, key(1));
    assert_eq!(found.endpoints, ["203.0.113.5:41580"]);

    // The owner renews freely.
    let mut renewal = register("shop-prod", &key(1));
    renewal.connect_port = 9001;
    client.register_colony(renewal).await.unwrap();
    let found = client
        .lookup_colony(LookupColonyRequest {
            mesh_id: "shop-prod".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.connect_port, 9001);
}

#[tokio::test]
async fn reflection_lists_the_discovery_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = Server::start(&[]);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"coral.discovery.v1.DiscoveryService"),
        "{names:?}"
    );
}
