"""Multi-turn rollouts (rlvr.rollout.collect_episodes): masks, endings, budgets, log-probs."""

from __future__ import annotations

import torch

from rlvr.env import CalculatorEnv
from rlvr.env.turns import CompactTurns
from rlvr.policy.tiny import TinyConfig, TinyPolicy
from rlvr.rollout import collect_episodes

RECORDS = [{"id": "p0", "prompt": "12*34=", "answer": "408"}, {"id": "p1", "prompt": "7*6=", "answer": "42"}]


class Scripted(TinyPolicy):
    """A tiny policy whose turns are scripted per row (what it 'samples'); log-probs are -1 each. The
    turn a context is at is the number of observations (``]``) in it."""

    def __init__(self, scripts, block_size=64):
        super().__init__(TinyConfig(block_size=block_size), seed=0)
        self.scripts = scripts
        self.prompts = []

    def continue_ids(self, contexts, *, temperature, top_p, max_new_tokens, generator, stop_ids=()):
        out = []
        for context in contexts:
            # The row is the one whose prompt this context starts with (one episode per prompt here).
            row = next(i for i, p in enumerate(self.prompts) if context[: len(p)] == p)
            turn = context.count(self.tokenizer.encode("]")[0])
            text = self.scripts[row][min(turn, len(self.scripts[row]) - 1)]
            ids = self.tokenizer.encode(text)
            ended = text.endswith("}")
            if not ended:
                ids = ids + [self.eos_id]
            ids = ids[:max_new_tokens]
            out.append((ids, [-1.0] * len(ids), len(ids) == len(self.tokenizer.encode(text)) + (not ended)))
        return out


def run(scripts, *, tools=True, block_size=64, max_turns=4, group_size=1, records=RECORDS):
    pol = Scripted(scripts, block_size)
    pol.prompts = pol.encode_prompts([r["prompt"] for r in records])
    from functools import partial

    from rlvr.env.episode import Budget

    factory = partial(CalculatorEnv, budget=Budget(max_turns=max_turns))
    return pol, collect_episodes(pol, records, list(range(len(records))), env_factory=factory, group_size=group_size,
                                 temperature=1.0, top_p=1.0, max_new_tokens=20, seed=0, step=3, tools=tools)


def test_observation_tokens_carry_no_loss_and_answers_are_judged():
    pol, b = run([["{calculate:12*34}", "408"], ["43"]])
    assert b.rewards.flatten().tolist() == [1.0, 0.0]
    assert [e.ended for e in b.episodes] == ["answer", "answer"]
    assert [e.n_tool_calls for e in b.episodes] == [1, 0]
    tok, p = b.rollout.tokens, b.rollout.tokens.prompt_len
    row = tok.input_ids[0, p:].tolist()
    mask = tok.completion_mask[0].tolist()
    text = "{calculate:12*34}[408]408"
    assert pol.tokenizer.decode(row) == text
    # The call (17 chars) and the answer (3 + EOS) train; the observation "[408]" (5) does not.
    assert mask[: len(text) + 1] == [1.0] * 17 + [0.0] * 5 + [1.0] * 4
    assert tok.attention_mask[0, p : p + len(text) + 1].tolist() == [1] * (len(text) + 1)
    assert b.rollout.sample_logprobs[0, 17:22].tolist() == [0.0] * 5
    assert b.rollout.texts[0] == text
    assert not bool(b.rollout.truncated[0])


def test_a_forged_observation_is_the_models_text_and_trains():
    # The model writes the observation markup and a wrong "result" itself: no tool ran, it is all its own text.
    pol, b = run([["[408]408"]], records=RECORDS[:1])
    ep = b.episodes[0]
    assert ep.n_tool_calls == 0 and ep.final_answer == "[408]408"
    assert CompactTurns().forged(ep.steps[0].assistant)
    n = len("[408]408") + 1
    assert b.rollout.tokens.completion_mask[0, :n].tolist() == [1.0] * n


