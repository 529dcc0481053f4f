//! `coral proxy start <colony-id>`: find the colony in discovery, enroll
//! with its token (from the colony file `coral init` wrote), join its mesh
//! as a spoke, and forward every connection to the local port to the
//! colony's connect port at its mesh address. Forwarding is plain TCP, so
//! gRPC (HTTP/2) and Connect-JSON (HTTP/1.1) both pass.

use std::net::{Ipv4Addr, SocketAddr};

use coral_mesh::{ColonyJoin, MeshInterface, PublicKey, SecretKey, resolve_endpoint};
use coral_proto::agent::v1::{EnrollRequest, EnrollResponse};
use coral_telemetry::{LogFormat, LogLevel};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use super::{ProxyRecord, proxies_dir, record_path};
use crate::args::ProxyStartArgs;
use crate::colony_file;
use crate::error::CliError;
use crate::home::CoralHome;
use crate::output::Style;

const DEFAULT_DISCOVERY: &str = "http://localhost:8080";

/// What discovery says about a colony.
struct Found {
    pubkey: String,
    endpoint: String,
    mesh_ipv4: Ipv4Addr,
    mesh_ipv6: String,
    connect_port: u16,
}

pub async fn start(home: &CoralHome, args: &ProxyStartArgs) -> Result<(), CliError> {
    let file = colony_file::resolve(home, Some(&args.colony_id))?;
    coral_telemetry::init(LogLevel::Info, LogFormat::Auto);
    let discovery = args
        .discovery
        .clone()
        .or_else(|| Some(file.discovery.endpoint.clone()).filter(|e| !e.is_empty()))
        .unwrap_or_else(|| DEFAULT_DISCOVERY.to_owned());
    let colony_url = args
        .colony_endpoint
        .clone()
        .unwrap_or_else(|| file.local_url());
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| CliError::Io(e.to_string()))?;

    tracing::info!(mesh_id = %args.colony_id, "Starting coral proxy");
    tracing::info!(discovery = %discovery, "Looking up colony in discovery service");
    let found = lookup(&http, &discovery, &args.colony_id).await?;
    tracing::info!(
        mesh_ipv4 = %found.mesh_ipv4,
        mesh_ipv6 = %found.mesh_ipv6,
        connect_port = found.connect_port,
        "Colony found"
    );

    let key = proxy_key(home, &args.colony_id)?;
    let enrolled = enroll(&http, &colony_url, &file.enrollment_token, &key).await?;
    if enrolled.colony_pubkey.is_empty() {
        return Err(CliError::Invalid(format!(
            "colony {} runs without a mesh (--no-mesh): there is nothing to proxy; call it \
             directly at {colony_url}",
            args.colony_id
        )));
    }
    if enrolled.colony_pubkey != found.pubkey {
        return Err(CliError::Invalid(format!(
            "the colony at {colony_url} has key {} but discovery lists {} for {}; refusing to \
             join (is --colony-endpoint another colony?)",
            enrolled.colony_pubkey, found.pubkey, args.colony_id
        )));
    }
    let join = colony_join(&enrolled, &found, &colony_url).await?;
    let config = join
        .mesh_config(key, &args.mesh_interface)
        .map_err(|e| CliError::Invalid(format!("the colony sent a bad mesh network: {e}")))?;
    let mesh = MeshInterface::start(config)
        .await
        .map_err(|e| CliError::Io(format!("cannot join the colony's mesh: {e}")))?;

    let listener = TcpListener::bind(&args.listen).await.map_err(|e| {
        CliError::Invalid(format!(
            "cannot listen on {}: {e}; pick another --listen address",
            args.listen
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Io(e.to_string()))?;
    let target = SocketAddr::new(found.mesh_ipv4.into(), found.connect_port);
    let record = ProxyRecord {
        colony_id: args.colony_id.clone(),
        pid: std::process::id(),
        listen: local.to_string(),
        target: target.to_string(),
    };
    // proxy_key made the directory.
    let record_file = record_path(home, &args.colony_id);
    colony_file::write_private(&record_file, &record.text())?;
    tracing::info!(listen_addr = %local, "Proxy server started");
    let style = Style::detect();
    println!(
        "{} Proxy running on {local}\n  Forwarding to colony at {target} (over mesh)\n\nPress Ctrl+C to stop proxy",
        style.green("✓")
    );

    let shutdown = coral_telemetry::shutdown_signal()
        .map_err(|e| CliError::Io(format!("cannot handle SIGINT/SIGTERM: {e}")))?;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(forward(stream, peer, target));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
        }
    }
    let _ = std::fs::remove_file(&record_file);
    let _ = mesh.shutdown().await;
    tracing::info!("Proxy stopped");
    Ok(())
}

