"""The service's own database role on PostgreSQL: what `sip-service migrate` grants it, as the owner.

Migrations run as the role that owns the schema; the service connects as another role (created once
by the operator: roles belong to the whole cluster, so no migration makes one). After each upgrade
the owner grants that role exactly what the service needs: SELECT, INSERT, UPDATE and DELETE on the
tables, but only SELECT and INSERT on the append-only ones (the audit trail) and only SELECT on
Alembic's version table. Only the owner may ALTER, DISABLE TRIGGER or DROP TRIGGER on a table, and
nothing grants TRUNCATE, so the service's role cannot rewrite the trail, whatever runs under it.
SQLite has no roles: nothing to do there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# The tables the service only ever adds to (audit/service.py; their triggers refuse UPDATE, DELETE,
# TRUNCATE even to the owner), and the ones it only reads.
APPEND_ONLY = frozenset({"audit_events"})
READ_ONLY = frozenset({"alembic_version"})
READ_WRITE = "SELECT, INSERT, UPDATE, DELETE"


class RoleRefused(Exception):
    """The named role cannot be the service's: it does not exist, or it has the owner's rights."""


@dataclass(frozen=True)
class Granted:
    role: str
    tables: dict[str, str]  # table → the privileges granted


async def grant_app_role(owner_url: str, role: str) -> Granted:
    """As the owner (`owner_url`): give `role` the service's rights on every table of the schema,
    taking back any others first. Refused for a role that is a superuser, the owner, or a member of
    the owner's role (it would inherit the right to drop the triggers)."""
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            quote = conn.dialect.identifier_preparer.quote
            found = (
                await conn.execute(
                    text(
                        "SELECT r.rolsuper, r.rolbypassrls, r.rolname = current_user, "
                        "pg_has_role(r.rolname, current_user, 'USAGE') "
                        "FROM pg_roles r WHERE r.rolname = :role"
                    ),
                    {"role": role},
                )
            ).first()
            if found is None:
                raise RoleRefused(
                    f"there is no role {role!r}: create it once, e.g. CREATE ROLE {quote(role)} LOGIN PASSWORD '…'"
                )
            superuser, bypass_rls, is_owner, inherits = found
            if superuser or bypass_rls:
                raise RoleRefused(f"{role!r} is a superuser: it could rewrite the audit trail")
            if is_owner or inherits:
                raise RoleRefused(f"{role!r} is (or inherits) the owner's role: it could drop the audit triggers")
            schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
            await conn.execute(text(f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(role)}"))
            tables = (
                await conn.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"), {"s": schema}
                )
            ).all()
            granted: dict[str, str] = {}
            for table in tables:
                rights = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT" if table in READ_ONLY else READ_WRITE
                name = f"{quote(schema)}.{quote(table)}"
                await conn.execute(text(f"REVOKE ALL ON TABLE {name} FROM {quote(role)}"))
                await conn.execute(text(f"GRANT {rights} ON TABLE {name} TO {quote(role)}"))
                granted[table] = rights
            await conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {quote(role)}"))
    finally:
        await engine.dispose()
    return Granted(role, granted)
