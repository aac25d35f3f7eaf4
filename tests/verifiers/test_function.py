"""Plain functions as verifiers: detection by signature, return values, failures, worker processes.

The functions live in a module written to a temporary folder (tests/verifiers/user_functions.py
holds its text) and put on ``sys.path`` only, not on PYTHONPATH: a worker process can import it
only if rlvr ships where it came from.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

import rlvr
from rlvr import ConfigError, Sample, Verdict, get_verifier
from rlvr.errors import VerifierContractError
from rlvr.verifiers.function import FunctionVerifier, classify, to_verdict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from user_functions import write_user_module  # noqa: E402

RECORDS = [
    {"output": "17 + 25 = 42", "answer": 42},
    {"output": "the answer is 41", "answer": 42},
    {"output": "no idea", "answer": 42},
]


@pytest.fixture
def mod(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # workers must not find it by inheritance
    name = write_user_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


# --- detection ----------------------------------------------------------------------------------


def _sig(src: str):
    scope: dict = {}
    exec(src, scope)  # noqa: S102 - test fixtures: signatures only
    return scope["f"]


@pytest.mark.parametrize(
    "src, options, style",
    [
        ("def f(output, ground_truth): pass", {}, "output_answer"),
        ("def f(a, b, /): pass", {}, "output_answer"),
        ("def f(output, ground_truth, tol=0.1): pass", {}, "output_answer"),
        ("def f(output, ground_truth, *, strict=False): pass", {}, "output_answer"),
        ("def f(output, ground_truth, tol): pass", {"tol": 1}, "output_answer"),
        ("def f(sample): pass", {}, "sample"),
        ("def f(sample, *args, **kwargs): pass", {}, "sample"),
        ("def f(completions, **kwargs): pass", {}, "batch"),
        ("def f(prompts, completions, answer): pass", {}, "batch"),
        ("def f(*, completions, **kw): pass", {}, "batch"),
        ("def f(**options): pass", {}, "factory"),
        ("def f(threshold=0.5): pass", {}, "factory"),
        ("def f(threshold): pass", {"threshold": 0.5}, "factory"),
        ("def f(*args): pass", {}, "factory"),
    ],
)
def test_signature_decides_the_call(src, options, style):
    assert classify(_sig(src), options, "m:f") == style


@pytest.mark.parametrize(
    "src, needles",
    [
        ("def f(output, ground_truth=None): pass", ["'m:f'", "keyword-only", "f.rlvr_call"]),
        ("def f(sample, strict=False): pass", ["could be f(sample) or f(output, ground_truth)", "strict"]),
        ("def f(output, ground_truth, prompt): pass", ["3 required positional", "prompt", "--opt"]),
    ],
)
def test_ambiguous_signatures_are_a_clear_error(src, needles):
    with pytest.raises(ConfigError) as err:
        classify(_sig(src), {}, "m:f")
    for needle in needles:
        assert needle in str(err.value)


def test_rlvr_call_overrides_detection_and_is_checked():
    f = _sig("def f(output, ground_truth=None): pass")
    f.rlvr_call = "output_answer"
    assert classify(f, {}, "m:f") == "output_answer"
    f.rlvr_call = "pairs"
    with pytest.raises(ConfigError, match="rlvr_call must be one of"):
        classify(f, {}, "m:f")


def test_classes_instances_and_factories_resolve_as_before(mod):
    inst = get_verifier(f"{mod}:factory", strip=False)
    assert type(inst).__name__ == "ExactVerifier" and inst.strip is False
    assert type(get_verifier(f"{mod}:ExactVerifier")).__name__ == "ExactVerifier"
    assert get_verifier(f"{mod}:make_exact", strip=True).strip is True
    assert rlvr.verify([{"output": " 42 ", "answer": 42}], f"{mod}:factory")[0].status == "correct"


def test_a_factory_missing_its_option_says_so_at_the_first_sample(mod):
    v = get_verifier(f"{mod}:make_exact")  # one required parameter, no option: taken for f(sample)
    with pytest.raises(VerifierContractError, match="looks like a factory"):
        v.verify(Sample("42", 42))


def test_ambiguous_function_named_by_path_names_it(mod):
    with pytest.raises(ConfigError, match=f"verifier '{mod}:ambiguous'"):
        get_verifier(f"{mod}:ambiguous")
    with pytest.raises(ConfigError, match="3 required positional"):
        get_verifier(f"{mod}:too_many")
    v = get_verifier(f"{mod}:declared")
    assert isinstance(v, FunctionVerifier) and v.call == "sample"


# --- return values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, expected",
    [
        ("verifier", [(1.0, "correct"), (0.0, "incorrect"), (0.0, "incorrect")]),
        ("verifier_bool", [(1.0, "correct"), (0.0, "incorrect"), (0.0, "incorrect")]),
        ("verifier_int", [(1.0, "correct"), (0.0, "incorrect"), (0.0, "incorrect")]),
        ("verifier_partial", [(0.5, "incorrect"), (0.0, "incorrect"), (0.0, "incorrect")]),
        ("verifier_verdict", [(1.0, "correct"), (0.0, "incorrect"), (0.0, "unparsable")]),
        ("by_sample", [(1.0, "correct"), (0.0, "incorrect"), (0.0, "incorrect")]),
        ("trl_reward", [(1.0, "correct"), (0.0, "incorrect"), (0.0, "incorrect")]),
    ],
)
def test_each_style_and_return_type_through_rlvr_verify(mod, fn, expected):
    verdicts = rlvr.verify(RECORDS, f"{mod}:{fn}")
    assert [(v.score, v.status) for v in verdicts] == expected


def test_reasons_say_what_the_function_returned(mod):
    v = rlvr.verify(RECORDS[:2], f"{mod}:verifier")
    assert [x.reason for x in v] == [f"{mod}:verifier returned 1.0", f"{mod}:verifier returned 0.0"]
    assert rlvr.verify(RECORDS[:1], f"{mod}:verifier_bool")[0].reason == f"{mod}:verifier_bool returned True"
    assert rlvr.verify(RECORDS[:1], f"{mod}:verifier_partial")[0].reason == f"{mod}:verifier_partial returned 0.5"
    assert rlvr.verify(RECORDS[:1], f"{mod}:verifier_int")[0].details == {"returned": 1.0}


def test_numpy_scalars_and_fractions_count_as_numbers():
    from fractions import Fraction

    assert to_verdict(Fraction(1, 4), "m:f").score == 0.25
    np = pytest.importorskip("numpy")
    assert to_verdict(np.float64(0.25), "m:f").score == 0.25
    assert to_verdict(np.bool_(True), "m:f").status == "correct"
    assert to_verdict(np.float32(1.0), "m:f").status == "correct"


@pytest.mark.parametrize(
    "fn, needle",
    [
        ("returns_str", "returned str 'yes'"),
        ("returns_none", "returned NoneType None (a missing return statement?)"),
        ("returns_nan", "returned nan; a verifier's score must be a number in [0, 1]"),
        ("returns_big", "returned 5.0; a verifier's score must be a number in [0, 1]"),
        ("returns_negative", "returned -1.0"),
        ("returns_list", "returned list [1.0]"),
    ],
)
@pytest.mark.parametrize("workers", [0, 2])
def test_wrong_return_types_raise_at_the_first_sample(mod, fn, needle, workers):
    with pytest.raises(VerifierContractError) as err:
        rlvr.verify(RECORDS, f"{mod}:{fn}", workers=workers)
    assert f"verifier '{mod}:{fn}'" in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_a_wrong_return_on_a_later_sample_still_raises():
    def sometimes(output, ground_truth):
        return 1.0 if output != "third" else None

    seen = []
    with pytest.raises(VerifierContractError, match="returned NoneType None"):
        for verdict in rlvr.verify_iter([Sample("one"), Sample("two"), Sample("third")], sometimes):
            seen.append(verdict.score)
    assert seen == [1.0, 1.0]


@pytest.mark.parametrize("workers", [0, 2])
def test_an_exception_is_an_error_verdict_naming_the_function(mod, workers):
    records = [{"output": "crash 1", "answer": 1}, {"output": "fine 1", "answer": 1}]
    first, second = rlvr.verify(records, f"{mod}:raises", workers=workers)
    assert first.status == "error" and first.score == 0.0
    assert first.reason == f"{mod}:raises raised KeyError: 'b'"
    assert "Traceback" in first.details["traceback"]
    assert (second.status, second.score) == ("correct", 1.0)


# --- options ------------------------------------------------------------------------------------


def test_options_are_bound_as_keywords(mod):
    near = [{"output": "about 41.9", "answer": 42}]
    assert rlvr.verify(near, f"{mod}:with_option")[0].status == "incorrect"
    assert rlvr.verify(near, f"{mod}:with_option", tol=0.5)[0].status == "correct"
    with pytest.raises(ConfigError, match="bad options for verifier .*with_option.*no parameter 'tolerance'"):
        get_verifier(f"{mod}:with_option", tolerance=0.5)


# --- batch (TRL-style) functions ------------------------------------------------------------------


def test_batch_function_gets_record_fields_as_columns_and_none_is_skipped(mod):
    records = [
        {"output": "= 42", "answer": 42, "task": "mine"},
        {"output": "= 42", "answer": 42, "task": "other"},
    ]
    a, b = rlvr.verify(records, f"{mod}:trl_reward")
    assert (a.status, a.score) == ("correct", 1.0)
    assert b.status == "skipped" and b.reason == f"{mod}:trl_reward returned None (not applicable)"


def test_batch_function_without_kwargs_gets_only_its_keywords(mod):
    v = get_verifier(f"{mod}:trl_declared_only")
    got = v.score_batch(["x 7", "x 8"], prompts=["p", "p"], solution=["7", "7"], answer=[None, None], extra=[1, 2])
    assert [x.score for x in got] == [1.0, 0.0]
    record = {"output": "x 7", "solution": "7", "prompt": "say 7"}
    assert rlvr.verify([record], v)[0].status == "correct"


@pytest.mark.parametrize(
    "fn, needle",
    [
        ("trl_wrong_length", "returned 3 rewards for 2 completion(s)"),
        ("trl_scalar", "returned float 1.0; it must return a list with one float (or None) per completion"),
    ],
)
def test_batch_function_contract(mod, fn, needle):
    v = get_verifier(f"{mod}:{fn}")
    with pytest.raises(VerifierContractError) as err:
        v.score_batch(["a", "b"], answer=[1, 2])
    assert needle in str(err.value)


def test_batch_function_may_return_an_array():
    np = pytest.importorskip("numpy")

    def arr(completions, **kwargs):
        return np.array([float(c == "1") for c in completions])

    assert [v.score for v in rlvr.verify([{"output": "1"}], arr)] == [1.0]
    assert [v.score for v in get_verifier(arr).score_batch(["1", "0"])] == [1.0, 0.0]


def test_batch_function_exception_errors_every_completion(mod):
    got = get_verifier(f"{mod}:trl_raises").score_batch(["a", "b"])
    assert [(v.status, v.reason) for v in got] == [("error", f"{mod}:trl_raises raised RuntimeError: reward model offline")] * 2


# --- functions passed as objects, file paths, worker processes ----------------------------------------


def test_function_objects_work_in_the_public_api(mod):
    module = __import__(mod)
    verdicts = rlvr.verify(RECORDS, module.verifier, workers=2)
    assert [v.status for v in verdicts] == ["correct", "incorrect", "incorrect"]
    assert verdicts[0].reason == f"{mod}:verifier returned 1.0"
    assert rlvr.verify(RECORDS[:1], lambda output, ground_truth: 0.25)[0].score == 0.25


def test_worker_processes_reimport_the_function_from_its_folder(mod):
    many = RECORDS * 40  # several chunks over both workers
    local = rlvr.verify(many, f"{mod}:verifier", workers=0)
    pooled = rlvr.verify(many, f"{mod}:verifier", workers=2)
    assert pooled == local
    assert rlvr.verify(many, f"{mod}:trl_reward", workers=2) == rlvr.verify(many, f"{mod}:trl_reward", workers=0)


def test_file_path_specs_load_the_file_here_and_in_workers(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    name = write_user_module(folder, "my_reward")
    spec = f"{folder / (name + '.py')}:verifier"
    for workers in (0, 2):
        verdicts = rlvr.verify(RECORDS, spec, workers=workers)
        assert [v.status for v in verdicts] == ["correct", "incorrect", "incorrect"]
        assert verdicts[0].reason == f"{spec} returned 1.0"
    with pytest.raises(rlvr.VerifierNotFoundError, match="no such verifier file"):
        get_verifier(f"{tmp_path / 'missing.py'}:verifier")


def test_functions_a_worker_cannot_import_are_refused_with_the_reason():
    def local(output, ground_truth):
        return 1.0

    with pytest.raises(ConfigError, match="defined inside a function.*define it at module level"):
        rlvr.verify(RECORDS, local, workers=2)
    with pytest.raises(ConfigError, match="lambda"):
        rlvr.verify(RECORDS, lambda output, ground_truth: 1.0, workers=2)
    assert rlvr.verify(RECORDS, local, workers=0)[0].score == 1.0


def test_verdicts_from_functions_are_exact_verdicts(mod):
    v = rlvr.verify([{"output": "x", "answer": 1}], f"{mod}:verifier_verdict")[0]
    assert v == Verdict.unparsable("no number")
    assert not math.isnan(v.score)


def test_the_compose_factory_without_its_file_is_still_a_setup_error():
    with pytest.raises(ConfigError, match="bad options for verifier 'compose'.*'file'"):
        get_verifier("compose")


def test_automatic_workers_stay_in_process_for_a_function_workers_cannot_import():
    def local(output, ground_truth):  # as in a notebook: no module a worker could import
        return 1.0 if output == str(ground_truth) else 0.0

    verdicts = rlvr.verify([{"output": str(i % 2), "answer": 1} for i in range(300)], local)
    assert [v.score for v in verdicts] == [float(i % 2) for i in range(300)]
