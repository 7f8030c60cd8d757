"""The schema is made only by migrations: they go up, down and up again, and match the models."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from sip_service.kit import migrations
from sip_service.kit.db import Database
from sip_service.models import Base


async def tables(url: str) -> set[str]:
    db = Database(url)
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await db.dispose()
    return names - {"alembic_version"}


async def test_upgrade_downgrade_upgrade_and_no_drift(empty_database: str) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_database)
    assert await tables(empty_database) == set(Base.metadata.tables)
    await asyncio.to_thread(migrations.downgrade, empty_database)
    assert await tables(empty_database) == set()
    await asyncio.to_thread(migrations.upgrade, empty_database)
    # `alembic check` raises when the models and the migrated schema differ.
    await asyncio.to_thread(command.check, migrations.alembic_config(empty_database))
