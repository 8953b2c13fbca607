"""One exception root for everything idr raises on purpose.

The CLI maps these to exit codes: ConfigError/InputError/LockedError -> 2, RunError and
InternalError -> 1, Interrupted -> 128 + the signal. Anything else escaping is a bug and
is reported as one.
"""


class IdrError(Exception):
    """Root of all errors idr raises deliberately."""


class InputError(IdrError):
    """Bad input from the user: a path, an argument, a file. Exit code 2."""


class InvalidSqlText(InputError):
    """A name or literal that cannot be written as SQL text (empty, or with a NUL character)."""


class ConfigError(InputError):
    """The configuration in idr_meta (or a YAML file) is invalid.

    Carries every problem found, so the user fixes them all in one go.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.problems) == 1:
            return f"invalid configuration: {self.problems[0]}"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid configuration ({len(self.problems)} problems):\n{lines}"


class LockedError(IdrError):
    """Another idr process holds the database. Exit code 2 (nothing was done)."""


class RunError(IdrError):
    """A run started and failed. Exit code 1."""


class ComponentsDidNotConverge(RunError):
    """The in-SQL connected components hit --max-iters before converging."""


class InternalError(IdrError):
    """idr broke one of its own invariants: a bug, never the user's input. Exit code 1.

    Raised where a check guards an assumption a later step relies on (edges in range, rows
    numbered 0..n-1), so the run stops before it could publish a wrong answer."""


class ExportError(IdrError):
    """An exporter could not deliver. The metrics stay in metrics_export for the next try."""


class Interrupted(BaseException):
    """A run stopped by a signal (SIGINT, SIGTERM): rolled back and recorded INTERRUPTED.

    Derives from BaseException, like KeyboardInterrupt, so that no `except Exception`
    between the signal handler and the runner can swallow it."""

    def __init__(self, message: str, signum: int | None = None):
        super().__init__(message)
        self.signum = signum
