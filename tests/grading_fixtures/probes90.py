"""The probe of the test-only chapter 90 (loaded by path, like cnnlab/checks/probes.py)."""

import numpy as np


def counter(seed: int = 0):
    """Step the learner's counter ``case["steps"]`` times; the values it returns are the answer."""
    def probe(answer, case):
        if not hasattr(answer, "step"):
            raise TypeError(f"expected an object with a step() method, got {type(answer).__name__}")
        return np.array([answer.step() for _ in range(case["steps"])], dtype=np.int64)
    return probe
