"""The one base class of every error a user's input causes.

A :class:`UserError`'s message names the file, row, field or value at fault and the reason. The command
line turns any of them into that message and exit code 2; the HTTP API into its ``status_code`` (400
unless the subclass says otherwise: 403 beyond a key's scope, 404 for an unknown id, 409 for a conflict
with a model's state), with the message as the answer's ``detail``. Anything else is a bug: a traceback
on the command line, a logged 500 over HTTP.
"""

from __future__ import annotations


class UserError(ValueError):
    """Input that cannot be used, as the user gave it (a ``ValueError``, so callers that caught the
    specific errors as ``ValueError`` still do)."""

    status_code: int = 400
