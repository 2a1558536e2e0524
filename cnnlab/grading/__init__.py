"""The auto-grader: score exercise notebooks without trusting the code in them. Lesson: exercises.

    from cnnlab.grading import grade, GradeConfig
    report = grade(["alice/01_convolution_by_hand.ipynb"], GradeConfig(jobs=2))
    report.submissions[0].score

How it works (one module per step):

- ``notebook``: reads a submission as JSON and finds each exercise's cell by its nbgrader
  ``grade_id`` (or, when the metadata was lost, by the function it defines);
- ``scan``: a static check of the cell for forbidden modules and dynamic imports;
- ``sandbox`` + ``child``: runs the cell in a child process per exercise (limits,
  namespaces, hidden course folder, dropped user, import guard) and reads back plain arrays;
- ``grader``: draws fresh inputs per run, computes the expected answers here, compares,
  and turns the outcome into a status, points and a message;
- ``report``, ``gradescope``, ``bundle``, ``cli``: text/JSON/CSV/Gradescope output, the
  Gradescope entry point and autograder zip, and ``cnnlab grade``.
"""

from cnnlab.grading.grader import (STATUSES, ExerciseResult, GradeConfig, Report, SubmissionResult, grade)
from cnnlab.grading.sandbox import Isolation, Limits, detect_isolation

__all__ = ["grade", "GradeConfig", "Limits", "Report", "SubmissionResult", "ExerciseResult", "Isolation",
           "detect_isolation", "STATUSES"]
