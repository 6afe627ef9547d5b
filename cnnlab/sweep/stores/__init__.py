"""The stores a sweep writes: Optuna's study (which cells are done, running or free) and MLflow's
runs. The only Optuna storage code and the only MLflow import (`tracking`) live here.

- `keys`: the one table of stored keys and state values (never renamed: old stores read the same)
- `redact`, `connection`, `preflight`: store URLs masked; what an unreachable store says;
  folders and stores checked before any work (no Optuna, no MLflow)
- `studies`: versioned studies, definition check, joining, owners, heartbeats, reaping
- `claiming`: the study's queue of cells, which processes on one study fill and claim from,
  under the database's own locks; `objective`: trial <-> cell
- `tracking`: MLflow experiments, parent and child runs
- `opening`: a run's stores opened (or joined); what is done, live and remaining
- `results`: results.csv and epochs.csv from the study; `failures`: a store lost mid-run, in words
"""
