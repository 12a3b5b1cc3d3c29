"""Domain errors: plain exceptions that one place (the API) renders as RFC 9457 problems."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class Text(str):
    """A message built from an English template and values: it reads as the English text, and
    keeps the template and the values so that a page or a problem can show it in the caller's
    language (``i18n.translate``); the catalogs hold its templates."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        made = super().__new__(cls, template % params if params else template)
        made.template, made.params = template, params
        return made


class DomainError(Exception):
    """Base of every error a user can provoke. Subclasses fix status, slug and title."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "The request cannot be processed"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions: dict[str, Any] = extensions

    def headers(self) -> Mapping[str, str]:
        return {}


class FieldError:
    """One invalid field: where it is and what is wrong with it."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ValidationFailed(DomainError):
    status, slug, title = 422, "validation-failed", "The submitted data is not valid"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        summary = detail or "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(summary, errors=[e.as_dict() for e in errors])
        self.errors = list(errors)

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "The resource does not exist"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "You may not do this"


class Unauthenticated(DomainError):
    status, slug, title = 401, "unauthenticated", "Sign in or present a valid bearer token"

    def headers(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="delegat"'}


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "The request conflicts with the current state"


class ClientReadOnly(Conflict):
    slug, title = "client-read-only", "The client is read-only until registered"
