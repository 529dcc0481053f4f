//! The `coral` / `kubectl-coral` CLI. Not written yet (issue 7); this crate
//! holds no functionality.
