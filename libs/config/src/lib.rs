//! The configuration files of Coral's processes, each one typed model that
//! every writer and reader shares so they cannot drift:
//!
//! - [`ColonySettings`] (`colony.yaml`): what a colony is. The operator
//!   renders it from a Colony resource, `coral-colony --config` reads it
//!   (flags override it field by field), `coral colony start` builds it.
//! - [`AgentColoniesFile`] (`colonies.yaml`): the colonies a node-agent
//!   reports to, kept by the operator in a Secret.

pub mod agent_colonies;
mod colony_settings;
mod kubernetes_colony;
mod secret;

pub use agent_colonies::{AgentColoniesError, AgentColoniesFile, AgentColony};
pub use colony_settings::{
    ColonySettings, ConfigFileError, MeshSettings, RetentionSettings, SettingsError,
    StorageSettings, defaults, limits,
};
pub use kubernetes_colony::{KubernetesColony, KubernetesColonyError};
pub use secret::SecretString;
