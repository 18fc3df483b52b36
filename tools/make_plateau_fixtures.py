#!/usr/bin/python3
"""Makes tests/fixtures/plateau.json: the learning rates torch.optim.lr_scheduler.ReduceLROnPlateau
sets for given metric sequences, for tests/schedule_test.cpp (cnnengine's schedule "plateau").

Run with Debian's CPU PyTorch (apt-get install python3-torch):
    /usr/bin/python3 tools/make_plateau_fixtures.py [--out tests/fixtures/plateau.json]

Each case: the cnnengine training.schedule object, the optimizer's lr, the metric after each
evaluation (accuracy in percent for metric "accuracy" = mode "max", a loss for "loss" = mode
"min"), and the lr in force after each scheduler.step(metric).
"""
import argparse
import json
import os

import torch

# accuracies that rise, stall, inch up by less than the threshold, rise again
RISING = [10.0, 20.0, 20.0, 20.001, 19.0, 25.0, 25.0, 25.0, 25.0, 25.0, 30.0, 30.0, 29.0, 28.0,
          30.0, 30.0, 30.0, 30.0, 30.0, 30.0]
# losses that fall, stall, fall by a little
FALLING = [2.3, 1.9, 1.9, 1.8999, 1.95, 1.5, 1.5, 1.5, 1.5, 1.2, 1.2, 1.21, 1.19, 1.0, 1.0, 1.0,
           1.0, 1.0]

CASES = {
    "defaults_patience_2": ({"patience": 2}, 0.1, RISING),
    "patience_0": ({"patience": 0, "factor": 0.5}, 0.1, RISING),
    "abs_threshold": ({"patience": 1, "threshold": 0.5, "threshold_mode": "abs"}, 0.1, RISING),
    "cooldown": ({"patience": 1, "cooldown": 2, "factor": 0.5}, 0.1, RISING),
    "min_lr": ({"patience": 0, "factor": 0.1, "min_lr": 0.002}, 0.1, RISING),
    "eps_stops_tiny_reductions": ({"patience": 0, "factor": 0.5, "eps": 0.02}, 0.1, RISING),
    "loss_rel": ({"metric": "loss", "patience": 1, "factor": 0.2}, 0.05, FALLING),
    "loss_abs_cooldown": ({"metric": "loss", "patience": 1, "threshold": 0.05,
                           "threshold_mode": "abs", "cooldown": 1}, 0.05, FALLING),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                      "plateau.json"))
    args = parser.parse_args()
    cases = {}
    for name, (schedule, lr, metrics) in CASES.items():
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min" if schedule.get("metric") == "loss" else "max",
            factor=schedule.get("factor", 0.1), patience=schedule.get("patience", 10),
            threshold=schedule.get("threshold", 1e-4),
            threshold_mode=schedule.get("threshold_mode", "rel"),
            cooldown=schedule.get("cooldown", 0), min_lr=schedule.get("min_lr", 0),
            eps=schedule.get("eps", 1e-8))
        lrs = []
        for m in metrics:
            scheduler.step(m)
            lrs.append(optimizer.param_groups[0]["lr"])
        cases[name] = {"schedule": dict(schedule, type="plateau"), "lr": lr, "metrics": metrics,
                       "lrs": lrs}
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
