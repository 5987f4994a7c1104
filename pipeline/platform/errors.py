"""The one root of errors a user causes and can fix: entry points print them as one line."""

from __future__ import annotations


class UserError(RuntimeError):
    """An error whose message tells the user what to fix; printed as one line, without a traceback.

    ``exit_code`` is 2 for a setting or input the user must change, 1 for data the step judged
    unusable (a refused file, a data-health threshold crossed), 3 for a lakehouse another run holds.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
