"""GraphQL answers are encoded by orjson and mean exactly what the standard library's JSON meant."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from sip_service.kit import jsonenc

from conftest import Service, op
from helpers import big_plan


@pytest.mark.parametrize(
    "value",
    [
        {"data": {"plan": {"name": "Åsa Öberg – ”citat” \u2028", "n": 3, "f": 0.1, "ok": True, "none": None}}},
        {"errors": [{"message": "x", "path": ["plan", 0, "goals"], "extensions": {"code": "NOT_FOUND"}}]},
        {"big": 2**70, "neg": -(2**70)},  # beyond orjson: the standard library encodes it
        {1: "non-string keys", "nested": [[{}], []]},
    ],
)
def test_the_same_meaning_as_the_standard_library(value: object) -> None:
    ours = jsonenc.dumps(value)
    assert json.loads(ours) == json.loads(json.dumps(value, separators=(",", ":")))


def test_what_the_standard_library_refuses_is_still_refused() -> None:
    with pytest.raises(TypeError):
        jsonenc.dumps({"at": datetime.now(UTC)})


async def test_an_answer_over_http_is_the_same_json(world: Service) -> None:
    plan_id = await big_plan(world, relatives=1, goals=2, actions=2, meeting_count=1)
    headers = {"Authorization": f"Bearer {world.token('staff-anna')}"}
    async with httpx.AsyncClient(base_url=world.url, headers=headers) as http:
        response = await http.post("/graphql", json={"query": op("PlanDetail"), "variables": {"id": str(plan_id)}})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["data"]["plan"]["patient"]["name"] == "Elsa Andersson"
    assert response.content == jsonenc.dumps(body)  # UTF-8 as is, compact
    assert json.loads(json.dumps(body, separators=(",", ":"))) == body
