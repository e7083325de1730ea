"""A SYNTHETIC stand-in for DVS Gesture, written in tonic's exact on-disk layout.

The real set (IBM DVS Gesture) is large and cannot be fetched on machines
without internet, so this writes 11 classes of moving event blobs that tonic
and :class:`brian_decolle.data.gestures.GestureFrames` read like the real set,
so that the whole pipeline runs and can be tested anywhere. It is not the real
data and says so: a SYNTHETIC.txt marker, a README in each archive, and every
study output made from it.

    python -m brian_decolle.data.synthetic_gestures ROOT --seed N
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..checks import ConfigError, check_count, check_positive
from .gestures import ARCHIVES, MARKER, MIN_FILES, N_CLASSES, SENSOR, is_synthetic

_SYNTHETIC_CLASSES = (
    "two blobs meeting and parting (clap)",
    "blob waving left-right, upper right (right hand wave)",
    "blob waving left-right, upper left (left hand wave)",
    "clockwise circle, right half (right arm cw)",
    "counter-clockwise circle, right half (right arm ccw)",
    "clockwise circle, left half (left arm cw)",
    "counter-clockwise circle, left half (left arm ccw)",
    "two blobs rolling around each other, centre (arm roll)",
    "two blobs beating up-down in antiphase, low (air drums)",
    "fast vertical strum right plus slow blob left (air guitar)",
    "smooth random trajectory (other gestures)",
)


def _gesture_path(label: int, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """Blob centres (n_blobs, len(t), 2) in pixels at times t (s), for one jittered sample of `label`.

    Classes differ in where (left/right/centre), how (circle, sweep, pair) and in
    which sense they move; speed, phase, size and position are jittered per sample
    so that no single frame gives the class away.
    """
    omega = 2 * np.pi * rng.uniform(0.8, 1.25)       # about one cycle per second
    phase = rng.uniform(0, 2 * np.pi)
    size = rng.uniform(0.85, 1.15)
    shift = rng.uniform(-8, 8, size=2)
    wander = (rng.uniform(0.3, 1.5, (2, 3)), rng.uniform(4, 12, (2, 3)), rng.uniform(0, 2 * np.pi, (2, 3)))

    def blob(cx, cy, dx, dy) -> np.ndarray:
        return np.stack(np.broadcast_arrays(cx + shift[0] + size * dx, cy + shift[1] + size * dy), axis=-1)

    def path(t: np.ndarray) -> np.ndarray:
        s = omega * t + phase
        if label == 0:
            gap = 6 + 8 * (1 + np.cos(2 * s))
            return np.stack([blob(64, 64, -gap, 0), blob(64, 64, gap, 0)])
        if label in (1, 2):
            return blob(88 if label == 1 else 40, 36, 14 * np.sin(2 * s), 0)[None]
        if label in (3, 4, 5, 6):
            sense = 1 if label in (3, 5) else -1      # y grows downwards: +angle is clockwise on screen
            cx = 88 if label in (3, 4) else 40
            return blob(cx, 64, 18 * np.cos(sense * s), 18 * np.sin(sense * s))[None]
        if label == 7:
            return np.stack([blob(64, 72, 10 * np.cos(2 * s + k), 10 * np.sin(2 * s + k)) for k in (0, np.pi)])
        if label == 8:
            return np.stack([blob(48, 84, 0, 10 * np.sin(2 * s)), blob(80, 84, 0, -10 * np.sin(2 * s))])
        if label == 9:
            return np.stack([blob(76, 76, 0, 12 * np.sin(2.5 * s)), blob(36, 56, 4 * np.sin(0.5 * s), 0)])
        freq, amp, ph = wander
        dx, dy = ((amp[k, :, None] * np.sin(2 * np.pi * freq[k, :, None] * t + ph[k, :, None])).sum(0)
                  for k in (0, 1))
        return blob(64, 64, dx, dy)[None]

    return path


def _synthetic_recording(label: int, duration_ms: float, rate: float, noise_fraction: float,
                         rng: np.random.Generator) -> np.ndarray:
    """One recording as tonic stores it: float64 rows (x, y, p, t[ms]), sorted by t."""
    path = _gesture_path(label, rng)
    sigma = rng.uniform(2.5, 4.0)
    n = rng.poisson(rate * duration_ms / 1000)
    n_noise = rng.binomial(n, noise_fraction)
    t = rng.uniform(0, duration_ms, n - n_noise)
    centres = path(t / 1000)
    velocity = path(t / 1000 + 1e-3) - centres
    which = rng.integers(0, len(centres), len(t))
    offset = rng.normal(0, sigma, (len(t), 2))
    xy = centres[which, np.arange(len(t))] + offset
    # a moving edge: ON events ahead of the blob, OFF events behind it, as a DVS sees a bright hand
    p = (offset * velocity[which, np.arange(len(t))]).sum(1) > 0
    xy = np.concatenate([xy, rng.uniform(0, SENSOR[0], (n_noise, 2))])
    p = np.concatenate([p, rng.random(n_noise) < 0.5])
    # real recordings are cut out of longer ones, so they do not start at t = 0; ms precision like tonic's copy
    t = np.floor(np.concatenate([t, rng.uniform(0, duration_ms, n_noise)]) + rng.integers(0, 5000))
    xy = np.floor(xy)
    keep = ((xy >= 0) & (xy < SENSOR[0])).all(1)
    events = np.column_stack([xy[keep], p[keep], t[keep]]).astype(np.float64)
    return events[np.argsort(events[:, 3], kind="stable")]


def _readme_archive(path: Path, text: str) -> None:
    """A real tar.gz holding only a README, so that tonic's presence check passes honestly."""
    data = text.encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("README_SYNTHETIC.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def write_synthetic_gestures(root: str | os.PathLike, *, seed: int = 0,
                             duration_ms: tuple[float, float] = (2000.0, 2500.0),
                             events_per_second: float = 2000.0, noise_fraction: float = 0.1,
                             lightings: int = 2, train_users: Sequence[int] = range(1, 24),
                             test_users: Sequence[int] = range(24, 30)) -> Path:
    """Write a synthetic DVS Gesture stand-in under root/DVSGesture/ in tonic's layout; return root.

    11 classes of moving event blobs (see SYNTHETIC.txt), one file per class in
    each root/DVSGesture/ibmGesture{Train,Test}/userNN_synthetic<k>/ folder, users
    1-23 train and 24-29 test as in the real set. Each file depends only on
    (seed, user, k, label). Durations are drawn uniformly from duration_ms.
    Refuses to write into a DVSGesture/ folder that is not synthetic.
    """
    check_count("lightings", lightings)
    check_positive("events_per_second", events_per_second)
    lo, hi = duration_ms
    check_positive("duration_ms[0]", lo)
    if not hi >= lo:
        raise ConfigError(f"duration_ms={duration_ms!r} must be (shortest, longest)")
    if not 0 <= noise_fraction < 1:
        raise ConfigError(f"noise_fraction={noise_fraction!r} must lie in [0, 1)")
    for name, users in (("train_users", train_users), ("test_users", test_users)):
        if len(users) * lightings * N_CLASSES < MIN_FILES:
            raise ConfigError(f"{name}={list(users)!r} x lightings={lightings} x {N_CLASSES} classes gives fewer "
                              f"than the {MIN_FILES} files tonic needs to accept a split")
    base = Path(root) / "DVSGesture"
    if base.exists() and any(base.iterdir()) and not is_synthetic(root):
        raise ConfigError(f"root={str(root)!r} already holds a DVSGesture/ folder that is not synthetic; "
                          "refusing to write synthetic data into it")
    base.mkdir(parents=True, exist_ok=True)
    settings = dict(seed=seed, duration_ms=list(duration_ms), events_per_second=events_per_second,
                    noise_fraction=noise_fraction, lightings=lightings,
                    train_users=list(train_users), test_users=list(test_users))
    note = ("SYNTHETIC DATA - NOT the IBM DVS Gesture recordings.\n"
            "Written by brian_decolle.data.synthetic_gestures in tonic's DVSGesture layout so the\n"
            "gesture study runs without the real set. Moving Gaussian blobs of events on a 128x128 sensor;\n"
            "ON events lead, OFF events trail the motion; uniform noise events; per-sample jitter of speed,\n"
            "phase, size and position. Results on it say nothing about the real benchmark.\n\n"
            "Classes:\n" + "".join(f"  {k:2d}: {c}\n" for k, c in enumerate(_SYNTHETIC_CLASSES))
            + "\nSettings: " + json.dumps(settings) + "\n")
    (base / MARKER).write_text(note)
    for split, users in (("train", train_users), ("test", test_users)):
        folder = base / ARCHIVES[split]
        shutil.rmtree(folder, ignore_errors=True)     # only ever a synthetic folder (checked above)
        _readme_archive(base / f"{ARCHIVES[split]}.tar.gz", note)
        for user in users:
            for k in range(1, lightings + 1):
                sample_dir = folder / f"user{user:02d}_synthetic{k}"
                sample_dir.mkdir(parents=True)
                for label in range(N_CLASSES):
                    rng = np.random.default_rng([seed, user, k, label])
                    duration = rng.uniform(lo, hi)
                    events = _synthetic_recording(label, duration, events_per_second, noise_fraction, rng)
                    np.save(sample_dir / f"{label}.npy", events)
    return Path(root)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the SYNTHETIC DVS Gesture stand-in (not real data) "
                                                 "in tonic's layout under ROOT/DVSGesture/.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("root", nargs="?", default="synthetic_dvsgesture", help="folder to write into")
    parser.add_argument("--seed", type=int, default=0, help="seed of every recording")
    args = parser.parse_args(argv)
    print(f"SYNTHETIC DVS Gesture stand-in written to {write_synthetic_gestures(args.root, seed=args.seed)}")


if __name__ == "__main__":
    main()
