"""graphql/schema.graphql is exported from code; this fails when the two drift apart."""

from sip_service.api.schema import build_schema
from sip_service.cli import SCHEMA_FILE
from sip_service.settings import Settings


def test_committed_schema_matches_the_code() -> None:
    exported = str(build_schema(Settings())) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == exported, "run `sip-service export-schema` and commit"
