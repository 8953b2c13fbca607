"""One exception root for everything idr raises on purpose.

The CLI maps these to exit codes: ConfigError/InputError -> 2, RunError -> 1.
Anything else escaping is a bug and is reported as a failed run.
"""


class IdrError(Exception):
    """Root of all errors idr raises deliberately."""


class InputError(IdrError):
    """Bad input from the user: a path, an argument, a file. Exit code 2."""


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
