"""Access-token validation against an OIDC provider's JWKS.

Fails closed: anything unexpected (unknown key, unreachable JWKS, odd header)
refuses the token.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from typing import Any, Literal, Protocol

import httpx
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import Key, KeySet

from sip_service.kit import clock

TokenErrorCode = Literal["TOKEN_EXPIRED", "TOKEN_NOT_YET_VALID", "TOKEN_INVALID", "JWKS_UNAVAILABLE"]

# A real token is a few KB; refusing huge input bounds the work an attacker can cause.
MAX_TOKEN_LENGTH = 16 * 1024


class TokenError(Exception):
    """A token was refused. `code` is stable and safe to show; the text is for logs."""

    def __init__(self, code: TokenErrorCode, message: str = "") -> None:
        super().__init__(message or code)
        self.code: TokenErrorCode = code


class JwksSource(Protocol):
    """Where signing keys come from.

    `await source()` may answer from a cache; `await source.refresh()` must refetch.
    """

    async def __call__(self) -> KeySet: ...

    async def refresh(self) -> KeySet: ...


class _StaticJwksSource:
    def __init__(self, key_set: KeySet) -> None:
        self._key_set = key_set

    async def __call__(self) -> KeySet:
        return self._key_set

    async def refresh(self) -> KeySet:
        return self._key_set


def static_jwks_source(key_set: KeySet) -> JwksSource:
    """Keys known in-process (e.g. the embedded dev provider): no network."""
    return _StaticJwksSource(key_set)


class _HttpJwksSource:
    def __init__(self, url: str, client: httpx.AsyncClient, max_age_s: float, timeout_s: float) -> None:
        self._url = url
        self._client = client
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._key_set: KeySet | None = None
        self._fetched_at = -math.inf
        # Concurrent requests share one fetch instead of stampeding the provider.
        self._lock = asyncio.Lock()

    async def __call__(self) -> KeySet:
        if self._key_set is not None and clock.monotonic() - self._fetched_at < self._max_age_s:
            return self._key_set
        return await self.refresh()

    async def refresh(self) -> KeySet:
        async with self._lock:
            try:
                response = await self._client.get(self._url, timeout=self._timeout_s)
                response.raise_for_status()
                key_set = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
                # Never fall back to stale keys: unreachable provider means no logins.
                self._key_set = None
                raise TokenError("JWKS_UNAVAILABLE", f"cannot fetch JWKS from {self._url}: {exc!r}") from exc
            self._key_set, self._fetched_at = key_set, clock.monotonic()
            return key_set


def http_jwks_source(
    url: str,
    client: httpx.AsyncClient,
    *,
    max_age_s: float = 300.0,
    timeout_s: float = 5.0,
) -> JwksSource:
    """Fetch the JWKS over HTTP, cached for `max_age_s`.

    Key rotation is also picked up sooner, via the validator's unknown-kid refetch.
    """
    return _HttpJwksSource(url, client, max_age_s, timeout_s)


class TokenValidator:
    """Validates signed JWTs from one issuer for one audience."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str],
        jwks: JwksSource,
        leeway_s: int = 30,
        min_refresh_interval_s: float = 10.0,
        access_token_types: Iterable[str] | None = None,
    ) -> None:
        """`access_token_types`: this validator takes access tokens (bearer tokens for the API), whose
        `typ` header must be one of these (RFC 9068: "at+jwt"; compared without case or "application/")
        and which never carry an ID token's `nonce`. None: ID tokens (the browser sign-in), unchecked."""
        algs = list(algorithms)
        # Asymmetric algorithms only: "none" is unsigned, and HS* would let anyone
        # holding the public key (which is public) forge tokens.
        bad = [a for a in algs if a.lower() == "none" or a.upper().startswith("HS")]
        if bad or not algs:
            raise ValueError(f"refusing token algorithms {bad or algs!r}: only asymmetric ones")
        self._algorithms = frozenset(algs)
        self._access_token_types = (
            None if access_token_types is None else frozenset(map(_media_type, access_token_types))
        )
        self._jwks = jwks
        self._min_refresh_interval_s = min_refresh_interval_s
        self._last_refresh = -math.inf
        self._claims = jwt.JWTClaimsRegistry(
            leeway=leeway_s,
            iss={"essential": True, "value": issuer},
            # "value" matches a string aud or any element of a list aud
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        )

    async def validate(self, token: str) -> dict[str, Any]:
        """Return the token's claims, or raise TokenError."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("TOKEN_INVALID", "empty or oversized token")
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenError("TOKEN_INVALID", "malformed token") from exc

        alg, kid = header.get("alg"), header.get("kid")
        # Checked before any key lookup, so "none"/HS* never reach signature code.
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise TokenError("TOKEN_INVALID", f"algorithm {alg!r} not allowed")
        if kid is not None and not isinstance(kid, str):
            raise TokenError("TOKEN_INVALID", "malformed kid")
        if self._access_token_types is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or _media_type(typ) not in self._access_token_types:
                raise TokenError("TOKEN_INVALID", f"token type {typ!r} is not an access token's")

        key = _find_key(await self._jwks(), kid, alg)
        if key is None and self._may_refresh():
            # Unknown kid: keys may have rotated. Refetch once, then refuse.
            key = _find_key(await self._jwks.refresh(), kid, alg)
        if key is None:
            raise TokenError("TOKEN_INVALID", f"no signing key for kid {kid!r}")

        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except JoseError as exc:
            raise TokenError("TOKEN_INVALID", f"signature check failed: {exc.error}") from exc

        try:
            self._claims.validate(claims)
        except ExpiredTokenError as exc:
            raise TokenError("TOKEN_EXPIRED", "token expired") from exc
        except InvalidClaimError as exc:
            timing = exc.claim in ("nbf", "iat") and isinstance(claims.get(exc.claim), int | float)
            code: TokenErrorCode = "TOKEN_NOT_YET_VALID" if timing else "TOKEN_INVALID"
            raise TokenError(code, f"claim {exc.claim!r} refused") from exc
        except JoseError as exc:
            raise TokenError("TOKEN_INVALID", f"claims refused: {exc.error}") from exc
        if self._access_token_types is not None and "nonce" in claims:
            raise TokenError("TOKEN_INVALID", "an ID token (it carries a nonce) is not an access token")
        return claims

    def _may_refresh(self) -> bool:
        # Garbage kids must not make us hammer the provider's JWKS endpoint.
        now = clock.monotonic()
        if now - self._last_refresh < self._min_refresh_interval_s:
            return False
        self._last_refresh = now
        return True


def _media_type(typ: str) -> str:
    typ = typ.strip().lower()
    return typ.removeprefix("application/")


def _find_key(key_set: KeySet, kid: str | None, alg: str) -> Key | None:
    if kid is None:
        # Without a kid we only trust an unambiguous single-key set.
        candidates = list(key_set)
        key = candidates[0] if len(candidates) == 1 else None
    else:
        key = next((k for k in key_set if k.kid == kid), None)
    if key is None or key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
        return None
    return key
