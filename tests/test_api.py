import rlvr

# The public API is small and pinned: adding or removing a name is a deliberate change.
EXPECTED = {
    "STATUSES",
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
}


def test_public_api_is_pinned():
    assert set(rlvr.__all__) == EXPECTED
    for name in rlvr.__all__:
        assert hasattr(rlvr, name), name


def test_importing_rlvr_does_not_import_sympy():
    import subprocess
    import sys

    code = "import sys, rlvr; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_package_ships_py_typed():
    from importlib import resources

    assert resources.files("rlvr").joinpath("py.typed").is_file()


def test_error_tree():
    assert issubclass(rlvr.InputError, rlvr.RlvrError)
    assert issubclass(rlvr.MissingExtraError, rlvr.ConfigError)
    err = rlvr.InputError("bad JSON", "data.jsonl", 3)
    assert str(err) == "data.jsonl:3: bad JSON" and err.line == 3
