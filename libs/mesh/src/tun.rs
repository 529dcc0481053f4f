//! The TUN device: the kernel side of the mesh. It is not persistent, so
//! the kernel deletes it when the device loop drops it.

use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use tun_rs::{AsyncDevice, DeviceBuilder};

use crate::config::MeshConfig;
use crate::error::MeshError;

pub(crate) fn create(config: &MeshConfig) -> Result<AsyncDevice, MeshError> {
    let name = &config.interface_name;
    let error = |source| MeshError::Tun {
        name: name.clone(),
        source,
    };
    if !Path::new("/dev/net/tun").exists() {
        return Err(error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "/dev/net/tun is missing (load the tun module or mount the device into the container)",
        )));
    }
    let mut builder = DeviceBuilder::new()
        .name(name)
        .mtu(config.mtu)
        .packet_information(false);
    if let Some((addr, prefix)) = config.ipv4 {
        builder = builder.ipv4(addr, prefix, None);
    }
    let device = builder.build_async().map_err(&error)?;
    if let Some((addr, prefix)) = config.ipv6 {
        // Duplicate address detection makes the address unusable for a second
        // or two and cannot find anything on a point-to-point TUN link: off.
        let dad = format!("/proc/sys/net/ipv6/conf/{name}/accept_dad");
        if let Err(e) = std::fs::write(&dad, "0") {
            tracing::debug!(error = %e, "could not turn off DAD; IPv6 may take a moment");
        }
        device.add_address_v6(addr, prefix).map_err(&error)?;
    }
    Ok(device)
}

/// Waits until the device's IPv6 address can be bound. Even without duplicate
/// address detection the kernel marks a new address tentative until its
/// address-configuration work runs, and on a busy machine that can lag: a
/// listener on the mesh address started at once would fail with
/// EADDRNOTAVAIL. The device is usable when this returns.
pub(crate) async fn wait_until_bindable(addr: Ipv6Addr, name: &str) -> Result<(), MeshError> {
    const PATIENCE: Duration = Duration::from_secs(5);
    let started = Instant::now();
    loop {
        match UdpSocket::bind((IpAddr::V6(addr), 0)) {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() >= PATIENCE => {
                return Err(MeshError::Tun {
                    name: name.to_owned(),
                    source: std::io::Error::new(
                        e.kind(),
                        format!("address {addr} is still not usable after {PATIENCE:?}: {e}"),
                    ),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
