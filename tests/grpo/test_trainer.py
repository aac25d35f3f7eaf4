"""The training loop on the tiny model: metrics, on-policy ratios, KL, data efficiency, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from grpo_helpers import DigitShare, FlakyVerifier, StartsWithDigit, small_config

from rlvr.errors import ConfigError
from rlvr.grpo import Trainer, load_config, train
from rlvr.grpo import trainer as trainer_mod
from rlvr.grpo.filtering import informative_groups

ROOT = Path(__file__).resolve().parents[2]
HEALTH_KEYS = (
    "reward/mean", "reward/std", "groups/frac_zero_std", "policy/entropy", "loss/clip_frac",
    "optim/grad_norm", "gen/len_mean", "verify/error_rate", "time/rollout", "time/verify", "time/update",
    "time/step", "policy/kl", "loss/ratio_mean",
)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _strip_times(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]


def test_step_returns_every_health_metric():
    tr = Trainer(small_config(), verifier=DigitShare(), run_dir=None, quiet=True)
    m = tr.step()
    for key in HEALTH_KEYS:
        assert key in m and math.isfinite(m[key]), key
    # beta = 0 still reads KL to the initial policy, which is the policy that sampled at step 1
    assert m["policy/kl"] == 0.0
    assert m["step"] == 1 and m["samples/trained"] == 16
    assert m["optim/updates"] == 4  # 2 epochs x 2 minibatches
    assert 0.0 <= m["reward/mean"] <= 1.0 and m["gen/len_mean"] >= 1


def _spy_updates(monkeypatch):
    """Record each optimizer step's rows, the old log-probs it trains against, and its loss outputs."""
    calls = []
    real_step = trainer_mod.Trainer._minibatch_step
    real_loss = trainer_mod.policy_loss

    def step_spy(self, tokens, idx, adv, mask, old_lp, ref_lp, temp, *, fill_old):
        outs = []
        calls.append({"idx": idx.clone(), "old_lp": old_lp, "outs": outs, "mask": mask, "tokens": tokens})
        return real_step(self, tokens, idx, adv, mask, old_lp, ref_lp, temp, fill_old=fill_old)

    def loss_spy(*args, **kwargs):
        out = real_loss(*args, **kwargs)
        calls[-1]["outs"].append(out)
        return out

    monkeypatch.setattr(trainer_mod.Trainer, "_minibatch_step", step_spy)
    monkeypatch.setattr(trainer_mod, "policy_loss", loss_spy)
    return calls


@pytest.mark.parametrize("epochs", [1, 2, 3])
@pytest.mark.parametrize("minibatches", [1, 2, 4])
def test_old_logprobs_are_those_of_the_weights_that_sampled(monkeypatch, epochs, minibatches):
    calls = _spy_updates(monkeypatch)
    cfg = small_config(optim={"epochs": epochs, "minibatches": minibatches, "micro_batch_size": 3, "learning_rate": 5e-4})
    tr = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True)
    before = {k: v.clone() for k, v in tr.policy.state_dict().items()}
    pre_update = tr.policy.frozen_copy()
    m = tr.step()
    assert len(calls) == epochs * minibatches == m["optim/updates"]
    old_lp = calls[0]["old_lp"]
    assert all(c["old_lp"] is old_lp for c in calls)  # one buffer, filled once, for every update
    mask = calls[0]["mask"]
    with torch.no_grad():  # a fresh pass of the weights that sampled
        fresh, _ = pre_update.logprobs(calls[0]["tokens"], temperature=1.0)
    assert torch.allclose(old_lp * mask, fresh * mask, atol=1e-5)
    # the very first update is exactly on-policy: ratio 1, nothing clipped
    first = calls[0]["outs"]
    assert all(out.ratio_mean == pytest.approx(1.0, abs=1e-6) and out.clip_frac == 0.0 for out in first)
    # the first touch of every row (epoch 1) is near-on-policy: nothing clipped at a usual learning rate
    for c in calls[:minibatches]:
        assert all(out.clip_frac == 0.0 for out in c["outs"])
    # the whole first epoch covers every row once
    seen = torch.cat([c["idx"] for c in calls[:minibatches]]).sort().values
    assert seen.tolist() == list(range(len(mask)))
    assert 0.97 <= m["loss/ratio_mean"] <= 1.03
    assert not all(torch.equal(before[k], v) for k, v in tr.policy.state_dict().items())


