//! Which Colony resource this colony serves (`--kubernetes-colony`).

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesColony {
    pub namespace: String,
    pub name: String,
}

impl FromStr for KubernetesColony {
    type Err = String;

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
            _ => Err(format!(
                "{text:?} is not NAMESPACE/NAME of a Colony resource (lowercase letters, digits, '-' and '.'), e.g. shop/shop-prod"
            )),
        }
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
            let error = bad.parse::<KubernetesColony>().unwrap_err();
            assert!(error.contains("NAMESPACE/NAME"), "{bad}: {error}");
        }
    }
}
