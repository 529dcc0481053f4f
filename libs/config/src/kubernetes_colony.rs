//! Which Colony resource a colony serves (`kubernetesColony` in
//! `colony.yaml`, `--kubernetes-colony`): parsed once, where the settings
//! are read, so the colony and the operator check it by the same rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesColony {
    pub namespace: String,
    pub name: String,
}

impl FromStr for KubernetesColony {
    type Err = KubernetesColonyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 253
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        match text.split_once('/') {
            Some((namespace, name)) if valid(namespace) && valid(name) => Ok(Self {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(KubernetesColonyError(format!(
                "{text:?} is not NAMESPACE/NAME of a Colony resource (lowercase letters, digits, '-' and '.'), e.g. shop/shop-prod"
            ))),
        }
    }
}

/// A text that is not `NAMESPACE/NAME`; the message shows an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KubernetesColonyError(String);

/// Written as `namespace/name`.
impl Serialize for KubernetesColony {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}/{}", self.namespace, self.name))
    }
}

impl<'de> Deserialize<'de> for KubernetesColony {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for KubernetesColony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Colony {}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_and_name() {
        let colony: KubernetesColony = "shop/shop-prod".parse().unwrap();
        assert_eq!(colony.namespace, "shop");
        assert_eq!(colony.name, "shop-prod");
        for bad in ["shop", "/x", "x/", "Shop/x", "a/b/c", ""] {
            let error = bad.parse::<KubernetesColony>().unwrap_err().to_string();
            assert!(error.contains("NAMESPACE/NAME"), "{bad}: {error}");
        }
    }
}
