"""The operations the browser apps send: the documents in graphql/operations/*.graphql.

The pages fetch them by name (GET /graphql/operations.json: each operation with the fragments it
uses), so there is one copy of each. In production a browser (session cookie, or an invite link's
meeting token) may send only these: anything else is refused before it runs, which keeps a stolen
session from exploring the whole schema. API clients with their own tokens are not limited.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

from graphql import DocumentNode, FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse, print_ast
from graphql.utilities import separate_operations
from strawberry.extensions import SchemaExtension

from sip_service.settings import ASSETS_DIR

OPERATIONS_DIR = ASSETS_DIR / "graphql" / "operations"


def _printed(document: DocumentNode) -> str:
    """One operation and its fragments, printed one way: the operation first, fragments by name."""
    op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = sorted(
        (d for d in document.definitions if isinstance(d, FragmentDefinitionNode)), key=lambda f: f.name.value
    )
    return print_ast(DocumentNode(definitions=(op, *fragments)))


@cache
def documents(directory: Path = OPERATIONS_DIR) -> dict[str, str]:
    """Operation name → the operation with the fragments it uses."""
    source = "\n".join(f.read_text(encoding="utf-8") for f in sorted(directory.glob("*.graphql")))
    document = parse(source)
    names = [d.name.value for d in document.definitions if d.name is not None]  # type: ignore[attr-defined]
    if len(names) != len(set(names)):
        raise ValueError(f"a name is defined twice in {directory}")
    return {name: _printed(doc) for name, doc in separate_operations(document).items()}


def canonical(document: DocumentNode, operation_name: str | None) -> str | None:
    """The operation a request runs, printed as `documents` prints it (None if there is none)."""
    try:
        separated = separate_operations(document)
    except (KeyError, TypeError):  # e.g. a spread of an unknown fragment: validation will say so
        return None
    if operation_name is None and len(separated) == 1:
        operation_name = next(iter(separated))
    chosen = separated.get(operation_name or "")
    return None if chosen is None else _printed(chosen)


class KnownOperationsOnly(SchemaExtension):
    """Production: a browser's request must be one of the known operations, word for word."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context.context
        document = self.execution_context.graphql_document
        if getattr(ctx, "from_browser", False) and document is not None:
            allowed = set(documents().values())
            if canonical(document, self.execution_context.operation_name) not in allowed:
                raise GraphQLError(
                    "Den här frågan tas inte emot. / This operation is not accepted from a browser.",
                    extensions={"code": "OPERATION_NOT_ALLOWED"},
                )
        yield
