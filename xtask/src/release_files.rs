//! Tests that the release files agree with each other and with the
//! workspace: they cannot run here (no Docker engine, no GitHub), so a
//! renamed binary, a missing Dockerfile or a version bump made in one place
//! only must fail `cargo test` instead of the next release.

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::paths::workspace_root;

    fn read(path: &str) -> String {
        fs::read_to_string(workspace_root().join(path))
            .unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    /// The `component: [...]` list of the release workflow's image jobs.
    fn released_components() -> Vec<String> {
        let workflow = read(".github/workflows/release.yml");
        let lists: Vec<Vec<String>> = workflow
            .lines()
            .filter_map(|line| line.trim().strip_prefix("component: ["))
            .map(|rest| {
                rest.trim_end_matches(']')
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .collect();
        assert_eq!(
            lists.len(),
            2,
            "the image and image-manifest jobs each list the components"
        );
        assert_eq!(
            lists[0], lists[1],
            "both image jobs must build the same components"
        );
        lists[0].clone()
    }

    #[test]
    fn every_released_image_has_a_dockerfile_building_its_binary() {
        for component in released_components() {
            let path = format!("docker/{component}.Dockerfile");
            let dockerfile = read(&path);
            let binary = format!("coral-{component}");
            for needle in [
                format!("--bin {binary} "),
                format!("COPY --from=build /out/{binary} /usr/local/bin/{binary}"),
                format!("ENTRYPOINT [\"/usr/local/bin/{binary}\"]"),
                "FROM gcr.io/distroless/".to_string(),
            ] {
                assert!(dockerfile.contains(&needle), "{path} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn the_chart_default_images_are_released() {
        let values = read("charts/coral/values.yaml");
        let components = released_components();
        for line in values.lines() {
            let Some(repository) = line.trim().strip_prefix("repository: coral-dev/coral-") else {
                continue;
            };
            // No `coral-reef` binary exists yet (reef/ is a library); the
            // chart already names the image a Reef will default to.
            if repository == "reef" {
                continue;
            }
            assert!(
                components.iter().any(|c| c == repository),
                "values.yaml uses image coral-{repository}, which the release workflow does not build"
            );
        }
    }

    #[test]
    fn chart_and_workspace_versions_agree() {
        let chart = read("charts/coral/Chart.yaml");
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            chart.contains(&format!("\nversion: {version}\n")),
            "Chart.yaml version is not {version}"
        );
        assert!(
            chart.contains(&format!("\nappVersion: \"{version}\"\n")),
            "Chart.yaml appVersion is not {version}"
        );
    }

    #[test]
    fn krew_manifest_points_at_the_archives_the_workflow_builds() {
        let workflow = read(".github/workflows/release.yml");
        let krew = read("packaging/krew/coral.yaml");
        // The workflow names archives "<bin>_v<version>_linux_<arch>.tar.gz"
        // and fills {{VERSION}} with "v<version>".
        assert!(
            workflow.contains(r#"archive="${bin}_v${VERSION}_linux_${{ matrix.arch }}.tar.gz""#)
        );
        assert!(workflow.contains(r#"s/{{VERSION}}/v${VERSION}/g"#));
        assert!(workflow.contains("--bin kubectl-coral"));
        for arch in ["amd64", "arm64"] {
            assert!(
                krew.contains(&format!(
                    "/releases/download/{{{{VERSION}}}}/kubectl-coral_{{{{VERSION}}}}_linux_{arch}.tar.gz"
                )),
                "krew manifest lacks the linux/{arch} archive"
            );
            assert!(krew.contains(&format!("arch: {arch}")));
        }
        assert_eq!(krew.matches("bin: kubectl-coral").count(), 2);
        for placeholder in [
            "{{VERSION}}",
            "{{REPOSITORY}}",
            "{{SHA256_LINUX_AMD64}}",
            "{{SHA256_LINUX_ARM64}}",
        ] {
            assert!(
                krew.contains(placeholder) && workflow.contains(placeholder),
                "{placeholder} not filled by the workflow"
            );
        }
    }
}
