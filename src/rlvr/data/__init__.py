"""Training data: built-in task generators, prompt files, curation and difficulty schedules.

- ``tasks``: procedurally generated tasks (``arithmetic``) with answers and a ``difficulty`` field.
- ``prompts``: read prompt JSONL files (errors name file and line), write record files atomically.
- ``schedule``: the order prompts are drawn in (shuffled epochs or easy → hard curricula).
- ``curate``: keep prompts whose measured pass rate lies in a band (``rlvr curate``).

Importing this package does not import torch.
"""

from __future__ import annotations

__all__: list[str] = []
