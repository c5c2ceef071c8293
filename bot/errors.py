"""Errors Resonate raises on bad input or configuration.

Every error derives from :class:`ResonateError` and says *what* went wrong and
*where* (a file and line, a setting name, a row of an import file), so the CLI
can print it as is and stop with a non-zero exit code.
"""

from __future__ import annotations


class ResonateError(Exception):
    """Base class of every error Resonate raises on purpose."""


class ConfigError(ResonateError):
    """A setting is missing or malformed. ``setting`` names it."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        self.problem = problem
        super().__init__(f"configuration {setting}: {problem}")


class PlaybookError(ResonateError):
    """A playbook file is invalid: ``path``, ``line`` (1-based, when known), ``problem``."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}")


class PlaybookErrors(ResonateError):
    """Several playbook problems found while checking a folder."""

    def __init__(self, errors: list[PlaybookError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class IngestError(ResonateError):
    """A row of an import file is invalid: ``path``, ``line``, ``problem``."""

    def __init__(self, path: str, line: int, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{self.path}:{line}: {problem}")


class ModelError(ResonateError):
    """A model could not be loaded (path missing, wrong format)."""


class SendError(ResonateError):
    """A reply could not be delivered. ``permanent`` errors (unknown channel, bad token) are not retried."""

    def __init__(self, problem: str, *, permanent: bool = False):
        self.problem = problem
        self.permanent = permanent
        super().__init__(problem)


class CardNotDeleted(ResonateError):
    """A review card could not be deleted in Slack. ``every_card``: the cause (the token, the network) would stop
    every other card alike, so there is no use trying them."""

    def __init__(self, problem: str, *, every_card: bool = False):
        self.problem = problem
        self.every_card = every_card
        super().__init__(problem)


class RateLimited(SendError):
    """The platform asked us to wait ``retry_after`` seconds (HTTP 429 and ``Retry-After``) before sending again."""

    def __init__(self, retry_after: float, problem: str = "rate limited"):
        self.retry_after = max(0.0, float(retry_after))
        super().__init__(f"{problem} (retry after {self.retry_after:g} s)")
