# Lantern container image.
#
#   docker build -t lantern:local .
#   docker run --rm lantern:local config
#
# Two stages: the first installs Lantern and its dependencies into a virtualenv
# (pip, build tools and the source tree stay behind); the second copies only that
# virtualenv onto a clean slim image and runs it as an unprivileged user.
# Nothing secret is baked in: every setting comes from LANTERN_* variables at run
# time. No key is ever written to disk: the bot starts sealed and k coordinators
# unseal it by Signal message.

# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# Only what the wheel is built from. README.m[d] is a pattern so the build
# still works while the project has no README (pyproject.toml always matches).
COPY pyproject.toml README.m[d] ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY security ./security
COPY sandbox ./sandbox

# pip byte-compiles what it installs, so the read-only container never needs to
# write __pycache__ at start.
RUN python -m venv /opt/lantern \
    && /opt/lantern/bin/pip install --no-cache-dir . \
    && /opt/lantern/bin/lantern --help > /dev/null

# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="lantern" \
      org.opencontainers.image.description="Self-hosted Signal bot for solidarity networks" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"

# A fixed, unprivileged UID/GID so volume ownership stays the same across
# rebuilds and hosts. No home directory, no login shell.
ARG LANTERN_UID=10001
ARG LANTERN_GID=10001
RUN groupadd --system --gid "${LANTERN_GID}" lantern \
    && useradd --system --no-log-init --uid "${LANTERN_UID}" --gid lantern \
       --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin lantern \
    && mkdir -p /data \
    && chown "${LANTERN_UID}:${LANTERN_GID}" /data \
    && chmod 0700 /data

COPY --from=build /opt/lantern /opt/lantern

ENV PATH="/opt/lantern/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANTERN_DATA_DIR=/data

# /data holds, without PostgreSQL, the SQLite database (ciphertext; no keys). A named volume mounted here inherits the owner set above.
VOLUME ["/data"]
WORKDIR /data

USER ${LANTERN_UID}:${LANTERN_GID}

# No HEALTHCHECK on purpose: the bot serves no port, and "the process is alive" is
# already what Docker's restart policy watches. A real check would need a
# heartbeat from the bot; the image has no curl, and probing signal-cli-rest-api
# from here would report that container's health, not ours. The same image also
# runs one-shot commands (migrate, invite) where a health check means nothing.
HEALTHCHECK NONE

ENTRYPOINT ["lantern"]
CMD ["run"]
