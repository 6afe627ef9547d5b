"""Claims judged under several conditions, and whether they replicate across them.

`conditions.py` judges each condition of a sweep as its own sweep; `verdict.py` turns the
conditions' verdicts and paired differences into one replication verdict per claim, with the
simulation of its error rates.
"""
