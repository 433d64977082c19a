"""What can go wrong when a policy is named or loaded, as one-line errors.

Every error here is a ``PolicyError`` (a ``ValueError``) whose message is one line; the ones
about a file are also ``InputError`` and name the file, the place in it and the problem.
"""

from __future__ import annotations

from agent.model.errors import InputError


class PolicyError(ValueError):
    """A policy that cannot be used: unknown name, bad file, or trained for another network."""


class UnknownPolicyError(PolicyError):
    """A name that is neither a baseline, a shipped policy nor a policy directory."""


class PolicyMismatchError(PolicyError):
    """A policy asked to run on a topology or service it was not trained for."""


class PolicyFileError(InputError, PolicyError):
    """A policy file that is missing, unreadable, malformed or of an unknown format (without
    a path: a policy name that names nothing)."""

    def one_line(self) -> str:
        if self.path is None:
            return f"{self.where}: {self.problem}" if self.where else self.problem
        return super().one_line()
