"""Domain exceptions. Views, the API and the CLI map them to 403/409 and clear messages."""


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
