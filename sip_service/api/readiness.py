"""GraphQL view of readiness: the checklist and its blockers."""

from __future__ import annotations

import uuid

import strawberry

from sip_service.models.identity import Language
from sip_service.plans import rules

ReadinessCode = strawberry.enum(rules.Code, name="ReadinessCode")


# The one Language: what a citizen reads messages in, and what a reader asks messages in.
strawberry.enum(Language, name="Language")


@strawberry.type(name="BlockerSubject", description="What a blocker is about: the plan, or one object in it.")
class SubjectType:
    kind: str
    id: uuid.UUID | None


def message(blocker: rules.Blocker, language: Language = Language.SV) -> str:
    return blocker.message_en if language is Language.EN else blocker.message_sv


@strawberry.type(name="Blocker")
class BlockerType:
    _blocker: strawberry.Private[rules.Blocker]

    def __init__(self, blocker: rules.Blocker) -> None:
        self._blocker = blocker

    @strawberry.field
    def code(self) -> ReadinessCode:  # type: ignore[valid-type]
        return self._blocker.code

    @strawberry.field(description="Plain language; Swedish unless English is asked for.")
    def message(self, language: Language = Language.SV) -> str:
        return message(self._blocker, language)

    @strawberry.field
    def subject(self) -> SubjectType:
        return SubjectType(kind=self._blocker.subject.kind, id=self._blocker.subject.id)


@strawberry.type(name="Readiness")
class ReadinessType:
    ready: bool
    blockers: list[BlockerType]

    @staticmethod
    def of(result: rules.Readiness) -> ReadinessType:
        return ReadinessType(ready=result.ready, blockers=[BlockerType(b) for b in result.blockers])
