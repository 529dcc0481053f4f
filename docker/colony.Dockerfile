# syntax=docker/dockerfile:1.7
# coral-colony image. Build context: the repository root.
#   docker build -f docker/colony.Dockerfile -t coral-colony .
# Multi-stage: the toolchain pinned in rust-toolchain.toml builds a release
# binary; the runtime is distroless (glibc, libgcc, libstdc++, CA
# certificates; no shell, no package manager).
# Runs as the distroless nonroot user (65532). DuckDB is compiled in (C++,
# hence the cc runtime with libstdc++); its data volume must be writable by
# that user (the pod needs fsGroup 65532).
ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --package coral-colony --bin coral-colony \
 && install -D -m 0755 target/release/coral-colony /out/coral-colony

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/coral-colony /usr/local/bin/coral-colony
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coral-colony"]
