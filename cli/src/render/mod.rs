//! Human renderings of colony answers: the seed's status table and
//! topology tree, and topology exports (dot, mermaid, json).

pub mod status;
pub mod topology;
pub mod units;

/// The seed's heavy rule under a heading.
pub const RULE: &str = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━";
