"""Walk an operation's selection against `mapping.TYPES` into one SQL expression per object (a JSON
array, positions known) and the Python that turns it into the answer, keys in selection order.
Anything it does not know raises `Unknown`: that operation then always takes the strawberry path."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
)
from sqlalchemy import ColumnElement, null, select
from sqlalchemy.orm import aliased

from sip_service.api.compiled import sql
from sip_service.api.compiled.mapping import (
    RELATIONS,
    SHAPES,
    TYPES,
    Alias,
    Attr,
    Computed,
    Expr,
    Facts,
    Json,
    Many,
    Pick,
    Ref,
    Runtime,
    Same,
)
from sip_service.models.plans import Plan

# arr: the object's JSON array; ns: its facts (or None); the answer's value for one key.
Build = Callable[[list[Any], Runtime, Any], Any]
# A Python object (a domain function's result) as the answer's value.
Shaped = Callable[[Any, Runtime], Any]


class Unknown(Exception):
    """The operation asks for something the compiler does not know."""


Fragments = Mapping[str, FragmentDefinitionNode]


def fields_of(selection: SelectionSetNode | None, type_name: str, fragments: Fragments) -> list[FieldNode]:
    """The fields selected on an object of `type_name`, fragments spread in place, in order."""
    if selection is None:
        raise Unknown(f"{type_name}: no selection")
    out: list[FieldNode] = []
    seen: dict[str, FieldNode] = {}
    for node in selection.selections:
        if node.directives:
            raise Unknown("directives")
        if isinstance(node, FieldNode):
            key = (node.alias or node.name).value
            if key in seen:
                # the same leaf twice (say in a fragment and beside it) is one key; objects would merge
                if node.selection_set is not None or seen[key].name.value != node.name.value:
                    raise Unknown(f"{type_name}.{key} selected twice")
                continue
            seen[key] = node
            out.append(node)
            continue
        if isinstance(node, FragmentSpreadNode):
            fragment = fragments[node.name.value]
            condition, inner = fragment.type_condition.name.value, fragment.selection_set
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else type_name
            inner = node.selection_set
        else:  # pragma: no cover (graphql-core knows no other selection)
            raise Unknown("selection")
        if condition != type_name:
            raise Unknown(f"a fragment on {condition} inside {type_name}")
        for field in fields_of(inner, type_name, fragments):
            key = (field.alias or field.name).value
            if key in seen:
                if field.selection_set is not None or seen[key].name.value != field.name.value:
                    raise Unknown(f"{type_name}.{key} selected twice")
                continue
            seen[key] = field
            out.append(field)
    return out


class Compiler:
    def __init__(self, dialect: sql.Dialect, fragments: Fragments) -> None:
        self.d = dialect
        self.fragments = fragments
        self.plan_needs: list[dict[str, Any]] = []  # per plan being compiled: facts its parts need

    def object(
        self, type_name: str, row: Alias, selection: SelectionSetNode | None
    ) -> tuple[ColumnElement[Any], Build]:
        """One object of `type_name` from `row` (a table or an alias of it): its JSON array and its build."""
        spec = TYPES.get(type_name)
        if spec is None:
            raise Unknown(type_name)
        items: list[ColumnElement[Any]] = []
        code = _Code()
        steps: list[tuple[str, str]] = []  # (key, the Python expression of its value)
        facts: dict[str, Any] = {}
        is_plan = spec.model is Plan
        if is_plan:
            self.plan_needs.append({})
        for node in fields_of(selection, type_name, self.fragments):
            name, key = node.name.value, (node.alias or node.name).value
            field = spec.fields.get(name)
            if field is None or node.arguments:
                raise Unknown(f"{type_name}.{name}")
            if isinstance(field, Computed):
                _merge(facts, field.facts)
                if field.plan_facts is not None:
                    if not self.plan_needs:
                        raise Unknown(f"{type_name}.{name} outside a plan")
                    _merge(self.plan_needs[-1], field.plan_facts)
                if field.shape is None:
                    if node.selection_set is not None:
                        raise Unknown(f"{type_name}.{name} has no fields")
                    steps.append((key, f"plain({code.add(field.compute)}(ns, rt))"))
                else:
                    shaped = self.shape(field.shape, node.selection_set)
                    steps.append((key, f"{code.add(shaped)}({code.add(field.compute)}(ns, rt), rt)"))
                continue
            i = len(items)
            if isinstance(field, Attr | Expr):
                if node.selection_set is not None:
                    raise Unknown(f"{type_name}.{name} has no fields")
                if isinstance(field, Attr):
                    col = spec.model.__mapper__.columns[field.attr]
                    items.append(getattr(row, field.attr))
                    out = sql.output(col.type, self.d)
                else:
                    items.append(field.sql(row))
                    out = sql.output(field.column_type, self.d)
                steps.append((key, code.decode(f"arr[{i}]", out)))
            elif isinstance(field, Ref):
                target = TYPES[field.target]
                child = aliased(target.model)
                element, inner = self.object(field.target, child, node.selection_set)
                sub = select(element).where(child.id == getattr(row, field.fk)).scalar_subquery()
                items.append(self.d.nested(sub))
                steps.append((key, _one(code, i, inner)))
            elif isinstance(field, Many):
                relation = RELATIONS[(spec.model, field.relation)]
                child = aliased(relation.model)
                element, inner = self.object(field.target, child, node.selection_set)
                found = self.d.aggregate(element, child, relation.where(row, child), relation.order_by(child))
                items.append(self.d.nested(found))
                steps.append((key, f"[{code.add(inner)}(x, rt, None) for x in arr[{i}] or ()]"))
            elif isinstance(field, Pick):
                # every related row, and the same rows as facts for the function that picks one
                relation = RELATIONS[(spec.model, field.relation)]
                child = aliased(relation.model)
                element, inner = self.object(field.target, child, node.selection_set)
                found = self.d.aggregate(element, child, relation.where(row, child), relation.order_by(child))
                items.append(self.d.nested(found))
                _merge(facts, {field.relation: {}})
                _merge(facts, field.facts)
                pick = _pick(i, field.relation, field.choose, inner, field.many)
                steps.append((key, f"{code.add(pick)}(arr, rt, ns)"))
            elif isinstance(field, Json):
                if node.selection_set is not None:
                    raise Unknown(f"{type_name}.{name} has no fields")
                items.append(self.d.nested(getattr(row, field.attr)))
                steps.append((key, f"arr[{i}]"))
            elif isinstance(field, Same):
                element, inner = self.object(field.target, row, node.selection_set)
                items.append(element)
                steps.append((key, _one(code, i, inner)))
        if is_plan:
            _merge(facts, self.plan_needs.pop())
        f, to_facts = len(items), None
        if facts:
            element, to_facts = self.facts(spec.model, row, facts)
            items.append(element)
        if not items:
            items.append(null())  # a call needs an argument everywhere

        lines = [f"ns = {code.add(to_facts)}(arr[{f}])" if to_facts is not None else "ns = None"]
        if is_plan:
            lines.append(f"rt = {code.add(replace)}(rt, plan=ns)")
        build: Build = code.function("arr, rt, _", lines, _literal(steps))
        return self.d.array(items), build

    def shape(self, shape: str, selection: SelectionSetNode | None) -> Shaped:
        """A Python object of `shape` (mapping.SHAPES) as the answer's value for `selection`."""
        fields = SHAPES[shape]
        code = _Code()
        steps: list[tuple[str, str]] = []
        for node in fields_of(selection, shape, self.fragments):
            name, key = node.name.value, (node.alias or node.name).value
            get = fields.get(name)
            if get is None:
                raise Unknown(f"{shape}.{name}")
            args: list[tuple[str, str]] = []  # (argument, variable)
            for arg in node.arguments or ():
                if arg.name.value not in get.args or not isinstance(arg.value, VariableNode):
                    raise Unknown(f"{shape}.{name}({arg.name.value})")
                args.append((arg.name.value, arg.value.name.value))
            if get.shape is None:
                if node.selection_set is not None:
                    raise Unknown(f"{shape}.{name} has no fields")
                steps.append((key, _leaf(code, get.get, tuple(args))))
            elif args:
                raise Unknown(f"{shape}.{name}: arguments")
            else:
                inner = code.add(self.shape(get.shape, node.selection_set))
                value = f"{code.add(get.get)}(obj)"
                steps.append((key, f"[{inner}(x, rt) for x in {value}]" if get.many else f"{inner}({value}, rt)"))
        build: Shaped = code.function("obj, rt", ["if obj is None:", "    return None"], _literal(steps))
        return build

    def facts(
        self, model: type[Any], row: Alias, facts: Facts
    ) -> tuple[ColumnElement[Any], Callable[[list[Any]], SimpleNamespace]]:
        """The attributes `facts` names, as plain objects shaped like the ORM's."""
        items: list[ColumnElement[Any]] = []
        code = _Code()
        steps: list[tuple[str, str]] = []
        for attr, inner in facts.items():
            i = len(items)
            if inner is None:
                items.append(getattr(row, attr))
                load = sql.python(model.__mapper__.columns[attr].type)
                steps.append((attr, code.decode(f"arr[{i}]", load)))
                continue
            relation = RELATIONS[(model, attr)]
            child = aliased(relation.model)
            element, each = self.facts(relation.model, child, inner)
            found = self.d.aggregate(element, child, relation.where(row, child), relation.order_by(child))
            items.append(self.d.nested(found))
            steps.append((attr, f"[{code.add(each)}(x) for x in arr[{i}] or ()]"))
        build = code.function("arr", [], f"{code.add(SimpleNamespace)}(**{_literal(steps)})")
        return self.d.array(items), build


