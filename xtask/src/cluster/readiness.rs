//! Waiting for a component to become ready, failing fast with its log when
//! it exits instead.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::components;
use super::layout::StateDir;

pub fn wait_for(
    component: &str,
    state: &StateDir,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        if components::running_pid(component, state).is_none() {
            bail!(
                "{component} exited during start-up; last lines of {}:\n{}",
                state.log(component).display(),
                log_tail(state, component)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{component} was not ready after {}s; last lines of {}:\n{}",
                timeout.as_secs(),
                state.log(component).display(),
                log_tail(state, component)
            );
        }
        sleep(Duration::from_millis(250));
    }
}

/// A plain-HTTP GET on loopback answered with 200.
pub fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

fn log_tail(state: &StateDir, component: &str) -> String {
    let text = fs::read_to_string(state.log(component)).unwrap_or_default();
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
