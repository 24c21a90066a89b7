"""The stage bodies of one submission, shared by both executors through `pipeline.plan`.

Each takes the run's context (event, rules, store, layout, activity state) and gives a report
and its findings; bad input is a finding, never an exception. One module per stage:
`context` (what a run carries), `unpack`, `video` (the head, the typed jobs and their merge),
`document` (text, duplication, topics) and `form` (the registration form's fields).
"""

from .context import SubmissionContext

__all__ = ["SubmissionContext"]
