"""Can a random reward be made to raise pass@1 on the tiny model? The random-reward control under the
update schedules of arXiv 2506.10947 (off-policy minibatches, no KL term, a fair coin), measured.

    python bench/random_control_grid.py --seeds 0,1 --out runs/random-grid

For each seed: the quick profile's data, warm-up and curation (the lab's own prep job), then only the
random-reward arm under each recipe of ``RECIPES``; its pass@1 change from the base on both test sets
(paired problem bootstrap), pass@8, entropy start -> end and KL at the end. Prints a markdown table
(the README's) and writes ``<out>/grid.json``. The recipes are the lab's own options (``rlvr lab
--off-policy``, ``--minibatches``, ``--epochs``, ``--clip-high``, ``--random-p``, ``--kl-beta``, ``--lr``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    "on-policy (lab default: KL 0.1, p = base pass rate)": {},
    "off-policy: 8 minibatches x 2 epochs, no KL, p = 0.5": {"minibatches": 8, "epochs": 2, "kl_beta": 0.0,
                                                            "random_p": 0.5},
    "off-policy + clip-higher (0.2 / 0.28)": {"minibatches": 8, "epochs": 2, "kl_beta": 0.0, "random_p": 0.5,
                                              "eps_high": 0.28},
    "off-policy + tight clip (0.1 / 0.1)": {"minibatches": 8, "epochs": 2, "kl_beta": 0.0, "random_p": 0.5,
                                            "eps_low": 0.1, "eps_high": 0.1},
    "off-policy, LR 1e-3": {"minibatches": 8, "epochs": 2, "kl_beta": 0.0, "random_p": 0.5, "learning_rate": 1e-3},
    "8 minibatches, 1 epoch, no KL, p = 0.5": {"minibatches": 8, "kl_beta": 0.0, "random_p": 0.5},
}


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def main() -> None:
    from rlvr.evaluate.pooled import pooled_compare
    from rlvr.lab.arms import prepare_seed, run_arm
    from rlvr.lab.config import lab_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1: tuning seeds)")
    ap.add_argument("--out", default="runs/random-grid")
    args = ap.parse_args()
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for s in (int(x) for x in args.seeds.split(",")):
        cfg = lab_config("quick", seed=s, seeds=1, progress=False, format_control=False, trajectory_every=0)
        seed_dir = out / f"seed{s}"
        prep = prepare_seed(cfg, seed_dir)
        for i, (name, overrides) in enumerate(RECIPES.items()):
            arm_dir = seed_dir / f"recipe{i}"
            shutil.copytree(seed_dir / "base", arm_dir / "base", dirs_exist_ok=True)
            arm = run_arm(cfg.updated(**overrides), arm_dir, "random_control", prep)
            row: dict[str, Any] = {"seed": s, "recipe": name}
            for test_set in ("in_distribution", "shifted"):
                c = pooled_compare([prep.base_outcomes[test_set]], [arm.outcomes[test_set]], [1, 8], n_boot=400)
                row[test_set] = {"pass_at_1": c.capability_gain[1], "ci": list(c.capability_gain_ci[1]),
                                 "pass_at_8": c.capability_gain[8]}
            curves = arm.run.curves
            ent, kl = curves.get("policy/entropy") or [], curves.get("policy/kl") or []
            row["entropy"] = [ent[0], ent[-1]] if ent else None
            row["kl_end"] = kl[-1] if kl else None
            rows.append(row)
    out.mkdir(parents=True, exist_ok=True)
    (out / "grid.json").write_text(json.dumps(rows, indent=1))
    print(f"Random-reward control, quick profile, seeds {args.seeds} ({time.perf_counter() - t0:.0f} s):\n")
    print("| recipe | seed | pass@1 change, in-distribution [95%] | shifted | pass@8 change | entropy | KL at end |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        i, sh = r["in_distribution"], r["shifted"]
        ent = f"{r['entropy'][0]:.2f} → {r['entropy'][1]:.2f}" if r["entropy"] else "—"
        kl = "—" if r["kl_end"] is None else f"{r['kl_end']:.3f}"
        print(f"| {r['recipe']} | {r['seed']} | {_pts(i['pass_at_1'])} [{_pts(i['ci'][0])}, {_pts(i['ci'][1])}] | "
              f"{_pts(sh['pass_at_1'])} | {_pts(i['pass_at_8'])} | {ent} | {kl} |")


if __name__ == "__main__":
    main()
