"""Domain errors. Services raise them; the API turns each into a typed GraphQL error.

The plan's own refusals (`NotReady`, `Refused`) live beside their rules in `plans/rules.py`: kit knows
no domain."""


class DomainError(Exception):
    code: str = "DOMAIN_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist, or the principal may not see it: the two look the same."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, id: object) -> None:
        super().__init__(f"{kind} {id} was not found")
        self.kind = kind
        self.id = str(id)


class Forbidden(DomainError):
    """The principal may see the object but not do this to it."""

    code = "FORBIDDEN"


class Invalid(DomainError):
    """The input breaks a rule of the domain; `field` names the input it is about."""

    code = "VALIDATION_ERROR"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class VersionConflict(DomainError):
    code = "VERSION_CONFLICT"

    def __init__(self, kind: str, id: object, expected: int | None, actual: int | None) -> None:
        if expected is None:
            message = f"{kind} {id} was changed by someone else at the same moment; reload and try again"
        else:
            message = (
                f"{kind} {id} was changed by someone else (you had version {expected}, "
                f"it is now {actual}); reload and try again"
            )
        super().__init__(message)
        self.expected = expected
        self.actual = actual
