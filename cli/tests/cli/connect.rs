//! `coral connect` for real: a colony with its mesh, two python3 servers
//! and the shared host agent, all in a network namespace of the test's own,
//! everything on 127.0.0.1. Needs root (eBPF, TUN).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use coral_e2e::{LinkedNetns, workspace_binary};
use serde_json::Value;

use crate::support::{Home, free_port, read_pid, stdout_of, wait_gone};

const ID: &str = "shop-dev-con001";
const API_PORT: u16 = 18080;
const WEB_PORT: u16 = 13000;

/// A child killed (politely first) on drop; its stdout lines on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; panics with what was printed.
    fn expect_line(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.seen.iter().any(|line| line.contains(text)) {
                return;
            }
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(line);
            }
        }
        panic!(
            "no line with {text:?} within {within:?}; printed: {:#?}",
            self.seen
        );
    }

    /// SIGTERM, as Ctrl+C would, and wait for the exit.
    fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        matches!(self.child.wait(), Ok(status) if status.success())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn python(netns: &LinkedNetns, script: &str) -> Running {
    let mut command = netns.command("python3");
    command.args(["-u", "-c", script]);
    Running::spawn(command)
}

const API: &str = "import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 18080)); l.listen(128); print('ready')
while True:
    c, _ = l.accept(); c.recv(100); c.sendall(b'ok'); c.close()
";

const WEB: &str = "import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 13000)); l.listen(128); print('ready')
while True:
    c = socket.create_connection(('127.0.0.1', 18080)); c.sendall(b'GET'); c.recv(10); c.close()
    time.sleep(0.2)
";

fn json_of(home: &Home, netns: &LinkedNetns, args: &[&str]) -> Value {
    let output = home
        .coral_in(netns)
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "coral {args:?}: {output:?}");
    serde_json::from_str(&stdout_of(&output)).expect("JSON")
}

#[test]
fn connected_local_components_show_who_calls_whom() {
    workspace_binary("coral-node-agent");
    let home = Home::new();
    home.init("shop", "dev", ID, free_port());
    let netns = LinkedNetns::create("connect").expect("network namespace (needs root)");
    let started = home
        .coral_in(&netns)
        .args(["colony", "start", "--daemon"])
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");

    let mut api = python(&netns, API);
    api.expect_line("ready", Duration::from_secs(10));
    let mut web = python(&netns, WEB);
    web.expect_line("ready", Duration::from_secs(10));

    let connect = |name: &str, port: u16| {
        let mut command = home.coral_in(&netns);
        command.args(["connect", name, "--port", &port.to_string()]);
        Running::spawn(command)
    };
    let mut connect_api = connect("api", API_PORT);
    connect_api.expect_line("Connected: api (localhost:18080)", Duration::from_secs(60));
    connect_api.expect_line("Agent observing: python3", Duration::from_secs(5));
    let mut connect_web = connect("web", WEB_PORT);
    connect_web.expect_line(
        "Agent running. Press Ctrl+C to disconnect.",
        Duration::from_secs(30),
    );
    connect_web.expect_line("Discovered connection: web → api", Duration::from_secs(60));
    connect_api.expect_line("Discovered connection: web → api", Duration::from_secs(30));

    // One agent for both, and the components it names.
    let connections = home
        .coral_home()
        .join("colonies")
        .join(format!("{ID}.connections"));
    let agent = read_pid(&connections.join("agent.pid")).expect("the shared agent's pid");
    // Components arrive with the agent's heartbeats (every 10 s).
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let status = json_of(&home, &netns, &["status"]);
        let names: Vec<String> = status["components"]
            .as_array()
            .expect("components")
            .iter()
            .filter_map(|c| Some(format!("{}:{}", c["name"].as_str()?, c["status"].as_str()?)))
            .collect();
        if names == ["api:up", "web:up"] {
            break;
        }
        assert!(Instant::now() < deadline, "components: {status:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let topology = json_of(&home, &netns, &["topology"]);
    let edges = topology["edges"].as_array().expect("edges");
    let web_to_api = edges
        .iter()
        .find(|e| e["source"] == "host/web" && e["destination"] == "host/api")
        .unwrap_or_else(|| panic!("web → api: {topology:#}"));
    assert!(
        web_to_api["connections"].as_str().is_some_and(|n| n != "0"),
        "{web_to_api}"
    );
    // api only answers: nothing is attributed to it as a client (the
    // `coral` commands' own calls to the colony come from no component).
    assert!(
        edges.iter().all(|e| e["source"] != "host/api"),
        "{topology:#}"
    );

    // Ctrl+C on one: the other keeps the agent; on the last: it stops.
    assert!(connect_api.stop(), "coral connect api exits cleanly");
    assert!(
        connect_api
            .seen
            .iter()
            .any(|l| l.contains("Disconnected: api"))
            || {
                connect_api.expect_line("Disconnected: api", Duration::from_secs(5));
                true
            }
    );
    assert!(!connections.join("api.workload").exists());
    assert!(
        std::path::Path::new(&format!("/proc/{agent}")).exists(),
        "web still needs the agent"
    );
    assert!(connect_web.stop());
    assert!(
        wait_gone(agent, Duration::from_secs(20)),
        "the agent stops with the last connect"
    );
    assert!(!connections.join("web.workload").exists());

    let stopped = home
        .coral_in(&netns)
        .args(["colony", "stop"])
        .output()
        .unwrap();
    assert!(stopped.status.success(), "{stopped:?}");
}

#[test]
fn bad_connect_input_says_what_to_do() {
    let home = Home::new();
    let no_colony = home
        .coral()
        .args(["connect", "api", "--port", "8080"])
        .output()
        .unwrap();
    assert!(!no_colony.status.success());
    assert!(
        String::from_utf8_lossy(&no_colony.stderr).contains("coral init"),
        "{no_colony:?}"
    );

    home.init("shop", "dev", "shop-dev-con002", free_port());
    let bad_name = home
        .coral()
        .args(["connect", "a b", "--port", "8080"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad_name.stderr).into_owned();
    assert!(stderr.contains("bad component \"a b\""), "{stderr}");
    let port_zero = home
        .coral()
        .args(["connect", "api", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(port_zero.status.code(), Some(2), "{port_zero:?}");
    // Root, but no colony running: how to start it.
    let not_running = home
        .coral()
        .args(["connect", "api", "--port", "8080"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&not_running.stderr).into_owned();
    assert!(stderr.contains("coral colony start"), "{stderr}");
    let connections = home
        .coral_home()
        .join("colonies")
        .join("shop-dev-con002.connections");
    assert!(
        !connections.join("api.workload").exists(),
        "nothing registered"
    );
}
