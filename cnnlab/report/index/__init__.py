"""The pages over all committed reports (`python -m cnnlab.report --index`), not one sweep's.

- `seed_claims`: the seed documents' claims -> the committed reports that answer them
- `cost`: the cost of pooling, exact counts per arm and seconds per epoch from a benchmark
- `runs`: the table of committed runs, from each report's provenance
- `readme`: reports/README.md's generated blocks
"""
