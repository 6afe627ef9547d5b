"""Does mixed bfloat16 change the Géron sweeps' verdicts? float32 against it, paired.

Question: the Géron sweeps (geron_first_kernel, geron_dropout) train in mixed bfloat16, which
trains `geron` twice as fast as float32 on this CPU (benchmarks/precision.py; the CPU has
AVX-512 BF16). Would float32 have given the same answers?
Prior: bfloat16 keeps an 8-bit mantissa in activations and gradients (weights stay float32),
       so single cells differ; the pilot-sized differences between arms (0.1-0.4 pp) should not.
Design: Géron's two claims under two conditions, `train.precision` float32 and mixed bfloat16,
       on the same 5 paired seeds (0-4) and the same initial weights; both arms of a claim always
       train in the same precision. The bfloat16 cells are the Géron sweeps' first looks, reused
       from the same runs folder (same `--workers`), so only the float32 cells are trained here.
Rule (fixed before the run): bfloat16 stands if, for each claim, the float32 and bfloat16
       effects agree within the claim's ROPE: the report's replication verdict is not "depends on
       the condition" (the paired, seed-level interaction test) and the two conditions' verdicts
       do not contradict each other (one supported where the other is contradicted). Otherwise
       the Géron sweeps are rerun in float32, and their bfloat16 reports are withdrawn.
Budget: 5 epochs at batch 32, as the Géron sweeps (fixed by geron_pilot).
Run:   python -m cnnlab.sweep geron_precision --workers 1 \\
         --archive reports/geron_precision/cells.jsonl --max-time 2h
Cost:  15 float32 cells (3 arms × 5 seeds) at about 14 min each on 2 CPU cores: 3.5 hours.
"""

import dataclasses

from cnnlab.spec import Claim, Factor, Sweep, TrainSpec, TrialSpec, geron

k3 = dataclasses.replace(
    geron, blocks=(dataclasses.replace(geron.blocks[0], kernel_size=3), *geron.blocks[1:])
)
d0 = dataclasses.replace(geron, dropout=0.0)

SWEEP = Sweep(
    name="geron_precision",
    base=TrialSpec(arch=geron, train=TrainSpec(epochs=5)),
    factors=(Factor(path="arch", levels=(geron, k3, d0), labels=("geron", "k3", "d0")),),
    conditions=Factor(
        path="train.precision", levels=("float32", "mixed_bfloat16"), labels=("fp32", "bf16")
    ),
    seeds=(0, 1, 2, 3, 4),
    claims=(
        Claim(statement="a 7×7 first kernel beats 3×3", better="geron", worse="k3"),
        Claim(statement="dropout 0.5 beats no dropout", better="geron", worse="d0"),
    ),
    baseline_band=(0.985, 0.997),
)
