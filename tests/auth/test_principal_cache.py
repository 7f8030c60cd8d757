"""A validated token is remembered for seconds (never past its expiry) and forgotten when the person changes."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update

from sip_service.auth.cache import PrincipalCache
from sip_service.auth.principal import CitizenPrincipal
from sip_service.models.identity import Organisation, StaffMember

from conftest import Service, op


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_an_entry_holds_for_ttl_and_never_past_the_tokens_expiry() -> None:
    clock = Clock()
    cache = PrincipalCache(10, now=clock)
    elsa = CitizenPrincipal(uuid.uuid4(), "Elsa Andersson")
    cache.put("a", elsa)
    cache.put("b", elsa, expires_at=clock.t + 3)
    clock.t += 2.9
    assert cache.get("a") == elsa and cache.get("b") == elsa
    clock.t += 0.1
    assert cache.get("a") == elsa and cache.get("b") is None  # the token expired
    clock.t += 7
    assert cache.get("a") is None
    assert PrincipalCache.key("token", "x") != PrincipalCache.key("session", "x")
    assert "x" not in PrincipalCache.key("token", "x")  # hashed: no token kept


def test_it_is_bounded_and_can_be_switched_off() -> None:
    clock = Clock()
    small = PrincipalCache(10, now=clock, max_entries=2)
    elsa = CitizenPrincipal(uuid.uuid4(), "Elsa Andersson")
    for key in "abc":
        small.put(key, elsa)
    assert len(small) == 2 and small.get("a") is None and small.get("c") == elsa
    off = PrincipalCache(0, now=clock)
    off.put("a", elsa)
    assert off.get("a") is None


async def test_a_token_is_looked_up_once_and_a_change_of_organisation_is_seen_at_once(world: Service) -> None:
    token = world.token("staff-anna")
    me = {"query": op("Me")}
    async with httpx.AsyncClient(base_url=world.url, headers={"Authorization": f"Bearer {token}"}) as http:

        async def organisation() -> tuple[str, int]:
            with world.statements.counting() as counted:
                body = (await http.post("/graphql", json=me)).json()
            return body["data"]["me"]["staffMember"]["organisation"]["name"], counted.count

        first, statements_first = await organisation()
        again, statements_again = await organisation()
        assert again == first and statements_again == statements_first - 1  # no lookup of the person

        async with world.db.write() as s:  # through the ORM
            anna = (await s.scalars(select(StaffMember).where(StaffMember.name == "Anna Lind"))).one()
            johans = (await s.scalars(select(Organisation).where(Organisation.name == "Socialtjänsten Ekby"))).one()
            old, anna.organisation_id = anna.organisation_id, johans.id
        assert (await organisation())[0] == "Socialtjänsten Ekby"

        async with world.db.write() as s:  # a bulk UPDATE
            await s.execute(update(StaffMember).where(StaffMember.id == anna.id).values(organisation_id=old))
        assert (await organisation())[0] == first

        await organisation()
        assert (await organisation()) == (first, statements_again)  # remembered again
