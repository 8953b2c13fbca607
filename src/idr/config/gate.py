"""The anomaly gate's settings and its judgement of one run's figures (pure: no database).

runs/gate.py applies it to a run: reads the history, holds or publishes. See docs/gate.md.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field

# figure -> (RunContext.counts key, run_history column)
FIGURES: dict[str, tuple[str, str]] = {
    "merges": ("merges", "merges"),
    "splits": ("splits", "splits"),
    "clusters": ("clusters", "clusters_total"),
    "largest_cluster": ("largest_cluster", "largest_cluster"),
    "entities": ("entities", "entities_processed"),
    "edges": ("edges", "edges_created"),
    "skipped_groups": ("groups_skipped", "groups_skipped"),
    "excluded_values": ("values_excluded", "values_excluded"),
}
MODES = ("off", "warn", "hold")
MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of normally distributed values

# config_key -> (default, description); merged into config.models.SETTINGS.
GATE_SETTINGS: dict[str, tuple[str, str]] = {
    "gate_mode": ("warn", "What a flagged figure does unless gate_modes names it: off, warn or hold"),
    "gate_modes": ("merges=hold,largest_cluster=hold",
                   "Per-figure modes, e.g. merges=hold,edges=warn (figures: " + ", ".join(FIGURES) + ")"),
    "gate_min_history": ("5", "Published runs of the same mode needed before the statistical test judges"),
    "gate_history_runs": ("30", "How many recent published runs of the same mode the statistics use"),
    "gate_mad_threshold": ("5", "A figure is anomalous beyond this many scaled MADs from the median"),
    "gate_min_change": ("10", "Differences smaller than this never flag (absolute)"),
    "gate_min_relative_change": ("0.1", "Differences smaller than this fraction of the median never flag"),
    "gate_max_merge_fraction": ("0.02", "Flag merges above this fraction of the clusters published before "
                                        "(empty: no limit)"),
    "gate_max_split_fraction": ("", "Flag splits above this fraction of the clusters published before "
                                    "(empty: no limit)"),
    "gate_max": ("", "Absolute ceilings per figure, e.g. largest_cluster=50000,skipped_groups=100"),
}


@dataclass(frozen=True)
class GateSettings:
    default_mode: str
    modes: dict[str, str]
    min_history: int
    history_runs: int
    mad_threshold: float
    min_change: float
    min_relative_change: float
    max_merge_fraction: float | None
    max_split_fraction: float | None
    ceilings: dict[str, float]

    def mode(self, figure: str) -> str:
        return self.modes.get(figure, self.default_mode)


def _pairs(key: str, raw: str, problems: list[str]) -> dict[str, str]:
    """'a=x,b=y' -> {a: x, b: y}; unknown figures and malformed items become problems."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not value:
            problems.append(f"idr_meta.config {key}: {item!r} is not figure=value")
        elif name not in FIGURES:
            problems.append(f"idr_meta.config {key}: unknown figure {name!r} (figures: {', '.join(FIGURES)})")
        else:
            out[name] = value
    return out


def _number(key: str, raw: str, problems: list[str], *, integer: bool = False, optional: bool = False,
            positive: bool = False):
    raw = raw.strip()
    if optional and not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError
    except ValueError:
        problems.append(f"idr_meta.config {key}={raw!r}: expected {'an integer' if integer else 'a number'}")
        return None
    if value < 0 or (positive and value == 0):
        problems.append(f"idr_meta.config {key}={raw!r}: must be {'positive' if positive else 'zero or more'}")
        return None
    return value


