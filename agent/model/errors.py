"""The one error type for bad input: it names the file, the place in it and the problem."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """An input file is missing, malformed or inconsistent.

    ``where`` is a key path (``states.state_1.inter_arr_mean``) or an element
    (``node '3'``); ``line`` is 1-based where the format allows it.
    """

    def __init__(
        self, path: str | Path | None, where: str, problem: str, line: int | None = None
    ) -> None:
        self.path = str(path) if path is not None else None
        self.where = where
        self.problem = problem
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The error on one line: newlines in names or values are escaped."""
        return self._text().replace("\r", "\\r").replace("\n", "\\n")

    def _text(self) -> str:
        location = self.path or "<input>"
        if self.line is not None:
            location += f":{self.line}"
        if self.where:
            return f"{location}: {self.where}: {self.problem}"
        return f"{location}: {self.problem}"
