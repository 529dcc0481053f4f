# syntax=docker/dockerfile:1.7
# coral-node-agent image. Build context: the repository root.
#   docker build -f docker/node-agent.Dockerfile -t coral-node-agent .
# Multi-stage: the toolchain pinned in rust-toolchain.toml builds a release
# binary; the runtime is distroless (glibc, libgcc, libstdc++, CA
# certificates; no shell, no package manager).
# Runs as root (uid 0) WITHOUT privileged: the DaemonSet drops every
# capability and adds only BPF, PERFMON, NET_ADMIN, SYS_RESOURCE and
# SYS_PTRACE; capabilities added by Kubernetes take effect for uid 0 only.
ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The eBPF program (node-agent/ebpf) is built by node-agent/build.rs with
# bpf-linker and the rust-src component.
RUN rustup component add rust-src \
 && cargo install bpf-linker --version 0.10.4 --locked
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --package coral-node-agent --bin coral-node-agent \
 && install -D -m 0755 target/release/coral-node-agent /out/coral-node-agent

FROM gcr.io/distroless/cc-debian12
COPY --from=build /out/coral-node-agent /usr/local/bin/coral-node-agent
USER 0:0
ENTRYPOINT ["/usr/local/bin/coral-node-agent"]
