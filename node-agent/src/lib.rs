//! coral-node-agent: eBPF flow capture, pod attribution, mesh join and
//! reporting. Not written yet (issue 8); this crate holds no functionality.
