"""How a duration reads, everywhere cnnlab prints one: "45 min 34 s", "3 h 12 min", "48 s".

Stdlib only, so the sweep's console (estimates, ETAs, the summary) and the reports (wall
times) share it without importing the report's heavier modules.
"""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """Whole seconds under an hour, whole minutes above (an estimate is no finer)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
