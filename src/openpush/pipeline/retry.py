"""When the pipeline stops retrying an operation.

An operation is claimed again after a round fails (the index or the state store raised) or
after the worker process died. One that has been claimed ``max_attempts`` times without
completing is dropped with an ERROR log entry, so a poison operation cannot stall the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpush.domain.operations import QueuedOperation

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5

    def exhausted(self, operation: QueuedOperation) -> bool:
        return operation.attempts > self.max_attempts

    def reason(self, operation: QueuedOperation) -> str:
        return (
            f"gave up after {operation.attempts - 1} attempts; the operation kept failing"
            " (see the server log)"
        )
