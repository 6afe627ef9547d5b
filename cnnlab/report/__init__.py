"""Comparison reports: verdicts, figures, HTML and Markdown in `reports/<study>/` (DESIGN.md §8).

`analysis` computes what a report says (pure), `wording` how numbers read, `figures` draws the
seaborn figures, `document` orders the blocks, `render` writes Markdown and self-contained
HTML, `build` writes or rebuilds a folder, and `__main__` is `python -m cnnlab.report`.
Only this package imports matplotlib and seaborn.
"""
