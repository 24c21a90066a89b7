"""Work one message sends out to several, and the one message that goes on when all are done.

A long video's analysis (its jobs) and a long video's preview (its pieces) both fan out: the
names are registered in the run state before any is sent, each finishing message marks its
name done, and exactly one of them sees the group complete (the run state's completion set is
atomic), so the merge is sent once. Redelivered messages mark the same name again: harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from .state import FlowState


@dataclass(frozen=True)
class FanOut:
    state: FlowState

    def start(self, submission_id: str, run_id: str, group: str, names: list[str]) -> None:
        """Register the names of the work sent out (before any of it can finish)."""
        self.state.expect(submission_id, run_id, group, names)

    def done(self, submission_id: str, run_id: str, group: str, name: str) -> bool:
        """Mark one done; True for the message that completed the group (it sends the merge)."""
        return self.state.mark_done(submission_id, run_id, group, name)

    def complete(self, submission_id: str, run_id: str, group: str) -> bool:
        return self.state.complete(submission_id, run_id, group)

    def names(self, submission_id: str, run_id: str, group: str) -> set[str]:
        return self.state.expected(submission_id, run_id, group)
