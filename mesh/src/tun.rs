//! The TUN device: the kernel side of the mesh. It is not persistent, so
//! the kernel deletes it when the device loop drops it.

use std::path::Path;

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