/// One client connection, both ways, until either side closes.
async fn forward(mut client: TcpStream, peer: SocketAddr, target: SocketAddr) {
    match TcpStream::connect(target).await {
        Ok(mut colony) => {
            if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut colony).await {
                tracing::debug!(%peer, %error, "proxied connection ended");
            }
        }
        Err(error) => {
            tracing::warn!(%peer, %target, %error, "cannot reach the colony over the mesh")
        }
    }
}

async fn lookup(http: &reqwest::Client, discovery: &str, id: &str) -> Result<Found, CliError> {
    let url = format!("{discovery}/coral.discovery.v1.DiscoveryService/LookupColony");
    let unreachable = |reason: String| {
        CliError::Invalid(format!(
            "cannot reach the discovery service at {discovery}: {reason}\n  Start it \
             (`coral-discovery`) or pass --discovery <url>"
        ))
    };
    let response = http
        .post(&url)
        .json(&json!({"meshId": id}))
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(CliError::Invalid(format!(
            "colony {id} is not registered with discovery at {discovery}\n  Start it with \
             `coral colony start {id}` (it registers when its colony file names this discovery)"
        )));
    }
    if !status.is_success() {
        return Err(unreachable(format!("it answered {status}: {body}")));
    }
    let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
    let bad = |field: &str| unreachable(format!("its answer has no usable {field}: {body}"));
    Ok(Found {
        pubkey: text("pubkey"),
        endpoint: body["endpoints"][0]
            .as_str()
            .ok_or_else(|| bad("endpoints"))?
            .to_owned(),
        mesh_ipv4: text("meshIpv4").parse().map_err(|_| bad("meshIpv4"))?,
        mesh_ipv6: text("meshIpv6"),
        connect_port: body["connectPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bad("connectPort"))?,
    })
}

/// The proxy's own key for this colony, kept so a restarted proxy keeps its
/// mesh address.
fn proxy_key(home: &CoralHome, id: &str) -> Result<SecretKey, CliError> {
    let path = proxies_dir(home).join(format!("{id}.key"));
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(key) = text.trim().parse::<SecretKey>()
    {
        return Ok(key);
    }
    std::fs::create_dir_all(proxies_dir(home)).map_err(|source| CliError::Write {
        path: proxies_dir(home),
        source,
    })?;
    let key = SecretKey::generate();
    colony_file::write_private(&path, &format!("{}\n", key.to_base64()))?;
    Ok(key)
}

async fn enroll(
    http: &reqwest::Client,
    colony_url: &str,
    token: &str,
    key: &SecretKey,
) -> Result<EnrollResponse, CliError> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "local".into());
    let request = EnrollRequest {
        token: token.to_owned(),
        agent_id: format!("proxy-{host}"),
        pubkey: key.public_key().to_base64(),
        node_name: host,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        endpoint: String::new(),
    };
    let url = format!("{colony_url}/coral.agent.v1.AgentService/Enroll");
    let unreachable = |reason: String| CliError::Unreachable {
        url: colony_url.to_owned(),
        reason,
    };
    let response = http
        .post(&url)
        .json(&request)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !status.is_success() {
        return Err(unreachable(format!("enrollment answered {status}: {text}")));
    }
    serde_json::from_str(&text).map_err(|e| unreachable(format!("bad enrollment answer: {e}")))
}

async fn colony_join(
    enrolled: &EnrollResponse,
    found: &Found,
    colony_url: &str,
) -> Result<ColonyJoin, CliError> {
    let bad =
        |what: &str| CliError::Invalid(format!("the colony's enrollment answer has a bad {what}"));
    let colony_key: PublicKey = enrolled
        .colony_pubkey
        .parse()
        .map_err(|_| bad("colonyPubkey"))?;
    let colony_endpoint = resolve_endpoint(&found.endpoint, colony_url)
        .await
        .map_err(|detail| {
            CliError::Invalid(format!(
                "cannot use the colony's WireGuard endpoint {:?}: {detail}",
                found.endpoint
            ))
        })?;
    Ok(ColonyJoin {
        colony_key,
        colony_endpoint,
        colony_ipv4: found.mesh_ipv4,
        colony_ipv6: enrolled.colony_mesh_ipv6.parse().ok(),
        prefix: u8::try_from(enrolled.mesh_ipv4_prefix)
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| bad("meshIpv4Prefix"))?,
        own_ipv4: enrolled.mesh_ipv4.parse().map_err(|_| bad("meshIpv4"))?,
        own_ipv6: enrolled.mesh_ipv6.parse().ok(),
    })
}
