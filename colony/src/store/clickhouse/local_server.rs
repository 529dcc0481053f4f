//! A private `clickhouse-server` for tests and benchmarks: its own config,
//! data directory and free ports under the temp dir, stopped (killed) and
//! removed on drop, also when a test panics. `cargo xtask test` installs
//! the server (Debian's `clickhouse-server`); it is never started by apt.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::ClickHouseStore;
use crate::store::StoreError;

const USER: &str = "default";
const PASSWORD: &str = "coral-test";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Free ports are picked by binding port 0 and letting go, so another
/// process can take one before the server binds it: try again then.
const START_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error(
        "clickhouse-server is not installed (looked in PATH, /usr/sbin and /usr/bin); run \
         `cargo xtask test`, which installs it (apt-get install -y clickhouse-server)"
    )]
    NotInstalled,
    #[error("cannot start a private clickhouse-server: {0}")]
    Start(String),
}

pub struct LocalServer {
    child: Child,
    dir: PathBuf,
    http_port: u16,
}

impl LocalServer {
    pub fn start() -> Result<Self, LocalServerError> {
        let binary = find_binary().ok_or(LocalServerError::NotInstalled)?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binary) {
                Ok(server) => return Ok(server),
                Err(error) => last_error = error,
            }
        }
        Err(LocalServerError::Start(last_error))
    }

    fn start_once(binary: &Path) -> Result<Self, String> {
        let dir = private_dir();
        std::fs::create_dir_all(dir.join("data"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let (http_port, tcp_port) = free_ports()?;
        let written = std::fs::write(dir.join("config.xml"), config(&dir, http_port, tcp_port))
            .and_then(|()| std::fs::write(dir.join("users.xml"), users()));
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("cannot write the config in {}: {e}", dir.display()));
        }
        let spawned = Command::new(binary)
            .arg(format!(
                "--config-file={}",
                dir.join("config.xml").display()
            ))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("cannot run {}: {e}", binary.display()));
            }
        };
        // From here on, dropping `server` stops the process and cleans up.
        let mut server = LocalServer {
            child,
            dir,
            http_port,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "clickhouse-server exited ({status}) during start-up: {}",
                    self.log_tail()
                ));
            }
            if ping(self.http_port) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "clickhouse-server did not answer on port {} within {} s: {}",
                    self.http_port,
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.err.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(5).collect();
        if lines.is_empty() {
            "(nothing in its error log)".into()
        } else {
            lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
        }
    }

    /// The HTTP endpoint, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn user(&self) -> &'static str {
        USER
    }

    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// A store on `database` of this server.
    pub fn open_store(&self, database: &str) -> Result<ClickHouseStore, StoreError> {
        ClickHouseStore::open(&self.url(), database, USER, PASSWORD)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("clickhouse-server"))
        .find(|candidate| candidate.is_file())
}

fn private_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "coral-clickhouse-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn free_ports() -> Result<(u16, u16), String> {
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"));
    // Both held at once so they differ.
    let (http, tcp) = (bind()?, bind()?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok((port(&http)?, port(&tcp)?))
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.") && response.contains(" 200 ") && response.ends_with("Ok.\n")
}

/// `<yandex>` is the root element 18.16 wants; current versions accept it
/// as well as `<clickhouse>`. Only 127.0.0.1, no interserver port.
fn config(dir: &Path, http_port: u16, tcp_port: u16) -> String {
    let dir = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{dir}/server.log</log>
    <errorlog>{dir}/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/data/tmp/</tmp_path>
  <user_files_path>{dir}/data/user_files/</user_files_path>
  <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
"#
    )
}

fn users() -> String {
    format!(
        r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password>{PASSWORD}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#
    )
}
