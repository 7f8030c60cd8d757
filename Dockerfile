# Production image: the service on PostgreSQL, behind a TLS-terminating proxy.
#
# Required variables (the service refuses to start in production without the first five):
#   SIP_DATABASE_URL          postgresql+asyncpg://user:password@host/db
#   SIP_OIDC_ISSUER           the identity provider (SITHS for staff, a BankID broker for citizens; auth/OIDC.md)
#   SIP_OIDC_JWKS_URL         its signing keys
#   SIP_SESSION_SECRET        32+ random characters: encrypts the browser's session cookie
#   SIP_MEETING_TOKEN_SECRET  32+ random characters: signs guests' meeting tokens; the same in every process
#   SIP_PUBLIC_URL            the https address people use (links in invitations, sign-in redirects)
# Usually also: SIP_REDIS_URL (more than one process), SIP_SMTP_HOST (e-mail), SIP_ICE_SERVERS and
# SIP_TURN_SECRET (video through firewalls), SIP_OIDC_CLIENT_ID/SECRET. All settings: README.md.

# Build the package as a wheel; the image installs it, not the source tree.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements-build.lock ./
COPY sip_service ./sip_service
# the build backend as locked (with hashes), not whatever the index has today
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements-build.lock \
    && pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    SIP_ENV=production SIP_ASSETS_DIR=/app
WORKDIR /app
RUN useradd --system --home /app sip
# The pinned dependencies (make lock), checked against their hashes, then the service's own wheel.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
# What the service reads and serves besides its code (SIP_ASSETS_DIR): migrations, the GraphQL
# schema and operations, identity assets, and the two sets of pages.
COPY alembic.ini ./
COPY alembic ./alembic
COPY graphql ./graphql
COPY auth ./auth
COPY video ./video
COPY web ./web
# where the audit checkpoints go (SIP_AUDIT_CHECKPOINT_FILE; a volume in compose.yaml), writable by the service
RUN mkdir -p /var/lib/sip-audit && chown sip /var/lib/sip-audit
USER sip
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["sip-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
