"""Statistics, pure: a results table in, paired differences, verdicts and tests out.

`table` owns the results table's schema, pairing by replicate and per-arm summaries;
`paired` the statistics of one claim over paired differences (intervals, tests, P(A>B),
Holm, power, verdicts); `claims` judges a sweep's declared claims on its table (pairing,
completeness and the sanity gate); `anova` the omnibus and factorial tests over several arms.
No files, no stores, no TensorFlow, Optuna, MLflow or plotting: every number a report shows
is computed here and can be checked against scipy.
"""