def test_a_second_epoch_clips_when_the_learning_rate_is_high(monkeypatch):
    calls = _spy_updates(monkeypatch)
    cfg = small_config(optim={"epochs": 2, "minibatches": 1, "learning_rate": 0.05})
    tr = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True)
    tr.step()
    first, second = calls
    assert first["outs"][0].clip_frac == 0.0 and first["outs"][0].ratio_mean == pytest.approx(1.0, abs=1e-6)
    assert second["outs"][0].clip_frac > 0.0  # the policy moved past the trust region and the clip acts


def test_kl_is_logged_at_beta_zero_without_changing_the_update():
    tr = Trainer(small_config(), verifier=DigitShare(), run_dir=None, quiet=True)
    assert tr.reference is not None
    assert all(not p.requires_grad for p in tr.reference.model.parameters())  # the reference stays frozen
    kls = [tr.step()["policy/kl"] for _ in range(3)]
    assert kls[0] == 0.0 and kls[1] > 0.0 and kls[2] > 0.0
    # kl_every = 0 keeps no reference and reads no KL; the updates are the same (no gradient through KL)
    off = Trainer(small_config(loss={"kl_every": 0}), verifier=DigitShare(), run_dir=None, quiet=True)
    assert off.reference is None
    for _ in range(3):
        assert "policy/kl" not in off.step()
    assert all(torch.equal(tr.policy.state_dict()[k], v) for k, v in off.policy.state_dict().items())
    # kl_every = 2: a reading every second step only
    every2 = Trainer(small_config(loss={"kl_every": 2}), verifier=DigitShare(), run_dir=None, quiet=True)
    assert ["policy/kl" in every2.step() for _ in range(4)] == [False, True, False, True]


def test_beta_positive_reads_kl_every_step():
    tr2 = Trainer(
        small_config(loss={"beta": 0.1, "kl_every": 0}, optim={"epochs": 1, "minibatches": 1}),
        verifier=DigitShare(), run_dir=None, quiet=True,
    )
    assert tr2.reference is not None  # the KL term needs it whatever kl_every says
    m1 = tr2.step()
    assert m1["policy/kl"] == 0.0  # the policy that sampled is the reference at step 1
    m2 = tr2.step()
    assert m2["policy/kl"] > 0.0


def test_overlong_filter_masks_truncated_completions(monkeypatch):
    calls = _spy_updates(monkeypatch)
    # warmed up: one-digit sums end (digit + EOS) within 2 tokens, two-digit ones are cut off
    cfg = small_config(rollout={"overlong_filter": True, "max_new_tokens": 2}, optim={"epochs": 1, "minibatches": 1},
                       model={"pretrain_steps": 150, "pretrain_lr": 3e-3})
    tr = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True)
    m = tr.step()
    truncated = calls[0]["tokens"].completion_mask[:, -1].bool() & (calls[0]["tokens"].completion_ids[:, -1] != tr.policy.eos_id)
    assert 0 < int(truncated.sum()) < len(truncated), "expected some truncated and some finished completions"
    mask = calls[0]["mask"]
    assert bool((mask[truncated].sum(dim=1) == 0).all())  # truncated rows carry no loss
    assert bool((mask[~truncated].sum(dim=1) > 0).all())
    assert m["gen/truncated_frac"] == pytest.approx(float(truncated.float().mean()))


def test_soft_overlong_punishment_shapes_rewards_not_verdicts():
    cfg = small_config(rollout={"overlong_buffer": 0.5, "max_new_tokens": 2}, optim={"epochs": 1, "minibatches": 1})
    tr = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True)
    m = tr.step()
    assert m["reward/overlong_penalty"] < 0.0  # completions of 2 tokens lose the whole penalty
    assert 0.0 <= m["reward/mean"] <= 1.0  # the verifier's scores are reported as they are


