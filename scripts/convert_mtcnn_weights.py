"""Convert the MTCNN face detector's weights from the ``mtcnn`` package to ferkit's ``.npz``.

The ``mtcnn`` package (1.0, MIT licence, by Iván de Paz Centeno; the networks are those of
Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", 2016) stores its three networks' weights as joblib files (``pnet.lz4``...). joblib
is pickle: loading one runs whatever code the file names. ferkit never loads pickle, so this
script does it once, on a maintainer's machine, and writes plain arrays to
``ferkit/pretrained/mtcnn-face-detector/weights.npz``, which ferkit reads with
``numpy.load(allow_pickle=False)``. The package's licence is copied beside it.

The ``mtcnn`` package is not a dependency of ferkit; install it (and ``lz4``) anywhere, for
example ``pip install --target /tmp/mtcnn_pkg --no-deps mtcnn lz4``, then run from the
project root::

    PYTHONPATH=/tmp/mtcnn_pkg python scripts/convert_mtcnn_weights.py

Array names are ``<network>/<index>:<shape role>`` in Keras' ``get_weights`` order, the order
:mod:`ferkit.faces._mtcnn` reads them in; the script checks each network's shapes against
that module's table so a change upstream fails here rather than at detection time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ferkit.faces._mtcnn import EXPECTED_SHAPES, WEIGHTS_DIR  # noqa: E402


def main() -> int:
    import joblib  # only here: the one place ferkit's tree ever unpickles, offline, by hand

    version = importlib.metadata.version("mtcnn")
    assets = importlib.resources.files("mtcnn.assets.weights")
    arrays: dict[str, np.ndarray] = {}
    for network, shapes in EXPECTED_SHAPES.items():
        weights = joblib.load(assets / f"{network}.lz4")
        got = [tuple(w.shape) for w in weights]
        if got != [tuple(s) for s in shapes]:
            raise SystemExit(f"{network}: unexpected shapes {got}; expected {shapes}")
        for i, w in enumerate(weights):
            arrays[f"{network}_{i:02d}"] = np.ascontiguousarray(w, dtype=np.float32)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    target = WEIGHTS_DIR / "weights.npz"
    np.savez(target, **arrays)  # uncompressed: read with allow_pickle=False, no code runs
    licence = Path(importlib.metadata.distribution("mtcnn").locate_file(
        f"mtcnn-{version}.dist-info/LICENSE"))
    (WEIGHTS_DIR / "LICENSE").write_text(
        f"Weights converted from the mtcnn package {version} "
        "(https://github.com/ipazc/mtcnn) by scripts/convert_mtcnn_weights.py.\n\n"
        + licence.read_text()
    )
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"wrote {target} ({target.stat().st_size} bytes, sha256 {digest}) from mtcnn "
          f"{version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
