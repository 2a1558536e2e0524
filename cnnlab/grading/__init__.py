"""The auto-grader: score exercise notebooks without trusting the code in them. Lesson: exercises.

    from cnnlab.grading import grade, GradeConfig
    report = grade(["alice/01_convolution_by_hand.ipynb"], GradeConfig(jobs=2))
    report.submissions[0].score

How it works (one module per step):

- ``notebook``: reads a submission as JSON and finds each exercise's cell by its nbgrader
  ``grade_id`` (or, when the metadata was lost, by the function it defines);
- ``scan``: a static check of the cell for forbidden modules and dynamic imports;
- ``sandbox``: decides what isolation this host gives (and proves it with a self-test, or
  refuses), runs each exercise in a fresh child of a fork server (``zygote``) and reads back
  plain arrays under a strict schema; ``view`` is the child's allow-list of files and
  ``kernel`` the Linux calls (namespaces, Landlock, seccomp) it is built from;
- ``grader``: draws fresh inputs per run, computes the expected answers here, compares,
  and turns the outcome into a status, points and a message;
- ``report``, ``gradescope``, ``bundle``, ``gradebook``, ``cli``: text/JSON/CSV/Gradescope
  output, the Gradescope entry point and autograder zip, nbgrader's gradebook, and
  ``cnnlab grade``.
"""

from cnnlab.grading.grader import (STATUSES, ExerciseResult, GradeConfig, Report, SubmissionResult, grade)
from cnnlab.grading.sandbox import Isolation, Limits, SandboxRefused, assess

__all__ = ["grade", "GradeConfig", "Limits", "Report", "SubmissionResult", "ExerciseResult", "Isolation",
           "SandboxRefused", "assess", "STATUSES"]