def test_dynamic_sampling_trains_only_informative_groups():
    cfg = small_config(rollout={"dynamic_sampling": True, "max_refill_rounds": 3, "prompts_per_step": 4})
    tr = Trainer(cfg, verifier=StartsWithDigit(), run_dir=None, quiet=True)
    batch, sampled = tr._rollout(1)
    assert bool(informative_groups(batch.rewards, batch.valid).all())
    assert len(batch.prompt_ids) <= 4
    first = sampled[0]
    if not bool(informative_groups(first.rewards, first.valid).all()):
        assert len(sampled) > 1  # it sampled more prompts to refill
    m = tr.step()
    assert m["groups/sampled"] >= m["groups/trained"]


def test_pruning_trains_the_kept_fraction():
    cfg = small_config(rollout={"prune": "variance", "prune_keep": 0.5}, optim={"epochs": 1, "minibatches": 1})
    m = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True).step()
    assert m["samples/trained"] == 4 * 2


def test_verifier_errors_are_excluded_counted_and_warned(tmp_path):
    cfg = small_config(tmp_path, run={"steps": 1}, health={"patience": 1})
    tr = Trainer(cfg, verifier=FlakyVerifier(), quiet=True)
    summary = tr.train()
    m = tr.history[0]
    assert m["verify/error_rate"] == pytest.approx(0.5)
    assert m["verify/excluded"] == 8
    warnings = _rows(tmp_path / "run" / "health.jsonl")
    assert any(w["code"] == "verifier_errors" and w["step"] == 1 for w in warnings)
    assert summary["health"]["counts"]["verifier_errors"] == 1


def test_run_dir_layout_and_final_model(tmp_path):
    from rlvr.policy import load_policy

    cfg = small_config(tmp_path)
    summary = train(cfg, verifier=DigitShare(), quiet=True)
    run = tmp_path / "run"
    assert (run / "config.json").is_file() and (run / "summary.json").is_file()
    assert len(_rows(run / "metrics.jsonl")) == 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_000002.pt", "step_000004.pt"]
    assert json.loads((run / "summary.json").read_text())["steps"] == 4
    policy = load_policy(summary["final_model"])
    out = policy.generate(["1+2="], n=3, max_new_tokens=3, seed=0)
    assert len(out) == 1 and len(out[0]) == 3
    # the pre-RL policy is kept too, and it differs from the trained one
    base = load_policy(summary["initial_model"])
    assert any(not torch.equal(a, b) for a, b in zip(base.state_dict().values(), policy.state_dict().values()))
    # a second run into the same folder must not silently mix logs
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg, verifier=DigitShare(), quiet=True)


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    full = small_config(tmp_path / "a")
    train(full, verifier=DigitShare(), quiet=True)

    class Killed(Exception):
        pass

    def kill_after_3(step, metrics):
        if step == 3:  # dies after logging step 3, past the step-2 checkpoint
            raise Killed

    part = small_config(tmp_path / "b")
    with pytest.raises(Killed):
        train(part, verifier=DigitShare(), quiet=True, callbacks=[kill_after_3])
    assert len(_rows(tmp_path / "b" / "run" / "metrics.jsonl")) == 3
    train(part, verifier=DigitShare(), quiet=True, resume=True)

    a = _strip_times(_rows(tmp_path / "a" / "run" / "metrics.jsonl"))
    b = _strip_times(_rows(tmp_path / "b" / "run" / "metrics.jsonl"))
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert rb[key] == pytest.approx(ra[key], rel=1e-6, abs=1e-7), (ra["step"], key)
    sa = torch.load(tmp_path / "a" / "run" / "checkpoints" / "step_000004.pt", weights_only=False)["model"]
    sb = torch.load(tmp_path / "b" / "run" / "checkpoints" / "step_000004.pt", weights_only=False)["model"]
    assert all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)


