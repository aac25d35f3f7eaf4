"""The math verifier family, read in pipeline order:

``parse`` (bounded parser to a node tree, no eval) → ``exact`` (rational values, hard limits) →
``relations`` (equations, inequalities, solution sets) / ``symbolic`` (sympy, in a killable
worker) / ``units`` (unit words and multipliers) / ``form`` (what form the problem asks for) →
``compare`` (are two parsed answers the same object) → ``verifier`` (``MathVerifier``: extraction,
normalisation, the worker pool). Each step imports only the steps before it.
"""

from rlvr.verifiers.math.verifier import MathVerifier, split_unit

__all__ = ["MathVerifier", "split_unit"]
