"""Comparison reports: verdicts, figures, HTML and Markdown in `reports/<study>/`.

`analysis` computes what a report says (pure), `wording` how numbers read, `figures` draws the
seaborn figures (on `canvas`: figures without pyplot), `curves` one trial's learning curve,
`document` orders the blocks, `render` writes Markdown and self-contained
HTML, `provenance` is the typed record of a run's provenance.json, `build` writes or rebuilds a
folder, and `__main__` is `python -m cnnlab.report`.
Only this package imports matplotlib and seaborn; it works from a results table alone
(`cnnlab.spec` and `cnnlab.stats`), so a report rebuilds without TensorFlow or the stores.

`ReportError`, the stage's one exception, is defined here rather than in `build`, so that a
module `build` imports (`provenance`) can raise it too; `cnnlab.report.build.ReportError` is
the same class.
"""

from __future__ import annotations

from cnnlab.errors import CnnlabError


class ReportError(CnnlabError):
    """A report cannot be written or rebuilt from what is on disk."""


__all__ = ["ReportError"]
