"""One trial's life: training a cell here or in worker processes, and its bookkeeping.

- `book`: TrialBook, one trial's bookkeeping across Optuna and MLflow, stage by stage
- `execution`: training here or in workers; the TrialStages and Pool protocols; stop signals
- `workers`: the worker processes of `--workers N`; `events`: what they report, typed
- `artifacts`: the files a finished trial leaves; `dry_run`: `--dry-run`
"""
