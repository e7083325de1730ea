"""Disk use and time of the gesture frame cache: ours (sparse entries, one npz per split) against
tonic's DiskCachedDataset (one lzf-compressed HDF5 file of dense frames per recording), for the
same recordings and the same transform (pooled to 32x32, 1 ms frames).

    python benchmarks/frame_cache.py [--events-per-second 2000]

Runs on the SYNTHETIC gesture stand-in (written into a temporary folder): the real set is not on
these machines. Prints one JSON line.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import tonic

from brian_decolle.data.gestures import GestureFrames, GesturePreprocessing, _tonic_dataset
from brian_decolle.data.synthetic_gestures import write_synthetic_gestures


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-second", type=float, default=2000.0)
    args = parser.parse_args()
    prep = GesturePreprocessing()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_gestures(Path(tmp) / "synthetic", events_per_second=args.events_per_second,
                                        train_users=range(1, 6), test_users=range(24, 29))
        start = time.perf_counter()
        ours = GestureFrames(root, "train", prep, cache_dir=Path(tmp) / "ours")
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        cached = tonic.DiskCachedDataset(_tonic_dataset(root, "train", prep), cache_path=str(Path(tmp) / "tonic"))
        for i in range(len(cached)):
            cached[i]
        tonic_s = time.perf_counter() - start
        result = {"data": "SYNTHETIC gesture stand-in", "recordings": len(ours),
                  "events_per_second": args.events_per_second,
                  "ours_bytes": size(Path(tmp) / "ours"), "tonic_bytes": size(Path(tmp) / "tonic"),
                  "ours_write_s": round(ours_s, 1), "tonic_write_s": round(tonic_s, 1)}
        result["tonic_over_ours"] = round(result["tonic_bytes"] / result["ours_bytes"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
