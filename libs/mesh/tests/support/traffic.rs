//! TCP through the mesh: an echo server and a client that checks every byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Echoes every connection until the runtime stops.
pub async fn echo_server(addr: SocketAddr) -> Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
                let _ = writer.shutdown().await;
            });
        }
    });
    Ok(())
}

/// Sends `len` patterned bytes, reads the echo and checks it byte for byte.
pub async fn echo_roundtrip(to: SocketAddr, len: usize, timeout: Duration) -> Result<()> {
    let run = async {
        let stream = TcpStream::connect(to).await?;
        let (mut reader, mut writer) = stream.into_split();
        let sent: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let expected = sent.clone();
        let writing = tokio::spawn(async move {
            writer.write_all(&sent).await?;
            writer.shutdown().await
        });
        let mut received = Vec::with_capacity(len);
        reader.read_to_end(&mut received).await?;
        writing.await??;
        if received != expected {
            bail!(
                "echo differs: sent {len} bytes, got {} back",
                received.len()
            );
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(timeout, run)
        .await
        .with_context(|| format!("echo with {to} took over {timeout:?}"))?
}

/// Retries short echoes until one works; returns how long that took.
pub async fn wait_for_echo(to: SocketAddr, within: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        match echo_roundtrip(to, 1024, Duration::from_millis(500)).await {
            Ok(()) => return Ok(start.elapsed()),
            Err(error) if start.elapsed() > within => {
                return Err(error.context(format!("no echo from {to} within {within:?}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
