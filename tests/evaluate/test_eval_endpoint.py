"""The endpoint sampler and ``rlvr sample`` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from typer.testing import CliRunner

from rlvr.errors import ConfigError
from rlvr.evaluate.sampling import read_prompts, scan_existing, write_samples
from rlvr.policy.endpoint import EndpointConfig, EndpointError, EndpointSampler, resolve_endpoint

runner = CliRunner()


def prompts_file(tmp_path: Path, count: int = 6) -> Path:
    p = tmp_path / "prompts.jsonl"
    p.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prompt": f"what is {i}+{i}?", "answer": str(2 * i), "level": i % 3}) + "\n"
            for i in range(count)
        )
    )
    return p


def cli(*args: str):
    from rlvr.cli import app

    return runner.invoke(app, [str(a) for a in args])


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def assert_complete(path: Path, ids: list[str], n: int) -> list[dict]:
    lines = read_lines(path)
    keys = [(r["problem_id"], r["sample_index"]) for r in lines]
    assert len(keys) == len(set(keys)), "duplicate samples"
    assert sorted(keys) == sorted((pid, i) for pid in ids for i in range(n))
    return lines


def test_resolve_endpoint_urls():
    assert resolve_endpoint("http://h:8000") == ("http://h:8000/v1/chat/completions", "chat")
    assert resolve_endpoint("http://h:8000/v1/", "completions") == ("http://h:8000/v1/completions", "completions")
    assert resolve_endpoint("http://h/v1/completions") == ("http://h/v1/completions", "completions")
    assert resolve_endpoint("http://h/v1/chat/completions", "completions")[1] == "chat"


def test_config_validation_names_the_fix():
    with pytest.raises(ConfigError, match="http://"):
        EndpointConfig(url="localhost:8000", model="m")
    with pytest.raises(ConfigError, match="concurrency"):
        EndpointConfig(url="http://h", model="m", concurrency=0)
    with pytest.raises(ConfigError, match="top_p"):
        EndpointConfig(url="http://h", model="m", top_p=0)


def test_cli_samples_every_prompt_with_fields_and_parameters(tmp_path):
    out = tmp_path / "s.jsonl"
    with FakeOpenAI() as server:
        r = cli(
            "sample", prompts_file(tmp_path), "-n", "3", "--out", out, "--endpoint", server.url, "--model", "tiny",
            "--temperature", "0.6", "--top-p", "0.95", "--max-tokens", "64", "--seed", "5", "--json",
        )
        assert r.exit_code == 0, r.output
        summary = json.loads(r.stdout)
        assert summary["sampled"] == 6 and summary["samples_written"] == 18
        body = server.requests[0]
        assert (body["temperature"], body["top_p"], body["max_tokens"], body["n"]) == (0.6, 0.95, 64, 3)
        assert body["model"] == "tiny" and isinstance(body["seed"], int)
        assert server.paths[0] == "/v1/chat/completions"
    lines = assert_complete(out, [f"q{i}" for i in range(6)], 3)
    q2 = [r for r in lines if r["problem_id"] == "q2"]
    assert {r["answer"] for r in q2} == {"4"} and {r["level"] for r in q2} == {2}
    assert {r["prompt"] for r in q2} == {"what is 2+2?"}
    assert {r["model"] for r in q2} == {"tiny"} and "id" not in q2[0]
    assert sorted(r["output"].rsplit("#", 1)[1] for r in q2) == ["0", "1", "2"]
    assert q2[0]["finish_reason"] == "stop"


def test_completions_api_and_seed_per_prompt_is_reproducible(tmp_path):
    outs = []
    for run in range(2):
        out = tmp_path / f"s{run}.jsonl"
        with FakeOpenAI() as server:
            r = cli(
                "sample", prompts_file(tmp_path, 4), "-n", "2", "--out", out, "--endpoint", server.url + "/v1",
                "--api", "completions", "--model", "m", "--seed", "1", "--concurrency", str(1 + run), "-q",
            )
            assert r.exit_code == 0, r.output
            assert set(server.paths) == {"/v1/completions"}
        outs.append(sorted((x["problem_id"], x["sample_index"], x["output"]) for x in read_lines(out)))
    assert outs[0] == outs[1]  # same seed, different concurrency and order: same samples


def test_server_failing_mid_run_then_resume_completes_without_duplicates(tmp_path):
    prompts = prompts_file(tmp_path, 10)
    out = tmp_path / "s.jsonl"
    ids = [f"q{i}" for i in range(10)]
    with FakeOpenAI(fail_after=4) as server:
        r = cli("sample", prompts, "-n", "3", "--out", out, "--endpoint", server.url, "--model", "m",
                "--concurrency", "2", "--retries", "1", "--backoff", "0.01", "-q")
    assert r.exit_code == 1
    err = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "HTTP 500" in err[0] and "re-run the same command to resume" in err[0]
    partial = read_lines(out)
    done = {x["problem_id"] for x in partial}
    assert 1 <= len(done) <= 4 and len(partial) == 3 * len(done)  # only whole groups were written
    with FakeOpenAI() as server:
        r = cli("sample", prompts, "-n", "3", "--out", out, "--endpoint", server.url, "--model", "m", "--json")
        assert r.exit_code == 0, r.output
        summary = json.loads(r.stdout)
        assert summary["already_complete"] == len(done) and summary["sampled"] == 10 - len(done)
        asked = {b["messages"][0]["content"] for b in server.requests}
        assert len(asked) == 10 - len(done)  # finished prompts were not asked again
    lines = assert_complete(out, ids, 3)
    # The groups written before the failure survive untouched.
    assert [x for x in lines if x["problem_id"] in done] == partial


def test_resume_drops_a_partial_group_and_a_torn_line(tmp_path):
    prompts = prompts_file(tmp_path, 3)
    out = tmp_path / "s.jsonl"
    good = [{"problem_id": "q0", "sample_index": i, "output": f"x{i}", "model": "m"} for i in range(2)]
    partial = {"problem_id": "q1", "sample_index": 0, "output": "y", "model": "m"}
    out.write_text("".join(json.dumps(x) + "\n" for x in [*good, partial]) + '{"problem_id": "q1", "sample_ind')
    with FakeOpenAI() as server:
        r = cli("sample", prompts, "-n", "2", "--out", out, "--endpoint", server.url, "--model", "m", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["dropped_partial_lines"] == 2
    lines = assert_complete(out, ["q0", "q1", "q2"], 2)
    assert lines[:2] == good


def test_resume_refuses_another_model_or_larger_n(tmp_path):
    out = tmp_path / "s.jsonl"
    out.write_text(json.dumps({"problem_id": "q0", "sample_index": 0, "output": "x", "model": "other"}) + "\n")
    with pytest.raises(ConfigError, match="model 'other'"):
        scan_existing(out, 1, "m")
    out.write_text(json.dumps({"problem_id": "q0", "sample_index": 5, "output": "x", "model": "m"}) + "\n")
    with pytest.raises(ConfigError, match="-n is 2"):
        scan_existing(out, 2, "m")
    with FakeOpenAI() as server:
        r = cli("sample", prompts_file(tmp_path, 1), "-n", "2", "--out", out, "--endpoint", server.url, "--model", "m")
    assert r.exit_code == 1 and "use the same -n or another --out" in r.output


def test_transient_errors_are_retried(tmp_path):
    out = tmp_path / "s.jsonl"
    with FakeOpenAI(flaky_every=2, rate_limit_every=5, garbage_every=7) as server:
        r = cli("sample", prompts_file(tmp_path, 6), "-n", "2", "--out", out, "--endpoint", server.url,
                "--model", "m", "--backoff", "0.01", "--retries", "8", "--json")
        assert r.exit_code == 0, r.output
        assert server.count > 6  # some requests failed and were repeated
    assert_complete(out, [f"q{i}" for i in range(6)], 2)


def test_client_error_fails_at_once_with_the_servers_message(tmp_path):
    with FakeOpenAI(reject=True) as server:
        r = cli("sample", prompts_file(tmp_path, 3), "-n", "2", "--out", tmp_path / "s.jsonl",
                "--endpoint", server.url, "--model", "nope", "--retries", "5", "--backoff", "5")
        assert server.count <= 3  # no retries on a 400 (the 5 s backoff would show)
    assert r.exit_code == 1
    assert "HTTP 400: The model `nope` does not exist." in r.output


def test_concurrency_is_bounded():
    with FakeOpenAI(delay=0.05) as server:
        sampler = EndpointSampler(EndpointConfig(url=server.url, model="m", concurrency=3))
        got = dict(sampler.sample_many(((f"p{i}", f"prompt {i}") for i in range(12)), 2))
        assert server.max_inflight <= 3
    assert sorted(got) == sorted(f"p{i}" for i in range(12))
    assert all(len(v) == 2 for v in got.values())


def test_server_that_ignores_n_is_asked_again():
    with FakeOpenAI(single_choice=True) as server:
        sampler = EndpointSampler(EndpointConfig(url=server.url, model="m", seed=3))
        comps = sampler.sample("hi", 3, prompt_id="p")
        assert len(comps) == 3 and server.count == 3
        assert len({c["text"] for c in comps}) == 3  # each request had its own seed


def test_unreachable_endpoint_gives_up_with_a_reason():
    sampler = EndpointSampler(
        EndpointConfig(url="http://127.0.0.1:9", model="m", max_retries=1, backoff=0.0, timeout=5)
    )
    with pytest.raises(EndpointError, match="giving up after 2 attempt"):
        sampler.sample("hi", 1)


def test_api_key_is_sent_as_bearer(tmp_path, monkeypatch):
    monkeypatch.setenv("RLVR_TEST_KEY", "sekret")
    with FakeOpenAI() as server:
        r = cli("sample", prompts_file(tmp_path, 1), "-n", "1", "--out", tmp_path / "s.jsonl", "--endpoint",
                server.url, "--model", "m", "--api-key-env", "RLVR_TEST_KEY", "-q")
        assert r.exit_code == 0, r.output
        assert server.headers[0].get("Authorization") == "Bearer sekret"


def test_write_samples_with_a_plain_generator(tmp_path):
    prompts = read_prompts(prompts_file(tmp_path, 3))

    def gen(todo):
        for p in reversed(todo):
            yield p.problem_id, [{"text": p.prompt.upper()}] * 2

    summary = write_samples(tmp_path / "o.jsonl", prompts, 2, "m", gen)
    assert summary["sampled"] == 3
    assert write_samples(tmp_path / "o.jsonl", prompts, 2, "m", gen)["already_complete"] == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"prompt": "x"}\n', "prompts.jsonl:1: missing an id"),
        ('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "prompts.jsonl:2: duplicate id 'a' (first at line 1)"),
        ('{"id": "a", "prompt": 3}\n', "prompts.jsonl:1: prompt must be a string"),
        ('{"id": "a"}\n', "prompts.jsonl:1: missing required field(s): prompt"),
    ],
)
def test_bad_prompt_files_are_one_line_errors(tmp_path, text, needle):
    p = tmp_path / "prompts.jsonl"
    p.write_text(text)
    r = cli("sample", p, "-n", "1", "--out", tmp_path / "o.jsonl", "--endpoint", "http://127.0.0.1:9", "--model", "m")
    assert r.exit_code == 1
    assert needle in r.output


def test_sample_help_and_subprocess_entry_point(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "rlvr.cli", "sample", "--help"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and "Example" in proc.stdout and "--endpoint" in proc.stdout


def test_oversized_response_is_refused(tmp_path):
    with FakeOpenAI() as server:
        sampler = EndpointSampler(
            EndpointConfig(url=server.url, model="m", max_retries=1, backoff=0.0, max_response_bytes=50)
        )
        with pytest.raises(EndpointError, match="larger than 50 bytes"):
            sampler.sample("hi", 1)


def test_n_per_request_splits_requests(tmp_path):
    out = tmp_path / "s.jsonl"
    with FakeOpenAI() as server:
        r = cli("sample", prompts_file(tmp_path, 2), "-n", "5", "--out", out, "--endpoint", server.url,
                "--model", "m", "--n-per-request", "2", "--seed", "0", "-q")
        assert r.exit_code == 0, r.output
        assert sorted(b["n"] for b in server.requests) == [1, 1, 2, 2, 2, 2]
    lines = assert_complete(out, ["q0", "q1"], 5)
    assert len({x["output"] for x in lines}) == 10  # every request had its own seed: no repeats


def test_generate_matches_the_policy_signature():
    with FakeOpenAI() as server:
        sampler = EndpointSampler(EndpointConfig(url=server.url, model="m", concurrency=2))
        texts = sampler.generate(["a", "b", "c"], n=2, temperature=0.3, top_p=0.9, max_new_tokens=7, seed=1)
        assert [len(t) for t in texts] == [2, 2, 2]
        assert [t[0].split(" | ")[0] for t in texts] == ["a", "b", "c"]  # prompt order kept
        assert {(b["temperature"], b["top_p"], b["max_tokens"]) for b in server.requests} == {(0.3, 0.9, 7)}
