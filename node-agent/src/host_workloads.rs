//! Host mode's workloads: the `--workload` flags plus, with
//! `--workloads-dir`, one line per workload in the `*.workload` files there
//! (what `coral connect` writes, one file per connected component). The
//! directory is read again every few seconds, so components come and go
//! without restarting the agent.

use std::path::{Path, PathBuf};

use crate::attribution::StaticWorkload;

pub struct HostWorkloads {
    fixed: Vec<StaticWorkload>,
    dir: Option<PathBuf>,
    current: Vec<StaticWorkload>,
    /// The last unreadable file or line reported, so it is logged once.
    last_problem: Option<String>,
}

impl HostWorkloads {
    pub fn new(fixed: Vec<StaticWorkload>, dir: Option<PathBuf>) -> Self {
        let mut workloads = Self {
            current: fixed.clone(),
            fixed,
            dir,
            last_problem: None,
        };
        workloads.poll();
        workloads
    }

    pub fn current(&self) -> &[StaticWorkload] {
        &self.current
    }

    /// Reads the directory again; `Some` with the new list when it changed.
    pub fn poll(&mut self) -> Option<Vec<StaticWorkload>> {
        let dir = self.dir.as_ref()?;
        let (from_files, problem) = read_dir(dir);
        if problem != self.last_problem {
            if let Some(problem) = &problem {
                tracing::warn!(dir = %dir.display(), %problem, "skipping what cannot be read in the workloads directory");
            }
            self.last_problem = problem;
        }
        let mut all = self.fixed.clone();
        all.extend(from_files);
        if all == self.current {
            return None;
        }
        self.current = all.clone();
        Some(all)
    }
}

/// The workloads of every `*.workload` file in name order, and the first
/// problem met (a missing directory is no problem: nothing is connected).
fn read_dir(dir: &Path) -> (Vec<StaticWorkload>, Option<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), None);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "workload"))
        .collect();
    files.sort();
    let (mut workloads, mut problem) = (Vec::new(), None);
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                problem.get_or_insert(format!("{}: {error}", file.display()));
                continue;
            }
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.parse::<StaticWorkload>() {
                Ok(workload) => workloads.push(workload),
                Err(error) => {
                    problem.get_or_insert(format!("{}: {error}", file.display()));
                }
            }
        }
    }
    (workloads, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_come_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let fixed: StaticWorkload = "db=127.0.0.1:5432".parse().unwrap();
        let mut workloads = HostWorkloads::new(vec![fixed], Some(dir.path().to_owned()));
        assert_eq!(workloads.current().len(), 1);
        assert_eq!(workloads.poll(), None);

        std::fs::write(
            dir.path().join("api.workload"),
            "api=127.0.0.1:8080\napi=[::1]:8080\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a workload").unwrap();
        std::fs::write(
            dir.path().join("web.workload"),
            "# comment\nweb=not-an-ip\n",
        )
        .unwrap();
        let changed = workloads.poll().expect("api appeared");
        let names: Vec<&str> = changed.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, vec!["db", "api", "api"], "the bad line is skipped");
        assert_eq!(
            workloads
                .last_problem
                .as_deref()
                .map(|p| p.contains("web.workload")),
            Some(true)
        );

        std::fs::remove_file(dir.path().join("api.workload")).unwrap();
        assert_eq!(workloads.poll().unwrap().len(), 1);
    }
}
