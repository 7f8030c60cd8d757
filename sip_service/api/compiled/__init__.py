"""Known operations compiled to one SQL statement each (issue 13).

The browser sends only the operations in graphql/operations/. Those whose every field the compiler
knows (`mapping.TYPES`) are answered by one statement that applies the same access rule
(`plans.repository.readable_condition`) and builds the answer's JSON in the database; the fields
computed in Python use the same functions as their resolvers; the reads go to the audit trail
through the same path (`usecases.record_reads`) before the answer leaves. Everything else, and
anything unusual about a request (variables that do not coerce, a plan not found, a bad cursor, a
guest), takes the strawberry path, which stays the reference: tests/api/test_compiled_operations.py
runs every compiled operation through both and requires byte-identical answers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from sqlalchemy import Select, Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import ExecutionResult

from sip_service.api import operations
from sip_service.api.compiled import sql
from sip_service.api.compiled.compiler import Compiler, Unknown, fields_of
from sip_service.api.compiled.mapping import Runtime
from sip_service.api.context import Context, record_reads_or_withhold
from sip_service.api.schema import limit_rules
from sip_service.auth.principal import CitizenPrincipal, StaffPrincipal
from sip_service.inbox import service as inbox
from sip_service.kit import clock
from sip_service.kit.errors import DomainError
from sip_service.models.plans import Plan
from sip_service.plans import repository as repo
from sip_service.settings import Settings

logger = logging.getLogger(__name__)

# What a root field's run gives (from its arguments and the request's coerced variables): the value
# under its key, or None to take the strawberry path.
Run = Callable[[AsyncConnection, Context, dict[str, Any], Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Compiled:
    name: str
    operation: OperationDefinitionNode
    key: str  # the root field's response key
    field: FieldNode
    runs: dict[str, Run]  # by dialect: compiled on first use (the statement differs)
    make: Callable[[sql.Dialect], Run]

    def run_for(self, dialect: str) -> Run:
        if (found := self.runs.get(dialect)) is None:
            found = self.runs[dialect] = self.make(sql.Dialect(dialect))
        return found


def _root_plans(field: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> Callable[[sql.Dialect], Run]:
    """plans(first, after, filter) { nodes { … } pageInfo { hasNextPage endCursor } }"""
    parts = fields_of(field.selection_set, "PlanConnection", fragments)
    page_info: list[tuple[str, str]] = []
    for part in parts:
        if part.name.value == "pageInfo":
            for f in fields_of(part.selection_set, "PageInfo", fragments):
                if f.name.value not in ("hasNextPage", "endCursor") or f.arguments:
                    raise Unknown(f"PageInfo.{f.name.value}")
                page_info.append(((f.alias or f.name).value, f.name.value))
        elif part.name.value != "nodes" or part.arguments:
            raise Unknown(f"PlanConnection.{part.name.value}")

    def make(d: sql.Dialect) -> Run:
        nodes = next((p for p in parts if p.name.value == "nodes"), None)
        node = Compiler(d, fragments).object("Plan", Plan, nodes.selection_set) if nodes else None
        element = d.text(node[0], Plan) if node else Plan.id
        columns = (element, Plan.created_at, Plan.id, Plan.patient_id)
        first_pages: dict[repo.Reader, Select[Any]] = {}

        async def run(conn: AsyncConnection, ctx: Context, args: dict[str, Any], variables: Mapping[str, Any]) -> Any:
            first: int = args["first"]
            if not 1 <= first <= ctx.settings.max_page_size:
                return None  # the strawberry path says why
            f = args.get("filter") or {}
            flt = repo.PlanFilter(
                statuses=f.get("statuses") or (),
                organisation_id=f.get("organisationId"),
                patient_id=f.get("patientId"),
                attention=f.get("needsAttention") or (),
            )
            after = args.get("after")
            found = repo.reader(ctx.principal)
            if found is not None and flt == repo.PlanFilter() and after is None:  # the usual: built once
                kind, me = found
                if (stmt := first_pages.get(kind)) is None:
                    stmt = first_pages[kind] = repo.first_page_statement(kind).with_only_columns(*columns)
                params = {"reader": me, "limit": first + 1, **repo.Day.values(ctx.today)}
                rows = (await conn.execute(stmt, params)).all()
            else:
                try:
                    stmt = await repo.page_statement(conn, ctx.principal, ctx.today, flt, first, after)
                except DomainError:
                    return None
                rows = (await conn.execute(stmt.with_only_columns(*columns))).all()
            shown = rows[:first]
            for _, _, plan_id, patient_id in shown:  # a list shows who the patients are: a read too
                ctx.reads.add("plan.read", plan_id, patient_id)
            rt = Runtime(ctx.principal, ctx.today, variables, clock.now())
            out: dict[str, Any] = {}
            for part in parts:
                key = (part.alias or part.name).value
                if part.name.value == "nodes":
                    assert node is not None
                    out[key] = [node[1](orjson.loads(r[0]), rt, None) for r in shown]
                else:
                    last = shown[-1] if shown else None
                    values = {
                        "hasNextPage": len(rows) > first,
                        "endCursor": repo.cursor_of(last[1], last[2]) if last else None,
                    }
                    out[key] = {k: values[name] for k, name in page_info}
            return out

        return run

    return make


_OPENED = {"participants": {"id": None, "staff_member_id": None}}


def _root_plan(field: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> Callable[[sql.Dialect], Run]:
    """plan(id) { … }: not found (or not readable) takes the strawberry path, which says NOT_FOUND."""

    def make(d: sql.Dialect) -> Run:
        compiler = Compiler(d, fragments)
        element, build = compiler.object("Plan", Plan, field.selection_set)
        mine, to_facts = compiler.facts(Plan, Plan, _OPENED)
        element, mine = d.text(element, Plan), d.text(mine, Plan)
        by_reader: dict[repo.Reader, Select[Any]] = {}  # built once (repo.Day): the same for every request

        async def run(conn: AsyncConnection, ctx: Context, args: dict[str, Any], variables: Mapping[str, Any]) -> Any:
            plan_id: uuid.UUID = args["id"]
            found = repo.reader(ctx.principal)
            if found is None:
                return None
            kind, me = found
            if (stmt := by_reader.get(kind)) is None:
                readable = repo.readable_for(kind, repo.READER, repo.PARAMETERS)
                stmt = by_reader[kind] = select(element, Plan.patient_id, mine).where(
                    Plan.id == bindparam("plan_id", type_=Uuid), readable
                )
            params = {"plan_id": plan_id, "reader": me, **repo.Day.values(ctx.today)}
            row = (await conn.execute(stmt, params)).first()
            if row is None:
                return None
            ctx.reads.add("plan.read", plan_id, row[1])
            if (opened := inbox.participation_of(ctx.principal, to_facts(orjson.loads(row[2])))) is not None:  # type: ignore[arg-type]
                ctx.reads.opened.add(opened)
            return build(orjson.loads(row[0]), Runtime(ctx.principal, ctx.today, variables, clock.now()), None)

        return run

    return make


ROOTS = {"plans": _root_plans, "plan": _root_plan}


class Registry:
    """The compiled operations by their printed text, and the texts requests arrive with."""

    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self.by_text: dict[str, Compiled] = {}
        for name, text in operations.documents().items():
            try:
                self.by_text[text] = self._compile(name, text)
            except Unknown as why:
                logger.debug("operation %s takes the strawberry path: %s", name, why)
        self.lookup = lru_cache(maxsize=256)(self._lookup)

    def _compile(self, name: str, text: str) -> Compiled:
        # within the same limits as on the strawberry path (tokens, depth, aliases), or not at all
        try:
            document = parse(text, max_tokens=self.settings.max_tokens)
        except GraphQLError as exc:
            raise Unknown("over the token limit") from exc
        if validate(self.schema, document, [*specified_rules, *limit_rules(self.settings)]):
            raise Unknown("not valid against this schema, or over a limit")
        op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if op.operation is not OperationType.QUERY or op.directives:
            raise Unknown("not a query")
        roots = fields_of(op.selection_set, "Query", fragments)
        if len(roots) != 1 or roots[0].name.value not in ROOTS:
            raise Unknown("root fields")
        field = roots[0]
        make = ROOTS[field.name.value](field, fragments)
        make(sql.Dialect("postgresql"))  # fail now, not at the first request, on anything unknown
        return Compiled(name, op, (field.alias or field.name).value, field, {}, make)

    def _lookup(self, query: str, operation_name: str | None) -> Compiled | None:
        """The compiled form of a request's document, if it is a known operation that has one."""
        try:
            document = parse(query)
        except GraphQLError:
            return None
        printed = operations.canonical(document, operation_name)
        return None if printed is None else self.by_text.get(printed)

    async def execute(
        self, ctx: Context, query: str, operation_name: str | None, variables: Any
    ) -> ExecutionResult | None:
        """The answer, or None: take the strawberry path."""
        compiled = self.lookup(query, operation_name)
        if compiled is None or not isinstance(ctx.principal, StaffPrincipal | CitizenPrincipal):
            return None
        definitions = compiled.operation.variable_definitions or ()
        coerced = get_variable_values(self.schema, definitions, variables or {})
        if isinstance(coerced, list):
            return None  # the strawberry path reports the errors
        field_def = self.schema.query_type.fields[compiled.field.name.value]  # type: ignore[union-attr]
        args = get_argument_values(field_def, compiled.field, coerced)
        run = compiled.run_for(ctx.db.engine.dialect.name)
        async with ctx.db.one_statement() as connection:
            value = await run(connection, ctx, args, coerced.coerced)
        if value is None:
            return None
        if (withheld := await record_reads_or_withhold(ctx)) is not None:
            return ExecutionResult(data=None, errors=[withheld])
        return ExecutionResult(data={compiled.key: value}, errors=None)