def test_resume_refuses_a_changed_config(tmp_path):
    cfg = small_config(tmp_path, run={"steps": 2})
    train(cfg, verifier=DigitShare(), quiet=True)
    changed = small_config(tmp_path, run={"steps": 4}, optim={"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="cannot resume: the config changed"):
        train(changed, verifier=DigitShare(), quiet=True, resume=True)
    # more steps alone is fine
    summary = train(small_config(tmp_path, run={"steps": 3}), verifier=DigitShare(), quiet=True, resume=True)
    assert summary["steps"] == 3


def test_tensorboard_is_optional(tmp_path):
    cfg = small_config(tmp_path, run={"steps": 1, "tensorboard": True})
    train(cfg, verifier=DigitShare(), quiet=True)
    assert list((tmp_path / "run" / "tensorboard").glob("events.*"))


def test_tensorboard_missing_names_the_extra(tmp_path, monkeypatch):
    import sys

    from rlvr.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    cfg = small_config(tmp_path, run={"steps": 1, "tensorboard": True})
    with pytest.raises(MissingExtraError, match=r"rlvr\[tensorboard\]"):
        train(cfg, verifier=DigitShare(), quiet=True)


@pytest.mark.slow
def test_example_config_raises_reward(tmp_path):
    cfg = load_config(ROOT / "examples" / "train_tiny.toml", [f'run.out_dir="{tmp_path / "tiny"}"', "run.steps=60",
                                                               "run.progress=false"])
    summary = train(cfg, quiet=True)
    rows = _rows(tmp_path / "tiny" / "metrics.jsonl")
    start = sum(r["reward/mean"] for r in rows[:10]) / 10
    end = sum(r["reward/mean"] for r in rows[-10:]) / 10
    assert end > start + 0.08, (start, end)
    assert summary["health"]["healthy"], summary["health"]


@pytest.mark.parametrize(
    "overrides",
    [
        ("algorithm=grpo",),
        ("algorithm=dr_grpo",),
        ("algorithm=rloo",),
        ("algorithm=median", "advantage.scale=batch"),
        ("algorithm=gspo",),
        ("algorithm=dapo", "loss.entropy_coef=0.01", "loss.beta=0.02", "loss.kl_estimator=k2"),
        ("loss.beta=0.02", "loss.kl_estimator=k1", "rollout.top_p=0.9", "rollout.temperature=0.7"),
        ("data.schedule=difficulty", "rollout.prune=top"),
    ],
)
def test_every_algorithm_runs_a_finite_step(overrides):
    tr = Trainer(small_config(overrides=overrides), verifier=DigitShare(), run_dir=None, quiet=True)
    for _ in range(2):
        m = tr.step()
    numbers = {k: v for k, v in m.items() if isinstance(v, float)}
    assert all(math.isfinite(v) for v in numbers.values()), numbers
    assert "policy/kl" in m  # logged with and without a KL term (finite: checked above)


def test_pass_rate_schedule_learns_from_rollouts():
    tr = Trainer(small_config(overrides=("data.schedule=pass_rate",)), verifier=DigitShare(), run_dir=None, quiet=True)
    tr.step()
    measured = [i for i in range(len(tr.records)) if tr.sampler.seen[i]]
    assert len(measured) == 4 and all(tr.sampler.seen[i] == 4 for i in measured)


def test_sampling_and_training_logprobs_agree():
    m = Trainer(small_config(), verifier=DigitShare(), run_dir=None, quiet=True).step()
    assert 0.0 <= m["policy/logprob_gap"] < 1e-4


def test_unavailable_device_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        Trainer(small_config(run={"device": "cuda"}), verifier=DigitShare(), run_dir=None, quiet=True)
    with pytest.raises(ConfigError, match="not a torch device"):
        Trainer(small_config(run={"device": "gpu0"}), verifier=DigitShare(), run_dir=None, quiet=True)


class _Zero(DigitShare):
    def check(self, sample):
        from rlvr.types import Verdict

        return Verdict.incorrect("never right")


def test_dynamic_sampling_with_no_signal_skips_the_update(tmp_path):
    cfg = small_config(tmp_path, run={"steps": 3}, rollout={"dynamic_sampling": True, "max_refill_rounds": 1},
                       health={"patience": 3})
    tr = Trainer(cfg, verifier=_Zero(), quiet=True)
    before = {k: v.clone() for k, v in tr.policy.state_dict().items()}
    tr.train()
    m = tr.history[-1]
    assert m["groups/trained"] == 0 and m["samples/trained"] == 0 and m["optim/updates"] == 0
    assert m["groups/frac_zero_std"] == 1.0 and "policy/entropy" not in m
    assert all(torch.equal(before[k], v) for k, v in tr.policy.state_dict().items())
    codes = {json.loads(x)["code"] for x in (tmp_path / "run" / "health.jsonl").read_text().splitlines()}
    assert "zero_variance_groups" in codes


def test_dynamic_sampling_concatenates_rounds_with_different_prompt_lengths():
    cfg = small_config(
        data={"max_operand": 20, "n_prompts": 30},
        rollout={"dynamic_sampling": True, "max_refill_rounds": 4, "prompts_per_step": 6},
        model={"tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16}},
        optim={"epochs": 1, "minibatches": 1},
    )
    tr = Trainer(cfg, verifier=StartsWithDigit(), run_dir=None, quiet=True)
    for step in range(1, 4):
        batch, sampled = tr._rollout(step)
        if len(sampled) > 1 and len(batch.prompt_ids) > 1:
            break
    assert len(sampled) > 1, "expected at least one refill round"
    lp, _ = tr.policy.logprobs(batch.rollout.tokens)
    assert torch.allclose(lp, batch.rollout.sample_logprobs, atol=1e-5)
    # every row's prompt survived the re-padding: BOS + its characters, right-aligned
    toks = batch.rollout.tokens
    real = toks.attention_mask[:, : toks.prompt_len].sum(dim=1).tolist()
    g = batch.group_size
    assert real == [len(tr.records[pid]["prompt"]) + 1 for pid in batch.prompt_ids for _ in range(g)]
    assert batch.rewards.shape == (len(batch.prompt_ids), 4)


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_micro_batches_give_the_same_update(agg):
    results = []
    for micro in (0, 3):
        cfg = small_config(optim={"micro_batch_size": micro}, loss={"agg": agg, "beta": 0.05, "entropy_coef": 0.01})
        tr = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True)
        m = tr.step()
        results.append((m, {k: v.clone() for k, v in tr.policy.state_dict().items()}))
    (m0, s0), (m1, s1) = results
    for key in ("loss/total", "loss/pg", "loss/clip_frac", "policy/entropy", "policy/kl", "optim/grad_norm"):
        assert m1[key] == pytest.approx(m0[key], rel=1e-4, abs=1e-6), key
    assert all(torch.allclose(s0[k], s1[k], atol=1e-5) for k in s0)


def test_a_run_dir_in_use_is_refused(tmp_path):
    import fcntl

    cfg = small_config(tmp_path, run={"steps": 1})
    (tmp_path / "run").mkdir(parents=True)
    with (tmp_path / "run" / ".lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another training process
        with pytest.raises(ConfigError, match="in use by another training process"):
            train(cfg, verifier=DigitShare(), quiet=True)
    assert train(cfg, verifier=DigitShare(), quiet=True)["steps"] == 1  # free again


def test_resume_before_the_first_checkpoint_starts_over(tmp_path):
    def die(step, metrics):
        if step == 1:
            raise KeyboardInterrupt

    cfg = small_config(tmp_path, run={"steps": 2, "checkpoint_every": 2})
    with pytest.raises(KeyboardInterrupt):
        train(cfg, verifier=DigitShare(), quiet=True, callbacks=[die])
    assert not (tmp_path / "run" / "checkpoints").exists()
    train(cfg, verifier=DigitShare(), quiet=True, resume=True)
    assert [r["step"] for r in _rows(tmp_path / "run" / "metrics.jsonl")] == [1, 2]
