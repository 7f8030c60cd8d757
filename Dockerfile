# Production image: the service on PostgreSQL, behind a TLS-terminating proxy.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 SIP_ENV=production
WORKDIR /app
RUN useradd --system --home /app sip
COPY pyproject.toml README.md alembic.ini ./
COPY sip_service ./sip_service
COPY alembic ./alembic
COPY graphql ./graphql
COPY auth ./auth
COPY video ./video
COPY web ./web
# Editable, so that the package finds its assets beside it (auth/, graphql/, video/, web/) in /app.
RUN pip install --no-cache-dir -e .
USER sip
EXPOSE 8000
# Needs SIP_DATABASE_URL (postgresql+asyncpg://…), SIP_OIDC_ISSUER, SIP_OIDC_JWKS_URL, SIP_PUBLIC_URL.
CMD ["sip-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
