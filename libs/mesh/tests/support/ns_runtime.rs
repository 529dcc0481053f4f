//! A tokio runtime whose worker threads were born inside a network
//! namespace (a thread's namespace is inherited by the threads it starts), so
//! sockets and TUN devices made by its tasks belong to that namespace.

use std::future::Future;
use std::os::unix::fs::MetadataExt;

use anyhow::Result;
use tokio::runtime::Runtime;

pub struct NsRuntime {
    runtime: Runtime,
}

impl NsRuntime {
    pub fn enter(netns: &str) -> Result<Self> {
        let path = format!("/run/netns/{netns}");
        let expected = std::fs::metadata(&path)?.ino();
        let runtime = coral_e2e::spawn_in_netns(netns, || -> Result<Runtime> {
            Ok(tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?)
        })
        .join()
        .expect("runtime thread panicked")?;
        let ns = Self { runtime };
        // Never create devices in the wrong namespace: check where tasks run.
        let actual =
            ns.run(async { std::fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino()) })?;
        assert_eq!(
            actual, expected,
            "runtime tasks do not run in netns {netns}"
        );
        Ok(ns)
    }

    /// Runs `future` on the namespace's worker threads and waits for it.
    pub fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .block_on(self.runtime.spawn(future))
            .expect("task in namespace panicked")
    }

    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(future)
    }
}