def parse_settings(setting, problems: list[str]) -> GateSettings | None:
    """The gate's settings from `setting(key)` (config text or default); problems listed."""
    n = len(problems)
    default_mode = setting("gate_mode").strip().lower()
    if default_mode not in MODES:
        problems.append(f"idr_meta.config gate_mode={default_mode!r}: expected one of {', '.join(MODES)}")
    modes = {}
    for figure, mode in _pairs("gate_modes", setting("gate_modes"), problems).items():
        if mode.lower() not in MODES:
            problems.append(f"idr_meta.config gate_modes: {figure}={mode!r}: expected one of {', '.join(MODES)}")
        modes[figure] = mode.lower()
    ceilings = {f: _number("gate_max", v, problems) for f, v in _pairs("gate_max", setting("gate_max"), problems).items()}
    values = dict(
        min_history=_number("gate_min_history", setting("gate_min_history"), problems, integer=True, positive=True),
        history_runs=_number("gate_history_runs", setting("gate_history_runs"), problems, integer=True,
                             positive=True),
        mad_threshold=_number("gate_mad_threshold", setting("gate_mad_threshold"), problems),
        min_change=_number("gate_min_change", setting("gate_min_change"), problems),
        min_relative_change=_number("gate_min_relative_change", setting("gate_min_relative_change"), problems),
        max_merge_fraction=_number("gate_max_merge_fraction", setting("gate_max_merge_fraction"), problems,
                                   optional=True),
        max_split_fraction=_number("gate_max_split_fraction", setting("gate_max_split_fraction"), problems,
                                   optional=True),
    )
    if len(problems) > n:
        return None
    return GateSettings(default_mode, modes, ceilings=ceilings, **values)


@dataclass
class Flag:
    figure: str
    value: float
    mode: str  # warn | hold
    reason: str


@dataclass
class Verdict:
    flags: list[Flag] = field(default_factory=list)
    history_runs: int = 0  # published runs the statistics looked at

    @property
    def hold(self) -> bool:
        return any(f.mode == "hold" for f in self.flags)

    @property
    def decision(self) -> str:
        return "hold" if self.hold else "warn" if self.flags else "pass"

    def reasons(self, mode: str | None = None) -> list[str]:
        return [f"gate {f.mode}: {f.reason}" for f in self.flags if mode is None or f.mode == mode]

    def to_json(self) -> str:
        return json.dumps({"decision": self.decision, "history_runs": self.history_runs,
                           "flags": [asdict(f) for f in self.flags]}, sort_keys=True)


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4g}"


def judge_figures(values: dict[str, float | None], history: list[dict], previous_clusters: float | None,
                  s: GateSettings) -> list[Flag]:
    """The flags for one run's figures. Pure, so constructed histories can test it."""
    flags: list[Flag] = []
    for figure in FIGURES:
        mode = s.mode(figure)
        x = values.get(figure)
        if mode == "off" or x is None:
            continue
        reasons = []
        past = [h[figure] for h in history if h.get(figure) is not None]
        if len(past) >= s.min_history:
            med = statistics.median(past)
            mad = statistics.median(abs(v - med) for v in past)
            dev = abs(x - med)
            floor = max(s.mad_threshold * MAD_SCALE * mad, s.min_change, s.min_relative_change * abs(med))
            if dev > floor:
                reasons.append(f"{figure} {_fmt(x)} is {_fmt(dev)} from the median {_fmt(med)} of the last "
                               f"{len(past)} published runs (MAD {_fmt(mad)}; allowed {_fmt(floor)})")
        limit = {"merges": s.max_merge_fraction, "splits": s.max_split_fraction}.get(figure)
        if limit is not None and previous_clusters and x >= s.min_change and x > limit * previous_clusters:
            reasons.append(f"{figure} {_fmt(x)} is {x / previous_clusters:.2%} of the {_fmt(previous_clusters)} "
                           f"clusters published before (limit gate_max_{figure[:-1]}_fraction={limit:g})")
        ceiling = s.ceilings.get(figure)
        if ceiling is not None and x > ceiling:
            reasons.append(f"{figure} {_fmt(x)} is over gate_max {figure}={_fmt(ceiling)}")
        if reasons:
            flags.append(Flag(figure, float(x), mode, "; ".join(reasons)))
    return flags
