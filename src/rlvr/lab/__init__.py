"""``rlvr lab``: does RLVR make the model smarter, or faster at search? And did the reward matter?

A package in four layers, top to bottom: ``study`` (orchestration over seeds), ``arms`` (one
seed: data, base, curation, RL arms, samples), ``summary`` (pooled estimates, control calls,
verdict) and ``config`` (the run config, task specs, profiles).
"""

from rlvr.lab.config import PROFILES, TASK_SPECS, LabConfig, TaskSpec, lab_config
from rlvr.lab.study import run_lab
from rlvr.lab.summary import lab_verdict

__all__ = ["PROFILES", "TASK_SPECS", "LabConfig", "TaskSpec", "lab_config", "lab_verdict", "run_lab"]
