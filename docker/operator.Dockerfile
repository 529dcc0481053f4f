# syntax=docker/dockerfile:1.7
# coral-operator image. Build context: the repository root.
#   docker build -f docker/operator.Dockerfile -t coral-operator .
# Multi-stage: the toolchain pinned in rust-toolchain.toml builds a release
# binary; the runtime is distroless (glibc, libgcc, libstdc++, CA
# certificates; no shell, no package manager).
# Runs as the distroless nonroot user (65532); the chart's Pod Security
# context (restricted) matches it.
ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --package coral-operator --bin coral-operator \
 && install -D -m 0755 target/release/coral-operator /out/coral-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/coral-operator /usr/local/bin/coral-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coral-operator"]
