"""graphql/schema.graphql is exported from code; this fails when the two drift apart."""

from graphql import parse, validate

from sip_service.api import operations
from sip_service.api.schema import build_schema
from sip_service.cli import SCHEMA_FILE
from sip_service.settings import Settings


def test_committed_schema_matches_the_code() -> None:
    exported = str(build_schema(Settings())) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == exported, "run `sip-service export-schema` and commit"


def test_every_browser_operation_is_valid_and_served_whole() -> None:
    schema = build_schema(Settings())._schema
    known = operations.documents()
    assert {"PlanDetail", "MeetingEvents", "ConnectMedia", "PlanChanges"} <= set(known)
    for name, text in known.items():
        document = parse(text)
        assert validate(schema, document) == [], name
        assert operations.canonical(document, name) == text  # what the allow-list compares
