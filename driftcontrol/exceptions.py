"""Domain exceptions. Views, the API and the CLI map them to 400/403/404/409 and clear
messages. They live in the core so that every surface can map them without importing the
domain app that raises them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DomainError(Exception):
    """A request that the domain refuses; the message is safe to show to the user."""


class NotAllowed(DomainError):
    """The user's role (or an object rule such as four-eyes) forbids the action."""


class InvalidTransition(DomainError):
    """The object is not in a state that allows this change (e.g. approving a rejected request)."""


class AlreadyDecided(InvalidTransition):
    """This user has already recorded a decision on this request."""


class NotFound(DomainError):
    """The object named does not exist (or is not visible to the user)."""


class ClusterRefused(DomainError):
    """A cluster's API server refused what was asked of it: neither the client's mistake
    nor ours, so the answer names the cluster and carries its status and message."""

    def __init__(self, text: str, cluster: str, status: int | None, message: str) -> None:
        super().__init__(text)
        self.cluster, self.status, self.message = cluster, status, message


class ClusterUnreachable(DomainError):
    """A cluster's API server could not be reached (or kept failing)."""


class FieldProblem(Protocol):
    """One thing wrong with an input: where (`spec.interval`) and what."""

    @property
    def path(self) -> str: ...

    @property
    def message(self) -> str: ...


class Invalid(DomainError):
    """Input that fails validation, nothing of it applied; `problems` names every bad field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{p.path}: {p.message}" for p in self.problems))
