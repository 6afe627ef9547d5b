"""The shipped experiments: one module per sweep, each declaring a validated `SWEEP`.

Installed as the package `cnnlab.experiments` (see pyproject.toml), so `cnnlab list` and
`python -m cnnlab.sweep NAME` find them in an editable install, a regular install or a
source checkout alike.
"""
