"""What the checks, the grader and the sandbox share: the words for how an answer ended.

Standard library only, so the sandbox's fork server can rely on the same vocabulary.
Lesson: exercises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """How an exercise (or one case of it) ended, in checks, grader reports and feedback."""

    PASSED = "passed"
    WRONG = "wrong"                        # answered, but not what the reference says
    ERROR = "error"                        # the learner's code raised
    NOT_IMPLEMENTED = "not implemented"    # the stub still raises NotImplementedError
    MISSING = "missing"                    # no cell or function to grade
    FORBIDDEN = "forbidden"                # used a module the exercise forbids
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"                    # the process died or exited before answering

    def __str__(self) -> str:
        return self.value


class FailureKind(str, Enum):
    """Why the learner's code gave no answer for a case (what the sandbox saw)."""

    FORBIDDEN = "forbidden"
    NOT_IMPLEMENTED = "not implemented"
    MEMORY = "memory"
    EXIT = "exit"                          # SystemExit
    EXCEPTION = "exception"
    CONVERT = "convert"                    # returned something that is not numbers
    PROBE = "probe"                        # the answer could not be examined
    TOO_BIG = "too big"

    def __str__(self) -> str:
        return self.value

    @property
    def outcome(self) -> Outcome:
        """The outcome a case with this failure has."""
        return {FailureKind.FORBIDDEN: Outcome.FORBIDDEN, FailureKind.NOT_IMPLEMENTED: Outcome.NOT_IMPLEMENTED,
                FailureKind.MEMORY: Outcome.MEMORY, FailureKind.EXIT: Outcome.CRASHED}.get(self, Outcome.ERROR)


@dataclass(frozen=True)
class Failure:
    """A structured failure record: its kind and a message already fit for the learner."""

    kind: FailureKind
    message: str

    @classmethod
    def of(cls, err: BaseException, limit: int = 300) -> Failure:
        """The record of an exception raised by learner code (the same rules as the sandbox)."""
        if isinstance(err, NotImplementedError):
            kind = FailureKind.NOT_IMPLEMENTED
        elif isinstance(err, MemoryError):
            kind = FailureKind.MEMORY
        elif isinstance(err, SystemExit):
            kind = FailureKind.EXIT
        elif isinstance(err, ImportError) and type(err).__name__ == "Forbidden":
            kind = FailureKind.FORBIDDEN
        else:
            kind = FailureKind.EXCEPTION
        try:
            text = str(err)
        except Exception:                  # noqa: BLE001 - a learner's __str__ may fail
            text = ""
        message = f"{type(err).__name__}: {text}" if text else type(err).__name__
        return cls(kind, "".join(ch if ch.isprintable() else " " for ch in message)[:limit])