class _Code:
    """The source of one build function, written out once per compiled operation rather than
    walked field by field at each request: a dict display whose values read the row's positions
    directly (the plan page has some 500 fields, the page of 50 plans some 2,000). Anything that is
    not a position or a literal (decoders, domain functions, inner builds) is a name in `env`."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {"plain": sql.plain}

    def add(self, value: Any) -> str:
        name = f"_{len(self.env)}"
        self.env[name] = value
        return name

    def decode(self, expr: str, decode: sql.Decode) -> str:
        return expr if decode is sql.same else f"{self.add(decode)}({expr})"

    def function(self, params: str, lines: list[str], result: str) -> Any:
        body = "".join(f"    {line}\n" for line in lines)
        source = f"def build({params}):\n{body}    return {result}\n"
        namespace = dict(self.env)
        exec(compile(source, "<compiled build>", "exec"), namespace)  # noqa: S102 (our own source, no input)
        return namespace["build"]


def _literal(steps: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{key!r}: {expr}" for key, expr in steps) + "}"


def _one(code: _Code, i: int, build: Build) -> str:
    return f"(None if arr[{i}] is None else {code.add(build)}(arr[{i}], rt, None))"


def _pick(i: int, relation: str, choose: Callable[[Any, Runtime], Any], build: Build, many: bool) -> Build:
    def pick(arr: list[Any], rt: Runtime, ns: Any) -> Any:
        chosen = choose(ns, rt)
        at = {id(x): n for n, x in enumerate(getattr(ns, relation))}  # the same rows, in the same order
        if many:
            return [build(arr[i][at[id(x)]], rt, None) for x in chosen]
        return None if chosen is None else build(arr[i][at[id(chosen)]], rt, None)

    return pick


def _leaf(code: _Code, get: Callable[..., Any], args: tuple[tuple[str, str], ...]) -> str:
    if not args:
        return f"plain({code.add(get)}(obj))"

    def leaf(obj: Any, rt: Runtime) -> Any:
        given = {arg: rt.variables[var] for arg, var in args if var in rt.variables}
        return sql.plain(get(obj, **given))

    return f"{code.add(leaf)}(obj, rt)"


def _merge(into: dict[str, Any], facts: Facts) -> None:
    for attr, inner in facts.items():
        if inner is None:
            into.setdefault(attr, None)
        else:
            _merge(into.setdefault(attr, {}), inner)
