"""Build ferkit's embedded sample from FER2013's PublicTest split: 100 faces per emotion.

No shipped network was trained on PublicTest, so the sample can fairly test them and small
models built on them. It is not a perfectly clean test set: PublicTest chose the epochs the
shipped models kept. PublicTest holds only 56 disgust faces, so the sample takes all of them
(656 faces in all); the rest of PublicTest (``member`` names the faces taken) stays a
held-out set, as ``benchmarks/bench_small_data.py`` uses it.

Run from the project root (needs ``../shared/data/fer2013-images.zip``)::

    python scripts/make_sample.py

The faces are picked at random with a fixed seed, so the file is reproducible.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ferkit._emotions import EMOTIONS

PER_EMOTION = 100
SEED = 2013
SPLIT = "test"  # the image archive's folder for PublicTest
ARCHIVE = Path("../shared/data/fer2013-images.zip")
OUT = Path("ferkit/datasets/data/fer2013_sample.npz")


def main() -> int:
    rng = np.random.default_rng(SEED)
    images, codes, names = [], [], []
    with zipfile.ZipFile(ARCHIVE) as archive:
        members = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
        for code, emotion in enumerate(EMOTIONS):
            pool = [n for n in members if n.startswith(f"{SPLIT}/{emotion}/")]
            size = min(PER_EMOTION, len(pool))
            for name in sorted(rng.choice(pool, size=size, replace=False)):
                with Image.open(io.BytesIO(archive.read(name))) as img:
                    images.append(np.asarray(img.convert("L"), dtype=np.uint8))
                codes.append(code)
                names.append(name)
            if size < PER_EMOTION:
                print(f"{emotion}: only {size} faces in {SPLIT}/, all taken")
    np.savez_compressed(
        OUT, images=np.stack(images), codes=np.asarray(codes, dtype=np.uint8),
        members=np.asarray(names),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB, {len(images)} faces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
