"""A tiny chapter for the grader's own tests (loaded only when CNNLAB_GRADING_FIXTURES names this folder).

``moving_sum`` is a NumPy exercise that forbids one function (``numpy.convolve``) and the
reference layers; ``make_counter`` returns an object, so it needs a probe that runs in the
child, like the network exercises of lessons 04-08 but without torch.
"""

from pathlib import Path

import numpy as np

from cnnlab.checks import Exercise, Mistake, Probe

PROBES = str(Path(__file__).resolve().with_name("probes90.py"))


def _sum_cases(rng):
    return [dict(x=rng.standard_normal(n), k=k) for n, k in [(8, 3), (5, 5), (9, 2), (6, 1)]]


def _sum_ref(x, k):
    return np.array([x[i:i + k].sum() for i in range(len(x) - k + 1)])


def _sum_hint(case, got, expected):
    if case["k"] > 1 and np.shape(got) == (len(case["x"]),):
        return Mistake("output: one value per input", "count how many windows fit inside x",
                       "the output has one value per input: only windows that fit inside x count")
    return None


def _counter_cases(rng):
    return [dict(start=int(rng.integers(-5, 5)), steps=3), dict(start=0, steps=1), dict(start=7, steps=4)]


class _Counter:
    def __init__(self, start):
        self.value = start

    def step(self):
        self.value += 1
        return self.value


def _counter_ref(start, steps):
    return _Counter(start)


EXERCISES = [
    Exercise(name="moving_sum", chapter="90", points=2, cases=_sum_cases, reference=_sum_ref,
             diagnose=_sum_hint, forbidden=("numpy.convolve", "cnnlab.layers", "torch"),
             description="sums of every window of k neighbours"),
    Exercise(name="make_counter", chapter="90", points=1, cases=_counter_cases, reference=_counter_ref,
             probe=Probe("counter", file=PROBES), forbidden=("cnnlab.layers",),
             description="an object that counts up from start"),
]
