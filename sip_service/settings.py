"""Configuration from the environment (prefix SIP_)."""

from __future__ import annotations

import os
from datetime import time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy import make_url

# The files the service reads and serves besides its code (alembic/, graphql/, auth/, video/, web/):
# beside the package in the source tree; an installed package (the image) is told with SIP_ASSETS_DIR.
ASSETS_DIR = Path(os.environ.get("SIP_ASSETS_DIR") or Path(__file__).resolve().parent.parent)


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class MediaBackend(StrEnum):
    AIORTC = "aiortc"
    JANUS = "janus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIP_", env_file=".env", extra="ignore")

    env: Mode = Mode.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./var/sip.sqlite3"
    # PostgreSQL connections kept open per process (and as many more opened for a burst, then
    # closed): at the default 5 of SQLAlchemy, 16 concurrent requests opened a new one every other request.
    db_pool_size: int = 20
    # Roles on PostgreSQL (README, "Roles and the audit trail"): migrations run as the schema's owner,
    # the service as a role that may only INSERT and SELECT the audit trail (and cannot alter, disable
    # or drop its triggers). SIP_MIGRATION_DATABASE_URL: the owner's URL, for `sip-service migrate`,
    # which then grants the service's rights to SIP_DATABASE_APP_ROLE (by default the user of
    # SIP_DATABASE_URL); keep it out of the API processes' environment. SQLite has no roles: unused.
    migration_database_url: str | None = None
    database_app_role: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    # OIDC: tokens are validated against this issuer's JWKS. In development the embedded
    # provider (mounted at /dev-oidc) is the issuer unless one is configured.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str = "sip-service"
    oidc_algorithms: list[str] = ["RS256", "ES256", "PS256"]
    oidc_leeway_seconds: int = 30
    # The `typ` header a bearer (access) token must have (RFC 9068: at+jwt); an ID token (typ JWT,
    # with a nonce) is refused as a bearer token even where its audience is the API's. Add "JWT" only
    # for a provider that types its access tokens so (then only the nonce tells them apart).
    oidc_access_token_types: list[str] = ["at+jwt"]
    # A validated token or session → its principal is remembered this long (and never past the
    # token's expiry); a change of a person in this process forgets it at once (auth/cache.py). 0: off.
    principal_cache_seconds: float = 10
    # A statistics view's counted lattice is kept this long for the next reader or filter (stats/
    # service.Lattices): counting takes seconds on a large history. 0: count for every answer.
    statistics_cache_seconds: float = 300
    dev_oidc_key_file: Path = Path("./var/dev-oidc-key.json")
    demo_identities_file: Path = ASSETS_DIR / "auth" / "demo-identities.json"

    # Browser sign-in (authorization code + PKCE, auth/OIDC.md) as this client of the issuer above.
    # Without a secret the client is public (PKCE only), as the development provider expects.
    oidc_client_id: str = "sip-service"
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile"
    # Which claim of the provider's ID/access tokens holds what (SITHS, BankID brokers differ).
    oidc_claim_hsa_id: str = "hsa_id"
    oidc_claim_personal_number: str = "personal_number"
    oidc_claim_name: str = "name"
    oidc_claim_organisation: str = "organisation_hsa_id"
    oidc_claim_commission: str = "commission"
    oidc_claim_roles: str = "sip_roles"
    # Record systems (/fhir, OAuth2 client credentials): the access token's client id and scopes;
    # the organisation it is bound to is the organisation claim above (auth/OIDC.md, "System clients").
    oidc_claim_client_id: str = "client_id"
    oidc_claim_scope: str = "scope"
    # Signs and encrypts the session cookie. Needed for browser sign-in in production; in
    # development a random one is made per process (signing in again after a restart).
    session_secret: SecretStr | None = Field(default=None, min_length=32)
    # Rotation without signing everyone out (README, "Key rotation"): more secrets, comma-separated.
    # The first of SIP_SESSION_SECRET and these signs; every one of them is accepted.
    session_secrets: Annotated[list[SecretStr], NoDecode] = []
    session_staff_max_age_s: int = 8 * 3600
    session_citizen_max_age_s: int = 3600
    # Signs guests' short-lived meeting tokens (HS256), given for an invite link. Shared by all
    # processes in production; in development a random one is made per process.
    meeting_token_secret: SecretStr | None = Field(default=None, min_length=32)
    # As SIP_SESSION_SECRETS: the first of SIP_MEETING_TOKEN_SECRET and these signs, all are accepted.
    meeting_token_secrets: Annotated[list[SecretStr], NoDecode] = []

    # Meeting events (lobby, signaling) between service processes. Without it they stay in this
    # process, which is enough for one replica.
    redis_url: str | None = None

    # Video meetings' media. The relay (SFU) runs in this process unless a `sip-service media`
    # worker runs it (then set this false in every API process, and set SIP_REDIS_URL).
    media_in_process: bool = True
    # The host addresses the relay offers as ICE candidates; empty: every interface but loopback
    # (set ["127.0.0.1"] where only loopback exists, as in the tests).
    media_addresses: list[str] = []
    # STUN/TURN for the browsers, e.g. ["stun:turn.region.se:3478", "turn:turn.region.se:3478"];
    # TURN credentials are made from the secret shared with the TURN server (video/turnserver.conf.example).
    ice_servers: list[str] = []
    turn_secret: SecretStr | None = None
    turn_credential_ttl_s: int = Field(default=4 * 3600, ge=60)
    # Browsers send media only through the TURN server (iceTransportPolicy "relay"): where direct
    # paths must not be used, and in the tests that prove TURN works.
    ice_relay_only: bool = False
    # Which media server carries the meetings: "aiortc", the relay embedded in the service (above), or
    # "janus": Janus Gateway's VideoRoom (forwards without decoding; for many meetings). The service
    # stays the authority either way: it creates a room per meeting (with a secret, a PIN and an
    # allowed list), lets in only those it admitted, relays each browser's JSEP, kicks whom staff remove
    # and destroys the room when the last one leaves. SIP_JANUS_URLS: the HTTP API of each Janus
    # (e.g. ["http://10.0.0.5:8088/janus"]), on loopback or a private network only; meetings are spread
    # over them, and made anew on another when theirs stops answering. SIP_JANUS_ADMIN_KEY: the
    # VideoRoom plugin's admin_key, if set.
    media_backend: MediaBackend = MediaBackend.AIORTC
    janus_urls: list[str] = []
    janus_admin_key: SecretStr | None = None

    # Invitations and other messages (the outbox). E-mail goes over SMTP when a host is set; in
    # development without one, e-mail and SMS are written to the log instead.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_use_tls: bool = False  # TLS from the start (port 465)
    smtp_start_tls: bool | None = None  # None: STARTTLS when the server offers it
    mail_from: str = "SIP-tjänsten <noreply@localhost>"
    notify_interval_s: float = Field(default=30.0, ge=0)  # how often the outbox is sent; 0: no worker
    notify_max_attempts: int = Field(default=5, ge=1)  # then the message is FAILED (retries 1, 5, 25 … minutes)
    # Record systems' subscriptions (FHIR rest-hooks, sent from the outbox): each POST's whole
    # exchange is bounded by this; a notification is retried after 30 s, 2, 8, 32 min, then hourly,
    # and given up after this many attempts (the subscription then shows status "error").
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=12, ge=1)
    # Each staff member with a work e-mail gets at most one e-mail a day about what is new in their
    # inbox ("Att göra"; counts only), from this time of day in Stockholm on (the outbox worker
    # looks each round; `sip-service digest` does it once). They may opt out.
    digest_at: time = time(7, 0)
    digest_enabled: bool = True

    # Signed checkpoints of the audit chain's head (audit/checkpoints.py), appended as JSON lines to
    # this file every SIP_AUDIT_CHECKPOINT_INTERVAL_S while the chain grows, so that `sip-service audit
    # verify` finds deleted newest events. The file must be out of the database role's reach (append-only:
    # `chattr +a`, or shipped to another host). The key: Ed25519, base64url of its 32 bytes
    # (`sip-service audit keygen`); verifying needs only the public keys (old ones kept after a rotation).
    audit_checkpoint_file: Path | None = None
    audit_checkpoint_key: SecretStr | None = None
    audit_checkpoint_public_keys: list[str] = []
    audit_checkpoint_interval_s: float = Field(default=60.0, ge=0)  # 0: no checkpoints from this process
    # Sooner when the chain grew by this many events (the head is looked at every second); 0: by time only.
    audit_checkpoint_every_events: int = Field(default=0, ge=0)

    # Hardening limits (always on; production also hides introspection, IDE and suggestions).
    max_body_bytes: int = 256 * 1024
    max_query_depth: int = 10
    max_aliases: int = 30
    max_directives: int = 20  # per document, all directives together
    max_tokens: int = 2000
    max_page_size: int = 100
    # Known query operations answered by one compiled statement each (api.compiled), the pages'
    # PlanChanges encoded once per change (api.plan_live); off: every operation through strawberry
    # (the reference the compiled forms are tested against).
    compiled_operations: bool = True
    # Invite links exchanged (POST /auth/invite) per client address per minute: guessing is slow.
    invite_attempts_per_minute: int = Field(default=10, ge=1)
    # The reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or networks, e.g.
    # ["10.0.0.5"] or ["10.0.0.0/24"]); empty: none, and the client address is the connection's own,
    # so that nobody dodges the invite limit above by writing another address into a header.
    trusted_proxies: list[str] = []

    # Observability (README, "Metrics, logs and the dashboard"). Log lines: "json" (one object per line) or "text";
    # unset: JSON in production, text in development. Each line carries its request's id.
    log_format: LogFormat | None = None
    # Prometheus metrics at /metrics (http/observe.py). With a token, a scrape must send it as
    # `Authorization: Bearer <token>`. Without one, /metrics is served in development, and in
    # production only when SIP_METRICS_ENABLED=true says the port is private (never behind the public
    # proxy). SIP_METRICS_ENABLED=false turns it off everywhere.
    metrics_enabled: bool | None = None
    metrics_token: SecretStr | None = Field(default=None, min_length=16)

    @field_validator("session_secrets", "meeting_token_secrets", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("session_secrets", "meeting_token_secrets")
    @classmethod
    def _long_enough(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(len(secret.get_secret_value()) < 32 for secret in value):
            raise ValueError("every secret must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _production_needs_real_identity_provider(self) -> Settings:
        if self.env is Mode.PRODUCTION and not (self.oidc_issuer and self.oidc_jwks_url):
            raise ValueError(
                "production mode needs SIP_OIDC_ISSUER and SIP_OIDC_JWKS_URL: "
                "the embedded development identity provider is never run in production"
            )
        if self.env is Mode.PRODUCTION and not (self.session_keys and self.meeting_token_keys):
            raise ValueError(
                "production mode needs SIP_SESSION_SECRET and SIP_MEETING_TOKEN_SECRET (32+ characters; "
                "or SIP_SESSION_SECRETS and SIP_MEETING_TOKEN_SECRETS)"
            )
        if self.audit_checkpoint_file and not (self.audit_checkpoint_key or self.audit_checkpoint_public_keys):
            raise ValueError(
                "SIP_AUDIT_CHECKPOINT_FILE needs SIP_AUDIT_CHECKPOINT_KEY (to write checkpoints; "
                "sip-service audit keygen) or SIP_AUDIT_CHECKPOINT_PUBLIC_KEYS (to verify them only)"
            )
        if self.media_backend is MediaBackend.JANUS and not self.janus_urls:
            raise ValueError("SIP_MEDIA_BACKEND=janus needs SIP_JANUS_URLS (the HTTP API of at least one Janus)")
        return self

    @property
    def session_keys(self) -> list[str]:
        """The session cookie's secrets: the first encrypts, every one decrypts (empty: none set)."""
        return _in_order(self.session_secret, self.session_secrets)

    @property
    def meeting_token_keys(self) -> list[str]:
        """The meeting tokens' secrets: the first signs, every one verifies (empty: none set)."""
        return _in_order(self.meeting_token_secret, self.meeting_token_secrets)

    @property
    def is_production(self) -> bool:
        return self.env is Mode.PRODUCTION

    @property
    def logs_as_json(self) -> bool:
        return self.log_format is LogFormat.JSON or (self.log_format is None and self.is_production)

    @property
    def metrics_served(self) -> bool:
        """Whether /metrics answers at all (it then asks for the token, if one is set)."""
        if self.metrics_enabled is not None:
            return self.metrics_enabled
        return self.metrics_token is not None or not self.is_production

    @property
    def turn_credential_ttl(self) -> timedelta:
        return timedelta(seconds=self.turn_credential_ttl_s)

    @property
    def owner_database_url(self) -> str:
        """Where migrations run: the owner's URL if one is given."""
        return self.migration_database_url or self.database_url

    @property
    def app_role(self) -> str | None:
        """The role `migrate` grants the service's rights to: set, or the service's own user when
        migrations run as another (PostgreSQL only); none when migrations run as that very role (a
        `serve` that connects as the service's role has nothing to grant)."""
        owner = make_url(self.owner_database_url).username
        role = self.database_app_role or (make_url(self.database_url).username if self.migration_database_url else None)
        return role if role and role != owner else None

    @property
    def issuer(self) -> str:
        return self.oidc_issuer or f"{self.public_url.rstrip('/')}/dev-oidc"


def _in_order(first: SecretStr | None, more: list[SecretStr]) -> list[str]:
    secrets = [s.get_secret_value() for s in ([first] if first else []) + more]
    return list(dict.fromkeys(secrets))
