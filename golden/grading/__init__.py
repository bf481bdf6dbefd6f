"""Grading many implementations: expand IMPLs and globs, run them in parallel, score them, tabulate.

Each IMPL gets a run of its own (``golden.harness.session.run``), so its own child process: one that
hangs, crashes or ends its process costs itself, never the batch. ``--jobs`` worker processes
(``golden.harness._pool``) carry out the runs, one IMPL at a time each, fed from here; they judge, as a
single validate does, and send back the outcomes as JSON. (Threads would not do: the judging, Hypothesis
included, is Python work in the judging process, and a second thread of it ran no faster than one.) A
submission that cannot even be loaded is a grade (nothing earned, the load error as the reason), not an
error of the run.

One module per job: ``expand`` (what is graded), ``batch`` (the runs, in workers), ``scoring`` (weights
and scores), ``render`` (the table, CSV, JSON), ``gradescope`` and ``prairielearn`` (a student's results
file), ``similarity`` (the pairs of similar files across the batch).
"""
