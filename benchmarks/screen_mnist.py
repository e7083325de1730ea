"""One short screen of a Poisson-MNIST setting, for recipe searches (issue 21).

    python benchmarks/screen_mnist.py OUT '{"network": {"lr": 1e-4}, "schedule": {"init_rate_hz": 40}}' [small|paper]

Any field of the composed config can be set, also those the command line does not offer (layer_sizes,
output_layer). The screen's own defaults: 602 training samples, validation accuracy (150 held-out training
digits) after 300 and 600 samples, a final test on only 100 test digits (screens choose on the validation
split), cpp_standalone with its builds in OUT/build and OUT/build_test, deleted at the end.
"""
import dataclasses
import json
import shutil
import sys
from pathlib import Path

from brian_decolle import devices, mnist

SCREEN = {"schedule": {"train_samples": 602, "eval_every": 300, "eval_samples": 150}, "data": {"n_test": 100}}


def main(out: str, changes: dict, preset: str = "small") -> dict:
    study = mnist.preset(preset)
    parts = {}
    for part in ("network", "schedule", "data"):
        values = {**SCREEN.get(part, {}), **changes.get(part, {})}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        parts[part] = dataclasses.replace(getattr(study, part), **values)
    study = dataclasses.replace(study, **parts)
    shutil.rmtree(out, ignore_errors=True)
    try:
        return mnist.run(study, out, target=devices.Target(build_dir=str(Path(out) / "build")))
    finally:
        for build in ("build", "build_test"):
            shutil.rmtree(Path(out) / build, ignore_errors=True)


if __name__ == "__main__":
    summary = main(sys.argv[1], json.loads(sys.argv[2]), *sys.argv[3:])
    print(json.dumps([e["accuracy_per_layer"] for e in summary["evaluations"]]))
