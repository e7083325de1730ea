"""The firing regime LSUV leaves, for several targets, on ONE build of an MNIST network (issue 21).

    python benchmarks/screens/lsuv_targets.py small '0,1,0;-1,1,0;0,1,20' [BUILD_DIR]

Each target is 'u_mean,u_std,rate_hz' (rate_hz 0: the u_mean target; otherwise the mean-rate target). For
each, LSUV starts again from the network's drawn weights, measured on the same 16 training digits (learning
and dropout off), and the per-layer rate distribution after it is printed: mean, median, 95th percentile,
fraction above 300 Hz, fraction silent.
"""
import sys

from brian_decolle import devices, mnist
from brian_decolle.classifier import OnlineClassifier
from brian_decolle.initialisation import lsuv
from brian_decolle.training import _Runs, activity_of

N_MEASURED = 16


def main(network: str, targets: str, build_dir: str = "/tmp/lsuv_targets_build") -> None:
    study = mnist.preset(network)
    cfg, schedule, seed = study.network, study.schedule, study.network.seed
    source, _, _ = mnist.make_source(study)
    clf = OnlineClassifier(cfg, source.n_classes, schedule.steps(cfg).test, target=devices.Target(build_dir=build_dir))
    measure = activity_of(_Runs(clf, schedule, source), N_MEASURED, seed)

    for target in targets.split(";"):
        u_mean, u_std, rate = map(float, target.split(","))
        _, log = lsuv(clf.dn, clf.initial_state(), measure, tolerance=0.05, iterations=8, seed=seed,
                      report=lambda line: None, u_mean=u_mean, u_std=u_std, rate_hz=rate or None)
        for layer, entry in log.items():
            after = entry["after"]
            print(f"target u_mean {u_mean} u_std {u_std} rate {rate or '-'}: layer {layer}: "
                  f"u mean {after['u_mean']:.2f} std {after['u_std']:.2f}, rate {after['rate_hz']:.1f} Hz, "
                  f"median {after['rate_median_hz']:.1f}, "
                  f"p95 {after['rate_p95_hz']:.0f}, above 300 Hz {after['fast_fraction']:.1%}, "
                  f"silent {after['silent_fraction']:.1%}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
