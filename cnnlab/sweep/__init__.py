"""Running a sweep: Optuna studies and cell claiming, trial bookkeeping, execution in this
process or in workers, MLflow tracking (in `tracking`, the only module that imports mlflow),
the results table, the console (plan, progress, summary) and publishing the report.

`python -m cnnlab.sweep NAME` is `__main__`; `runner.run_sweep` composes the rest. This is
the only stage that imports Optuna. Importing the package itself imports nothing heavy.
"""
