//! Human renderings of colony answers: the status table and topology tree
//! (layouts pinned by `tests/golden`), and topology exports (dot, mermaid,
//! json).

pub mod status;
pub mod topology;
pub mod units;

/// The heavy rule under a heading of the status table and topology tree.
pub const RULE: &str = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━";
