//! A Coral server binary under test: spawned with JSON logs on stderr, its
//! listening address read from its start line, stopped with SIGTERM, killed
//! when dropped so a failing test leaves nothing running.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to log its address (a cold DuckDB open on a
/// busy 2-core machine can take many seconds).
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct ServerProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    addr: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Spawn `command` (which must log JSON lines to stderr) and collect its
    /// log lines. `listening_message` is the log message carrying an `addr`
    /// field, e.g. "Colony listening".
    pub fn spawn(mut command: Command, listening_message: &'static str) -> ServerProcess {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {program}: {error}"));
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (found_addr, addr) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Record the line before announcing the address, so callers
                // that saw the address also see every line up to it.
                sink.lock().unwrap().push(line.clone());
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == listening_message
                    && let Some(addr) = event["addr"].as_str()
                {
                    let _ = found_addr.send(addr.to_owned());
                }
            }
        });
        ServerProcess { child, logs, addr }
    }

    /// Wait for the listening line and return its address; panics with the
    /// logs if the server exits or stays silent.
    pub fn listening_addr(&mut self) -> SocketAddr {
        let addr = self.logged_addr();
        addr.parse()
            .unwrap_or_else(|_| panic!("listening addr {addr:?} is not host:port"))
    }

    /// The port of the listening line's address, also for a server bound to
    /// every address (logged as `:9000`).
    pub fn listening_port(&mut self) -> u16 {
        let addr = self.logged_addr();
        addr.rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("listening addr {addr:?} has no port"))
    }

    fn logged_addr(&mut self) -> String {
        match self.addr.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = self.child.kill();
                panic!("server did not log its address: {:?}", self.logs());
            }
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (bounded) for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread drain the pipe.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        match self.wait_exit(Duration::from_secs(20)) {
            Some(status) => status,
            None => panic!("server did not stop on SIGTERM: {:?}", self.logs()),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
