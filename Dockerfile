# hiring-analytics container image.
#
#   docker build -t hiring-analytics .
#   docker run --rm -p 8000:8000 -e ADMIN_TOKEN=change-me -v hiring-data:/var/lib/hiring-analytics hiring-analytics
#
# Stages:
#   chef     the official Rust image (same toolchain as CI: 1.95, edition 2024) plus cargo-chef
#   planner  turns the workspace manifests (., entity, migration) and Cargo.lock into recipe.json
#   builder  builds only the dependencies from recipe.json (a layer that stays cached until
#            Cargo.toml/Cargo.lock change), then the real sources with `cargo build --release --locked`
#   runtime  debian:bookworm-slim (same glibc as the builder), ca-certificates, a non-root user
#
# Everything the binary serves (GraphiQL, the dashboard, the chart font) is embedded at compile
# time with include_bytes!, so assets/ must be in the build context (see .dockerignore) and the
# runtime image needs no files besides the binary.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
# The slim Rust image has gcc and libc6-dev, which is all the C code in the dependency tree
# needs (aws-lc-sys with its cc builder, bundled SQLite, zstd); no system libraries are linked.
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --version "${CARGO_CHEF_VERSION}" --locked \
    && rm -rf "${CARGO_HOME}/registry"
WORKDIR /build

# ---------------------------------------------------------------------------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------------------------------------
FROM chef AS builder
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0
COPY --from=planner /build/recipe.json recipe.json
# Dependencies only: rebuilt when a manifest or Cargo.lock changes, not when src/ does.
RUN cargo chef cook --release --locked --recipe-path recipe.json
# The real workspace; the same invocation CI uses for release builds.
COPY . .
RUN cargo build --release --locked \
    && install -m 0755 target/release/hiring-analytics /usr/local/bin/hiring-analytics \
    && /usr/local/bin/hiring-analytics --version

# ---------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

LABEL org.opencontainers.image.title="hiring-analytics" \
      org.opencontainers.image.description="GraphQL analytics server for hiring data" \
      org.opencontainers.image.licenses="MIT"

# ca-certificates: TLS to S3 and to managed PostgreSQL (rustls reads the system roots).
# Not pinned: the version tracks bookworm's security updates, and pinning an exact Debian
# revision breaks the build as soon as that revision leaves the archive.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, non-root uid/gid, so a bind-mounted data directory can be chown'ed on the host
# (`chown -R 10001:10001 ./data`); named volumes get this ownership from the image.
ARG APP_UID=10001
ARG APP_GID=10001
RUN groupadd --system --gid "${APP_GID}" hiring \
    && useradd --system --uid "${APP_UID}" --gid hiring --no-create-home \
        --home-dir /var/lib/hiring-analytics --shell /usr/sbin/nologin hiring \
    && install -d -o hiring -g hiring -m 0750 /var/lib/hiring-analytics /var/lib/hiring-analytics/backups

COPY --from=builder /usr/local/bin/hiring-analytics /usr/local/bin/hiring-analytics

# Defaults for a single container with an embedded SQLite database and folder backups, all
# under the data volume. docker-compose.yml overrides DATABASE_URL and BACKUP_URL for
# PostgreSQL and S3 (MinIO); S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY configure S3.
#
# Security: `serve` refuses a non-loopback BIND such as 0.0.0.0:8000 with no way to
# authenticate: set ADMIN_TOKEN, API_TOKEN, READ_TOKEN, TOKENS_FILE or JWT (JWT_JWKS_URL with
# JWT_ISSUER and JWT_AUDIENCE). Requests without a token then get 401 (ANONYMOUS_ROLE=none,
# the default off loopback). No token is baked in and INSECURE is deliberately not set: pass
# `-e ADMIN_TOKEN=...` or the JWT settings at run time. Without one the container exits at
# start-up with a configuration error.
ENV BIND=0.0.0.0:8000 \
    LOG_FORMAT=json \
    DATABASE_URL="sqlite:///var/lib/hiring-analytics/hiring.db?mode=rwc" \
    BACKUP_URL=/var/lib/hiring-analytics/backups

# Numeric, so Kubernetes runAsNonRoot and the host can check it without /etc/passwd.
USER ${APP_UID}:${APP_GID}
WORKDIR /var/lib/hiring-analytics
VOLUME ["/var/lib/hiring-analytics"]
EXPOSE 8000

# `hiring-analytics healthcheck` GETs /healthz on the BIND port over 127.0.0.1 and exits 0 on
# 200. The start period covers migrations (and DEMO=true's first import) before serving.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["hiring-analytics", "healthcheck"]

# The server drains in-flight requests for SHUTDOWN_GRACE_SECONDS (default 30) after SIGTERM;
# give `docker stop` at least that long (`--time 35`, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["hiring-analytics"]
CMD ["serve"]
