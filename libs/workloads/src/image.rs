//! The version a container image reference names, as `coral status` shows it.

/// `registry:5000/shop/api:2.1.0` → `2.1.0`; a digest-only reference gives
/// the digest's first 12 hex digits; no tag means `latest`.
pub fn image_version(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A tag follows the last ':' after the last '/' (a registry port does not count).
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if let Some((_, tag)) = last_segment.rsplit_once(':')
        && !tag.is_empty()
    {
        return tag.to_owned();
    }
    match digest {
        Some(digest) => {
            let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
            hex.chars().take(12).collect()
        }
        None => "latest".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::image_version;

    #[test]
    fn tags_digests_and_registry_ports() {
        assert_eq!(image_version("frontend:1.9.2"), "1.9.2");
        assert_eq!(image_version("registry:5000/shop/api:2.1.0"), "2.1.0");
        assert_eq!(image_version("registry:5000/shop/api"), "latest");
        assert_eq!(image_version("postgres"), "latest");
        assert_eq!(image_version("postgres:14.2@sha256:abcdef"), "14.2");
        assert_eq!(
            image_version("api@sha256:0123456789abcdef0123"),
            "0123456789ab"
        );
        assert_eq!(image_version(""), "latest");
    }
}
