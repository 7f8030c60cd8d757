"""Bad input gets a clear, typed error, never a stack trace, and writes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from sip_service.api.schema import _is_unexpected
from sip_service.app import create_app
from sip_service.kit.db import Database
from sip_service.settings import Mode, Settings

from conftest import GraphQLClient, Service, op
from helpers import big_plan


def assert_clean(response: httpx.Response) -> dict[str, object]:
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(response.json())


async def first_error(gql: GraphQLClient, query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
    body = assert_clean(await gql.raw(query, variables, as_="staff-anna"))
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    return dict(errors[0])


async def test_malformed_graphql_and_wrong_types(gql: GraphQLClient) -> None:
    assert "Syntax Error" in str((await first_error(gql, "{ plans { nodes { id }"))["message"])
    wrong = await first_error(
        gql, op("UpdatePlan"), {"planId": str(uuid.uuid4()), "expectedVersion": "one", "input": {}}
    )
    assert "Int" in str(wrong["message"])
    bad_id = await first_error(gql, op("PlanDetail"), {"id": "not-a-uuid"})
    assert "UUID" in str(bad_id["message"])
    not_json = await gql.http.post(
        "/graphql",
        content=b"{nope",
        headers={"Authorization": f"Bearer {gql.service.token('staff-anna')}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert_clean(not_json) if not_json.headers.get("content-type", "").startswith("application/json") else None


async def test_unknown_ids_are_not_found(gql: GraphQLClient) -> None:
    missing = str(uuid.uuid4())
    assert (await first_error(gql, op("PlanDetail"), {"id": missing}))["extensions"] == {"code": "NOT_FOUND"}
    data = await gql(op("AddGoal"), {"planId": missing, "expectedVersion": 1, "input": {"text": "x"}}, as_="staff-anna")
    assert data["addGoal"]["__typename"] == "NotFoundError"
    data = await gql(op("RemoveAction"), {"actionId": missing, "expectedVersion": 1}, as_="staff-anna")
    assert data["removeAction"]["code"] == "NOT_FOUND"


async def test_a_failed_mutation_writes_nothing(gql: GraphQLClient, world: Service) -> None:
    plan_id = str(await big_plan(world, relatives=1, goals=0, actions=0, meeting_count=0))
    before = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    orgs = [before["createdByOrganisation"]["id"], str(uuid.uuid4())]
    data = await gql(
        op("RecordConsent"),
        {
            "planId": plan_id,
            "expectedVersion": before["version"],
            "input": {"organisationIds": orgs, "givenById": before["participants"][0]["id"]},
        },
        as_="staff-anna",
    )
    assert data["recordConsent"]["__typename"] == "NotFoundError"
    after = (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"]
    assert after == before

    empty = await gql(
        op("AddGoal"),
        {
            "planId": plan_id,
            "expectedVersion": before["version"],
            "input": {"text": "   ", "expressedById": before["participants"][0]["id"]},
        },
        as_="staff-anna",
    )
    assert empty["addGoal"]["__typename"] == "ValidationError" and empty["addGoal"]["field"] == "text"
    assert (await gql(op("PlanDetail"), {"id": plan_id}, as_="staff-anna"))["plan"] == before


# as many as the token limit lets through (2000): @nope is 2 tokens, @include(if: true) 7
@pytest.mark.parametrize(
    ("directive", "times"), [("@nope", 900), ("@include(if: true)", 250), ("@skip(if: false)", 250)]
)
async def test_repeated_directives_are_one_error(gql: GraphQLClient, directive: str, times: int) -> None:
    limit = gql.service.settings.max_directives
    body = assert_clean(await gql.raw("{ me " + f"{directive} " * times + "{ name } }", as_="staff-anna"))
    assert body["errors"] == [
        {
            "message": f"Högst {limit} direktiv per dokument. / At most {limit} directives per document.",
            "extensions": {"code": "TOO_MANY_DIRECTIVES"},
        }
    ]
    assert not body.get("data")
    # up to the limit directives are as before: known ones work, an unknown one is its own error
    fields = " ".join(f"m{n}: me @include(if: true) {{ name }}" for n in range(limit))
    allowed = assert_clean(await gql.raw("{ " + fields + " }", as_="staff-anna"))
    assert allowed == {"data": {f"m{n}": {"name": "Anna Lind"} for n in range(limit)}}
    unknown = assert_clean(await gql.raw("{ me @nope { name } }", as_="staff-anna"))
    assert [e["message"] for e in unknown["errors"]] == ["Unknown directive '@nope'."]


async def test_oversized_bodies_are_refused(gql: GraphQLClient) -> None:
    big = "x" * (gql.service.settings.max_body_bytes + 1)
    response = await gql.raw(
        op("CreatePlan"), {"input": {"patientId": str(uuid.uuid4()), "background": big}}, as_="staff-anna"
    )
    assert response.status_code == 413
    assert assert_clean(response)["errors"] == [
        {
            "message": f"The request body is larger than {gql.service.settings.max_body_bytes} bytes.",
            "extensions": {"code": "PAYLOAD_TOO_LARGE"},
        }
    ]


async def test_deep_aliased_and_long_queries_are_refused(gql: GraphQLClient) -> None:
    deep = "{ plans { nodes { " + "meetings { plan { " * 8 + "id" + " } }" * 8 + " } } }"
    assert "exceeds maximum operation depth" in str((await first_error(gql, deep))["message"])
    aliased = "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(40)) + " }"
    assert "aliases" in str((await first_error(gql, aliased))["message"]).lower()
    long = "{ me { " + " ".join(["name"] * 2100) + " } }"
    assert "token" in str((await first_error(gql, long))["message"]).lower()


async def test_the_development_ide_page_opens_without_sign_in(gql: GraphQLClient) -> None:
    page = await gql.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_requests_without_a_valid_token_are_refused(gql: GraphQLClient) -> None:
    anonymous = await gql.http.post("/graphql", json={"query": "{ me { name } }"})
    assert anonymous.status_code == 401
    forged = await gql.http.post(
        "/graphql",
        json={"query": "{ me { name } }"},
        headers={"Authorization": "Bearer " + gql.service.token("staff-anna")[:-4] + "AAAA"},
    )
    assert forged.status_code == 401 and forged.json()["detail"]["code"] == "UNAUTHENTICATED"


@pytest.fixture
async def production(world: Service) -> httpx.AsyncClient:
    """The service in production mode, trusting the test provider's JWKS over real HTTP."""
    settings = Settings(
        env=Mode.PRODUCTION,
        database_url=world.settings.database_url,
        public_url="https://sip.example.se",
        oidc_issuer=world.settings.issuer,
        oidc_jwks_url=f"{world.url}/dev-oidc/jwks",
        session_secret="s" * 40,
        meeting_token_secret="m" * 40,
    )
    app = create_app(settings, Database(settings.database_url))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://sip.example.se")


