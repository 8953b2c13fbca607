"""`idr doctor`: the readiness checklists of the user manual that a program can check.

Each check passes, warns or fails, and says what to do when it does not pass. The overall
result is the worst one; the exit code follows it: 0 all passed, 1 warnings only, 2 at
least one failure. The database is opened read-only (waiting for a run in progress, like a
backup does), so the doctor can run next to the scheduler; it changes nothing.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from ..pipeline.context import utcnow


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


EXIT_CODES = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass
class Check:
    id: str
    title: str
    status: Status
    message: str
    fix: str | None = None


@dataclass
class Report:
    db: str
    checked_at: datetime
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> Status:
        found = {c.status for c in self.checks}
        return next((s for s in (Status.FAIL, Status.WARN) if s in found), Status.PASS)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> str:
        doc = {"db": self.db, "checked_at": self.checked_at.isoformat(), "status": self.status.value,
               "exit_code": self.exit_code,
               "checks": [{**asdict(c), "status": c.status.value} for c in self.checks]}
        return json.dumps(doc, indent=2)

    def to_text(self) -> str:
        lines = [f"idr doctor: {self.db} ({self.checked_at:%Y-%m-%d %H:%M:%S} UTC)"]
        width = max((len(c.id) for c in self.checks), default=0)
        for c in self.checks:
            lines.append(f"{c.status.value.upper():<4}  {c.id:<{width}}  {c.message}")
            if c.fix and c.status is not Status.PASS:
                lines += [f"{'':<4}  {'':<{width}}  fix: {line}" if i == 0 else f"{'':<4}  {'':<{width}}       {line}"
                          for i, line in enumerate(c.fix.splitlines())]
        counts = {s: sum(c.status is s for c in self.checks) for s in Status}
        lines.append(f"result: {self.status.value.upper()}: {counts[Status.PASS]} passed, {counts[Status.WARN]} "
                     f"warned, {counts[Status.FAIL]} failed (exit code {self.exit_code})")
        return "\n".join(lines)


def doctor(db, *, wait_seconds: float = 60.0, network_timeout: float = 3.0) -> Report:
    """Run every check on the database at `db`. Bad input (no such database, not an idr
    database, busy beyond the wait) raises as everywhere else: it is not a check result."""
    from ..schema import require_initialised
    from .checks import run_checks
    from .waiting import open_when_free

    report = Report(str(db), utcnow())
    con = open_when_free(db, wait_seconds, read_only=True)
    try:
        require_initialised(con, db)
        report.checks = run_checks(con, Path(db), report.checked_at, network_timeout)
    finally:
        con.close()
    return report
