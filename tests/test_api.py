import rlvr

# The public API is small and pinned: adding or removing a name is a deliberate change.
EXPECTED = {
    "STATUSES",
    "UNJUDGED",
    "BaseVerifier",
    "ConfigError",
    "EngineConfig",
    "Extraction",
    "InputError",
    "IsolationUnavailableError",
    "MissingExtraError",
    "RlvrError",
    "Sample",
    "Status",
    "Verdict",
    "Verifier",
    "VerifierContractError",
    "VerifierNotFoundError",
    "__version__",
    "available_verifiers",
    "extract_code",
    "extract_final_answer",
    "extract_sql",
    "get_verifier",
    "register",
    "verify",
    "verify_iter",
    # verifiers beyond math
    "CodeVerifier",
    "SqlVerifier",
    "RubricVerifier",
    "FormatVerifier",
    "RemoteVerifier",
    "RandomVerifier",
    "CountdownVerifier",
    "all_of",
    "any_of",
    "weighted",
    "route",
    # audit and evaluation
    "AuditReport",
    "pass_at_k",
    "load_samples",
    "compare",
    "ComparisonResult",
    "spurious_analysis",
    "SpuriousResult",
    # training
    "GRPOConfig",
    "Trainer",
    "train",
    "load_policy",
    "HealthConfig",
    "HealthMonitor",
    # the end-to-end study and planning
    "LabConfig",
    "lab_config",
    "run_lab",
    "CostInputs",
    "estimate_cost",
}


def test_public_api_is_pinned():
    assert set(rlvr.__all__) == EXPECTED
    for name in rlvr.__all__:
        assert hasattr(rlvr, name), name


def test_importing_rlvr_imports_nothing_heavy():
    import subprocess
    import sys

    heavy = ("sympy", "torch", "numpy", "sqlglot", "duckdb", "transformers")
    code = f"import sys, rlvr; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names_resolve_to_their_modules():
    from rlvr.evaluate import pass_at_k
    from rlvr.verifiers.sql import SqlVerifier

    assert rlvr.pass_at_k is pass_at_k and rlvr.SqlVerifier is SqlVerifier
    assert "Trainer" in dir(rlvr)


def test_package_ships_py_typed():
    from importlib import resources

    assert resources.files("rlvr").joinpath("py.typed").is_file()


def test_error_tree():
    assert issubclass(rlvr.InputError, rlvr.RlvrError)
    assert issubclass(rlvr.MissingExtraError, rlvr.ConfigError)
    err = rlvr.InputError("bad JSON", "data.jsonl", 3)
    assert str(err) == "data.jsonl:3: bad JSON" and err.line == 3
