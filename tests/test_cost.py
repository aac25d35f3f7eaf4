"""``rlvr.cost`` and ``rlvr cost``: the arithmetic against hand-computed values, validation, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rlvr.commands.cost import register
from rlvr.cost import CostInputs, estimate
from rlvr.errors import ConfigError

approx = pytest.approx

# The brief's example plan: GPU-hour pricing, verifier on own hardware, labels at $0.50.
GPU_PLAN = dict(
    tokens_per_rollout=512, k=8, prompts_per_step=64, steps=500, gpu_hour_rate=2.5, throughput=2500,
    verifier_seconds=0.05, workers=16, eng_hours=40, eng_rate=120, label_cost=0.5,
)
GPU_ARGS = [
    "--tokens-per-rollout", "512", "--k", "8", "--prompts-per-step", "64", "--steps", "500",
    "--gpu-hour-rate", "2.5", "--throughput", "2500", "--verifier-seconds", "0.05", "--workers", "16",
    "--eng-hours", "40", "--eng-rate", "120", "--label-cost", "0.5",
]


# -- the model --------------------------------------------------------------------------------


def test_gpu_hour_mode_matches_hand_computation() -> None:
    est = estimate(CostInputs(**GPU_PLAN))
    # R = 8 * 64 * 500 = 256,000 rollouts; G = 256,000 * 512 = 131,072,000 tokens.
    assert est.rollouts == 256_000
    assert est.line("generated tokens").quantity == 131_072_000
    # Inference: 131,072,000 / 2500 tok/s = 52,428.8 s = 14.563556 GPU-h, x $2.5 = $36.408889.
    inf = est.line("inference")
    assert (inf.quantity, inf.unit, inf.rate) == (approx(52_428.8 / 3600), "GPU-hours", 2.5)
    assert inf.cost == approx(36.408889, abs=1e-6)
    # Training: default 2500 / 3 = 833.33 tok/s -> 157,286.4 s = 43.690667 GPU-h, x 2.5 = $109.226667.
    train = est.line("training updates")
    assert train.quantity == approx(157_286.4 / 3600)
    assert train.cost == approx(109.226667, abs=1e-6)
    assert "throughput / 3" in train.note
    # Verifier: 256,000 * 0.05 s = 12,800 CPU-s = 3.555556 CPU-h at $0; wall 3.555556 / 16 = 0.222222 h.
    ver = est.line("verifier compute")
    assert (ver.quantity, ver.cost) == (approx(12_800 / 3600), 0.0)
    assert est.line("verifier wall-clock").quantity == approx(0.222222, abs=1e-6)
    assert est.line("engineering").cost == 4800.0
    # Totals: compute 36.408889 + 109.226667 = 145.635556; all-in + 4800.
    assert est.compute_usd == approx(145.635556, abs=1e-6)
    assert est.total_usd == approx(4945.635556, abs=1e-6)
    assert est.usd_per_step == approx(145.635556 / 500, abs=1e-9)
    assert est.usd_per_1k_rollouts == approx(145.635556 / 256, abs=1e-6)
    # Wall-clock: 14.563556 + 43.690667 + 0.222222 h on one GPU, one after the other.
    assert (est.generation_hours, est.training_hours) == (approx(14.563556, abs=1e-6), approx(43.690667, abs=1e-6))
    assert est.wall_clock_hours == approx(58.476444, abs=1e-6)
    # Labels: every prompt drawn, 64 * 500 = 32,000, x 1 x $0.5 = $16,000.
    cmp_ = est.comparison
    assert cmp_ is not None
    assert (cmp_.prompts, cmp_.comparisons, cmp_.label_usd) == (32_000, 32_000, 16_000.0)
    assert cmp_.ratio == approx(16_000 / 4945.635556, rel=1e-9)
    assert cmp_.break_even_label_cost == approx(4945.635556 / 32_000, abs=1e-9)
    assert cmp_.break_even_prompts == approx(4945.635556 / 0.5, abs=1e-6)
    assert cmp_.cheaper == "rlvr"
    assert est.notes == ()


def test_gpus_shorten_wall_clock_not_cost() -> None:
    one = estimate(CostInputs(**GPU_PLAN))
    four = estimate(CostInputs(**{**GPU_PLAN, "gpus": 4}))
    assert four.compute_usd == approx(one.compute_usd)
    assert four.generation_hours == approx(one.generation_hours / 4)
    assert four.training_hours == approx(one.training_hours / 4)


def test_per_token_mode_with_prompts_epochs_and_throughput() -> None:
    est = estimate(CostInputs(
        tokens_per_rollout=1000, prompt_tokens=200, k=4, prompts_per_step=10, steps=20,
        usd_per_1k_tokens=0.002, usd_per_1k_prompt_tokens=0.0005, train_usd_per_1k_tokens=0.004, epochs=2,
        throughput=100, gpus=2, verifier_seconds=2, workers=4, cpu_hour_rate=0.1, eng_hours=10, eng_rate=100,
    ))
    # R = 800; G = 800,000; P = 160,000; T = (G + P) * 2 epochs = 1,920,000.
    assert est.inputs.mode == "per_token"
    assert est.line("prompt tokens").quantity == 160_000
    assert est.line("inference (generated)").cost == approx(800 * 0.002)  # $1.60
    assert est.line("inference (prompt)").cost == approx(160 * 0.0005)  # $0.08
    train = est.line("training updates")
    assert (train.quantity, train.cost) == (approx(1920), approx(1920 * 0.004))  # $7.68
    # Verifier: 800 * 2 s = 1600 CPU-s = 0.444444 h at $0.1 = $0.044444; wall / 4 workers = 0.111111 h.
    assert est.line("verifier compute").cost == approx(0.0444444, abs=1e-7)
    assert est.verification_hours == approx(0.111111, abs=1e-6)
    assert est.compute_usd == approx(1.6 + 0.08 + 7.68 + 1600 / 3600 * 0.1)
    assert est.total_usd == approx(9.4044444 + 1000, abs=1e-6)
    assert est.usd_per_step == approx(9.4044444 / 20, abs=1e-7)
    assert est.usd_per_1k_rollouts == approx(9.4044444 / 0.8, abs=1e-6)
    # Generation: 800,000 / (100 tok/s * 2 GPUs) = 4000 s; training time unknown for an API.
    assert est.generation_hours == approx(4000 / 3600)
    assert est.training_hours is None
    assert est.wall_clock_hours == approx(4000 / 3600 + 0.111111, abs=1e-6)
    assert est.comparison is None


def test_per_token_mode_defaults_prompt_price_and_leaves_training_unpriced() -> None:
    est = estimate(CostInputs(tokens_per_rollout=100, prompt_tokens=50, k=2, prompts_per_step=3, steps=4,
                              usd_per_1k_tokens=0.01, eng_hours=5))
    # R = 24; P = 1200 tokens at the generated price $0.01/1K = $0.012; G = 2400 -> $0.024.
    assert est.line("inference (prompt)").rate == 0.01
    assert est.compute_usd == approx(0.012 + 0.024)
    train = est.line("training updates")
    assert train.cost is None and "not priced" in train.note
    assert est.generation_hours is None and est.wall_clock_hours == 0.0
    assert any("--train-usd-per-1k-tokens" in n for n in est.notes)
    assert any("--throughput" in n for n in est.notes)
    assert any("--eng-rate" in n for n in est.notes)  # 5 hours at $0


def test_explicit_train_throughput_and_label_comparison_with_dataset_cap() -> None:
    base = dict(tokens_per_rollout=100, k=2, prompts_per_step=5, steps=10, gpu_hour_rate=3.6, throughput=50,
                train_throughput=100, label_cost=0.25, comparisons_per_prompt=2)
    est = estimate(CostInputs(**base, dataset_prompts=20))
    # G = T = 100 rollouts * 100 = 10,000 tokens; 200 s of generation, 100 s of training, at $3.6/h = $0.001/s.
    assert est.line("inference").cost == approx(0.2)
    assert est.line("training updates").cost == approx(0.1)
    assert est.total_usd == approx(0.3)
    cmp_ = est.comparison
    assert cmp_ is not None
    # 50 prompts drawn, but only 20 distinct: 20 * 2 comparisons * $0.25 = $10.
    assert (cmp_.prompts, cmp_.comparisons, cmp_.label_usd) == (20, 40, approx(10.0))
    assert cmp_.ratio == approx(10 / 0.3)
    assert cmp_.break_even_label_cost == approx(0.3 / 40)
    assert cmp_.break_even_prompts == approx(0.3 / 0.5)
    assert "20 distinct prompts" in cmp_.note
    # Without a dataset size every drawn prompt is labelled; --label-prompts overrides both.
    assert estimate(CostInputs(**base)).comparison.prompts == 50
    cheap = estimate(CostInputs(**{**base, "label_cost": 0.01}, label_prompts=5)).comparison
    assert (cheap.prompts, cheap.label_usd, cheap.cheaper) == (5, approx(0.1), "labels")
    assert cheap.ratio == approx(0.1 / 0.3)


def test_train_factor_scales_training_only() -> None:
    base = dict(tokens_per_rollout=100, k=2, prompts_per_step=5, steps=10, gpu_hour_rate=3.6, throughput=50)
    three, four = estimate(CostInputs(**base)), estimate(CostInputs(**base, train_factor=4))
    # 10,000 tokens at 50/3 tok/s = 600 s ($0.6); at 50/4 tok/s = 800 s ($0.8).
    assert three.line("training updates").cost == approx(0.6)
    assert four.line("training updates").cost == approx(0.8)
    assert four.line("inference").cost == three.line("inference").cost == approx(0.2)


def test_to_dict_is_json_and_complete() -> None:
    d = json.loads(json.dumps(estimate(CostInputs(**GPU_PLAN)).to_dict(), allow_nan=False))
    assert d["mode"] == "gpu_hours"
    assert [line["name"] for line in d["lines"]] == [
        "rollouts", "generated tokens", "inference", "training updates", "verifier compute",
        "verifier wall-clock", "engineering",
    ]
    assert set(d["lines"][0]) == {"name", "quantity", "unit", "rate", "cost", "note"}
    assert d["totals"]["total_usd"] == approx(4945.635556, abs=1e-6)
    assert d["wall_clock"]["total_hours"] == approx(58.476444, abs=1e-6)
    assert d["comparison"]["cheaper"] == "rlvr"
    assert d["inputs"]["k"] == 8


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gpu_hour_rate": None, "throughput": None}, "give either --usd-per-1k-tokens or both --gpu-hour-rate and --throughput"),
        ({"usd_per_1k_tokens": 0.1}, "not both"),
        ({"throughput": None}, "--gpu-hour-rate needs --throughput"),
        ({"gpu_hour_rate": None}, "--throughput needs --gpu-hour-rate"),
        ({"k": 0}, "--k must be >= 1, got 0"),
        ({"steps": -3}, "--steps must be >= 1"),
        ({"workers": 0}, "--workers must be >= 1"),
        ({"throughput": 0.0}, "--throughput must be > 0"),
        ({"gpu_hour_rate": -1.0}, "--gpu-hour-rate must be > 0"),
        ({"label_cost": 0.0}, "--label-cost must be > 0"),
        ({"verifier_seconds": -0.1}, "--verifier-seconds must be >= 0"),
        ({"eng_rate": -5}, "--eng-rate must be >= 0"),
        ({"train_factor": 0}, "--train-factor must be > 0"),
        ({"prompt_tokens": -1}, "--prompt-tokens must be >= 0"),
        ({"throughput": float("nan")}, "--throughput must be a finite number"),
        ({"tokens_per_rollout": 512.5}, "--tokens-per-rollout must be a whole number"),
        ({"k": True}, "--k must be a whole number"),
        ({"train_usd_per_1k_tokens": 0.1}, "--train-usd-per-1k-tokens only applies with --usd-per-1k-tokens"),
        ({"usd_per_1k_prompt_tokens": 0.1}, "--usd-per-1k-prompt-tokens only applies with --usd-per-1k-tokens"),
        ({"label_cost": None, "label_prompts": 10}, "--label-prompts needs --label-cost"),
        ({"dataset_prompts": 0}, "--dataset-prompts must be >= 1"),
    ],
)
def test_validation_names_the_fix(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CostInputs(**{**GPU_PLAN, **changes})
    assert message in str(info.value)


def test_train_throughput_refused_in_per_token_mode() -> None:
    with pytest.raises(ConfigError, match="--train-throughput only applies with --gpu-hour-rate"):
        CostInputs(tokens_per_rollout=1, prompts_per_step=1, steps=1, usd_per_1k_tokens=1.0, train_throughput=10.0)


# -- the command ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.callback()
    def _root() -> None:
        """Test root, so that ``cost`` is a subcommand as under ``rlvr``."""

    register(app)
    return app


def invoke(app: typer.Typer, *args: str):
    result = CliRunner().invoke(app, ["cost", *map(str, args)], env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_cli_table_and_comparison(app: typer.Typer) -> None:
    result = invoke(app, *GPU_ARGS)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "RLVR cost estimate (GPU-hour pricing)" in out
    for text in ("$36.41", "$109.23", "$4,800.00", "$145.64", "$4,945.64", "$0.2913", "$0.5689", "58.48",
                 "131,072,000", "256,000", "0.222"):
        assert text in out, text
    assert "RLVR vs preference labels" in out
    for text in ("$16,000.00", "3.24x", "RLVR is cheaper", "$0.1546", "9,891"):
        assert text in out, text


def test_cli_json_matches_the_model(app: typer.Typer) -> None:
    result = invoke(app, *GPU_ARGS, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # JSON only: nothing else on stdout
    expected = estimate(CostInputs(**GPU_PLAN)).to_dict()
    assert report["totals"] == approx(expected["totals"])
    assert report["lines"] == expected["lines"]
    assert report["comparison"]["label_usd"] == 16_000.0
    assert report["from_config"] is None


def test_cli_no_comparison_without_label_cost(app: typer.Typer) -> None:
    result = invoke(app, "--tokens-per-rollout", "100", "--prompts-per-step", "3", "--steps", "4",
                    "--usd-per-1k-tokens", "0.01")
    assert result.exit_code == 0, result.output
    assert "$/1K-token pricing" in result.stdout and "preference labels" not in result.stdout
    # 8 * 3 * 4 = 96 rollouts * 100 tokens = 9.6K tokens at $0.01 = $0.096.
    assert "$0.096" in result.stdout
    assert "note: training updates are not priced" in result.stdout


def test_cli_help_has_examples_and_assumptions(app: typer.Typer) -> None:
    result = invoke(app, "--help")
    assert result.exit_code == 0
    out = " ".join(result.stdout.split())
    assert "Examples: rlvr cost --tokens-per-rollout 512" in out
    assert "rlvr cost --from-config" in out
    assert "Kaplan et al. 2020" in out and "throughput / 3" in out
    assert "--label-cost" in out and "--from-config" in out


def write_config(path: Path, rollout: str = "", extra: str = "") -> Path:
    path.write_text(
        '[model]\nname = "tiny"\n[data]\ntask = "arithmetic"\nn_prompts = 40\n'
        f"[run]\nsteps = 30\n[rollout]\nprompts_per_step = 6\ngroup_size = 4\nmax_new_tokens = 16\n{rollout}\n{extra}"
    )
    return path


def test_from_config_reads_the_plan_and_flags_win(app: typer.Typer, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "train.toml", extra="[optim]\nepochs = 2\n")
    result = invoke(app, "--from-config", cfg, "--usd-per-1k-tokens", "1", "--label-cost", "1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    inputs = report["inputs"]
    assert (inputs["k"], inputs["prompts_per_step"], inputs["steps"], inputs["tokens_per_rollout"]) == (4, 6, 30, 16)
    assert (inputs["epochs"], inputs["dataset_prompts"]) == (2, 40)
    # 4 * 6 * 30 = 720 rollouts * 16 tokens = 11,520 tokens at $1/1K = $11.52.
    assert report["totals"]["compute_usd"] == approx(11.52)
    assert report["comparison"]["prompts"] == 40  # 180 drawn, 40 in the dataset
    assert any("max_new_tokens, an upper bound" in n for n in report["notes"])
    assert report["from_config"] == str(cfg)

    result = invoke(app, "--from-config", cfg, "--usd-per-1k-tokens", "1", "--k", "16", "--tokens-per-rollout", "10",
                    "--json")
    report = json.loads(result.stdout)
    assert (report["inputs"]["k"], report["inputs"]["tokens_per_rollout"]) == (16, 10)
    assert report["totals"]["compute_usd"] == approx(16 * 6 * 30 * 10 / 1000)
    assert not any("max_new_tokens" in n for n in report["notes"])


def test_from_config_dataset_file_and_caveats(app: typer.Typer, tmp_path: Path) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "answer": str(i + 1)}) + "\n" for i in range(7)))
    cfg = tmp_path / "train.toml"
    cfg.write_text(
        '[model]\nname = "tiny"\n[data]\npath = "prompts.jsonl"\n[rollout]\nmax_new_tokens = 8\n'
        "dynamic_sampling = true\n[loss]\nbeta = 0.04\n"
    )
    result = invoke(app, "--from-config", cfg, "--gpu-hour-rate", "1", "--throughput", "10", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # rlvr train's defaults apply: group_size 8, prompts_per_step 16, steps 50.
    assert (report["inputs"]["k"], report["inputs"]["prompts_per_step"], report["inputs"]["steps"]) == (8, 16, 50)
    assert report["inputs"]["dataset_prompts"] == 7  # lines in the relative data path
    notes = " ".join(report["notes"])
    assert "dynamic sampling is on" in notes and "KL reference model" in notes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read config"),
        ("[rollout\ngroup_size = 4", "invalid TOML"),
        ('[model]\nname = "tiny"\n[data]\ntask = "arithmetic"\n[rollout]\ngroup_size = 1\n', "group_size must be >= 2"),
        ('[model]\nname = "tiny"\n[data]\ntask = "arithmetic"\n[rollout]\ngroupsize = 4\n', "did you mean 'group_size'"),
    ],
)
def test_from_config_errors_are_one_line(app: typer.Typer, tmp_path: Path, content: str | None, message: str) -> None:
    cfg = tmp_path / "train.toml"
    if content is not None:
        cfg.write_text(content)
    result = invoke(app, "--from-config", cfg, "--usd-per-1k-tokens", "1")
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {cfg}") and message in errors[0], result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: give --tokens-per-rollout, --prompts-per-step, --steps (or --from-config FILE"),
        (("--tokens-per-rollout", "8", "--prompts-per-step", "2", "--steps", "3"),
         "error: give either --usd-per-1k-tokens or both --gpu-hour-rate and --throughput"),
        (("--tokens-per-rollout", "8", "--prompts-per-step", "2", "--steps", "3", "--gpu-hour-rate", "2"),
         "error: --gpu-hour-rate needs --throughput"),
        (("--tokens-per-rollout", "-8", "--prompts-per-step", "2", "--steps", "3", "--usd-per-1k-tokens", "1"),
         "error: --tokens-per-rollout must be >= 1, got -8"),
        (("--tokens-per-rollout", "8", "--prompts-per-step", "2", "--steps", "3", "--usd-per-1k-tokens", "1",
          "--workers", "0"), "error: --workers must be >= 1"),
        (("--tokens-per-rollout", "8", "--prompts-per-step", "2", "--steps", "3", "--usd-per-1k-tokens", "inf"),
         "error: --usd-per-1k-tokens must be a finite number"),
    ],
)
def test_cli_bad_input_exits_1_with_one_line(app: typer.Typer, args: tuple[str, ...], message: str) -> None:
    result = invoke(app, *args)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
