"""``rlvr lab``: does RLVR make the model smarter, or faster at search? And did the reward matter?

A package in layers, top to bottom: ``study`` (orchestration over seeds), ``jobs`` (a seed's prep
and RL-arm jobs on worker processes), ``arms`` (one seed: data, base, curation, RL arms),
``sampling`` (test samples and trajectory probes, one reading of verdicts), ``summary`` (pooled
estimates, control calls, verdict; ``record``: summary.json as a typed ``LabSummary``) and
``config`` (the run config, task specs, profiles).
"""

from rlvr.lab.config import PROFILES, TASK_SPECS, LabConfig, TaskSpec, lab_config
from rlvr.lab.record import LabSummary
from rlvr.lab.study import run_lab
from rlvr.lab.summary import lab_verdict

__all__ = ["PROFILES", "TASK_SPECS", "LabConfig", "LabSummary", "TaskSpec", "lab_config", "lab_verdict", "run_lab"]
