# syntax=docker/dockerfile:1
# One image per service, all from this file and the uv lock:
#   docker build --build-arg SERVICE=ideas -t quorum-ideas .
# SERVICE is one of gateway, ideas, validation, notifications. The image runs
# `python -m quorum_<SERVICE>` as an unprivileged user; configuration comes only from
# environment variables (README's configuration table, OTEL_* for telemetry).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: the venv
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ARG UV_VERSION=0.13.9
RUN case "${SERVICE}" in \
      gateway|ideas|validation|notifications) ;; \
      *) echo "build with --build-arg SERVICE=gateway|ideas|validation|notifications" >&2; exit 1 ;; \
    esac
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# The venv lives where the runtime image expects it, built by the image's own Python;
# bytecode is compiled now because the running container's filesystem is read-only.
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src

# Dependencies first (from the lock only), so a source change rebuilds one small layer.
# uv needs every workspace member's pyproject.toml to read the lock (tests/deploy
# checks that each member is listed here).
COPY pyproject.toml uv.lock ./
COPY libs/client/pyproject.toml libs/client/
COPY libs/common/pyproject.toml libs/common/
COPY libs/contracts/pyproject.toml libs/contracts/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/ideas/pyproject.toml services/ideas/
COPY services/notifications/pyproject.toml services/notifications/
COPY services/validation/pyproject.toml services/validation/
COPY tools/devtools/pyproject.toml tools/devtools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "quorum-${SERVICE}"

# Then the service and the two libraries it uses, installed as packages (not links
# into /src), so the runtime image needs nothing but the venv.
COPY libs/common libs/common
COPY libs/contracts libs/contracts
COPY services/${SERVICE} services/${SERVICE}
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "quorum-${SERVICE}"
RUN printf '#!/bin/sh\nexec /app/.venv/bin/python -m quorum_%s "$@"\n' "${SERVICE}" > /app/run \
    && chmod 0555 /app/run

# ------------------------------------------------------------------ runtime image
FROM ${PYTHON_IMAGE}
ARG SERVICE
LABEL org.opencontainers.image.title="quorum-${SERVICE}" \
      org.opencontainers.image.description="Quorum ${SERVICE} service"
RUN groupadd --system --gid 10001 quorum \
    && useradd --system --uid 10001 --gid quorum --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin quorum
# Owned by root and not writable by the service user.
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    QUORUM_SERVICE=${SERVICE}
USER 10001:10001
WORKDIR /app
# The launcher execs Python, so SIGTERM reaches the service (clean shutdown, exit 0).
ENTRYPOINT ["/app/run"]