def test_budgets_end_episodes_with_a_reason():
    _, b = run([["{calculate:1}"] * 5], max_turns=2, records=RECORDS[:1])
    ep = b.episodes[0]
    assert ep.ended == "max_turns" and ep.n_tool_calls == 2 and b.statuses == ["unparsable"]
    assert bool(b.rollout.truncated[0])
    # A context that fills up ends the episode instead of overflowing the model's positions.
    _, b = run([["{calculate:111111*2}"] * 5], block_size=40, max_turns=8, records=RECORDS[:1])
    assert b.episodes[0].ended == "budget" and "context" in b.episodes[0].reason


def test_withheld_tools_answer_every_call_unknown():
    _, b = run([["{calculate:12*34}", "408"]], tools=False, records=RECORDS[:1])
    call = b.episodes[0].calls[0]
    assert call.error and "unknown tool" in call.error
    assert b.rewards.item() == 1.0  # the answer is still judged: the no-tool arm can be right on its own


def test_sampled_logprobs_are_the_trainers_on_the_models_tokens():
    pol = TinyPolicy(TinyConfig(block_size=48), seed=1)
    # A random model rarely calls; force calls by checking on whatever it samples, over many rows.
    b = collect_episodes(pol, RECORDS, [0, 1], env_factory=CalculatorEnv, group_size=16, temperature=1.0,
                         top_p=1.0, max_new_tokens=12, seed=5, step=1)
    lp, _ = pol.logprobs(b.rollout.tokens)
    m = b.rollout.tokens.completion_mask
    assert torch.allclose(lp * m, b.rollout.sample_logprobs * m, atol=1e-5)
    assert b.rollout.prompt_index == [0] * 16 + [1] * 16
    # Same seed, same episodes.
    again = collect_episodes(pol, RECORDS, [0, 1], env_factory=CalculatorEnv, group_size=16, temperature=1.0,
                             top_p=1.0, max_new_tokens=12, seed=5, step=1)
    assert again.rollout.texts == b.rollout.texts


def test_each_episode_is_its_own_sample_for_per_sample_verifiers():
    # The random control's coin is per sample: the G episodes of one prompt must not share it.
    from functools import partial

    from rlvr.verifiers.registry import get_verifier

    pol = TinyPolicy(TinyConfig(block_size=48), seed=1)
    factory = partial(CalculatorEnv, verifier=get_verifier("random", p=0.5, seed=3))
    b = collect_episodes(pol, RECORDS, [0, 1], env_factory=factory, group_size=16, temperature=1.0, top_p=1.0,
                         max_new_tokens=8, seed=5, step=1)
    per_group = b.rewards.sum(dim=1).tolist()
    assert all(0 < s < 16 for s in per_group), per_group


def test_a_row_with_room_left_is_not_cut_by_a_longer_row():
    # Row 0's long call leaves it 3 positions; row 1 (a short prompt, short call) still has room for
    # its whole answer, so only row 0 ends on the context.
    pol, b = run([["{calculate:123456*78}", "x" * 10], ["{calculate:1}", "1"]], block_size=40,
                 records=[{"id": "a", "prompt": "123456*78=", "answer": "9629568"}, {"id": "b", "prompt": "1=", "answer": "1"}])
    assert b.episodes[0].ended == "budget" and "context" in b.episodes[0].reason
    assert b.episodes[1].ended == "answer" and b.rewards[1].item() == 1.0
    assert int(b.rollout.tokens.attention_mask.sum(dim=1).max()) <= 40  # every row within the model's positions


def test_tool_use_counts_calls_over_episodes_and_tool_answers_over_answers():
    from rlvr.env.episode import Episode, ToolCallRecord
    from rlvr.rollout import tool_use

    call = ToolCallRecord("calculate", {}, "408")
    eps = [Episode(calls=[call], ended="answer", final_answer="408"), Episode(ended="answer", final_answer="4"),
           Episode(calls=[call, call], ended="max_turns"), Episode(ended="no_answer")]
    assert tool_use(eps) == {"calls_per_episode": 0.75, "answers_using_tool": 0.5, "episodes": 4}
    assert tool_use([]) == {"calls_per_episode": 0.0, "answers_using_tool": 0.0, "episodes": 0}
