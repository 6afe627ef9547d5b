"""What a sweep shows the user: the time estimate before it starts, progress and ETA while it
runs, the summary at its end. No Optuna and no MLflow here (tests/test_layering.py): the
console works on cells, seconds and verdicts.

- `estimate`: the cost model (FLOPs -> seconds); `calibration`: this machine's measured ratio
- `progress`: cells done / total, ETA, the live status line; `summary`: the closing screen
"""
