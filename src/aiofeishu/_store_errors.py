"""The error a shared store raises when it cannot be reached (``on_unavailable="raise"``)."""

from __future__ import annotations

from aiofeishu.errors import FeishuError

__all__ = ["StoreUnavailableError"]


class StoreUnavailableError(FeishuError):
    """The shared store (Redis) did not answer in time or refused the command.

    Nothing was sent to the API for the call that raised it; ``__cause__`` is the store
    client's own error. The message names the server, never its password.
    """