async def test_production_mode_is_hardened(production: httpx.AsyncClient, world: Service) -> None:
    auth = {"Authorization": f"Bearer {world.token('staff-anna')}"}
    async with production as client:
        ok = await client.post("/graphql", json={"query": "{ me { name } }"}, headers=auth)
        assert ok.json() == {"data": {"me": {"name": "Anna Lind"}}}
        introspection = await client.post("/graphql", json={"query": "{ __schema { types { name } } }"}, headers=auth)
        assert (
            "introspection" in introspection.text.lower() and "data" not in introspection.json()
        ) or not introspection.json().get("data")
        typo = await client.post("/graphql", json={"query": "{ plnas { nodes { id } } }"}, headers=auth)
        assert "Did you mean" not in typo.text
        ide = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in ide.text.lower()
        assert (await client.get("/dev-oidc/jwks")).status_code == 404
        assert (await client.get("/docs")).status_code == 404


def test_only_our_coded_errors_pass_unmasked() -> None:
    from graphql import GraphQLError

    assert _is_unexpected(GraphQLError("boom", path=["plan"], original_error=RuntimeError("secret detail")))
    coded = GraphQLError("x", extensions={"code": "NOT_FOUND"})
    assert not _is_unexpected(GraphQLError("x", path=["plan"], original_error=coded))
    assert not _is_unexpected(GraphQLError("Syntax Error"))
