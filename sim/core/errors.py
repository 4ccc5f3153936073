"""The one error type a user can cause, with a one-line message."""

from __future__ import annotations

from typing import Any


class InputError(Exception):
    """Bad input: a file, a field, a value and what is allowed, on one line.

    The command line turns it into a message on stderr and exit status 2; the app shows it
    inline. Nothing else a user can cause should escape as an exception.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        field: str | None = None,
        value: Any = None,
        has_value: bool = False,
    ) -> None:
        self.problem = " ".join(str(problem).split())
        self.source = source
        self.field = field
        self.value = value
        self.has_value = has_value
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = []
        if self.source:
            parts.append(" ".join(str(self.source).split()))
        if self.field:
            where = " ".join(str(self.field).split())
            if self.has_value:
                where += f" = {_short(self.value)}"
            parts.append(where)
        parts.append(self.problem)
        return ": ".join(parts)

    def with_source(self, source: str) -> InputError:
        """The same error, naming the file it came from."""
        return InputError(
            self.problem,
            source=source,
            field=self.field,
            value=self.value,
            has_value=self.has_value,
        )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
