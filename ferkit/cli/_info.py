"""``ferkit info``: versions, where the shipped data and models are, and the devices seen."""

from __future__ import annotations

import platform
import sys
from importlib import metadata, resources

from ferkit.cli import _common

_PACKAGES = (
    "numpy", "scikit-learn", "scipy", "pandas", "tensorflow", "tensorflow-cpu", "keras",
    "scikeras", "scikit-image", "matplotlib", "optuna", "pillow", "h5py",
)


def register(subparsers) -> None:
    """Add the ``info`` subcommand."""
    parser = _common.add_command(
        subparsers, "info", run,
        summary="versions, the shipped data and models, and whether TensorFlow sees a GPU",
        description="Show ferkit's and its dependencies' versions, where the shipped sample "
                    "and pretrained models are, and which devices TensorFlow sees.",
    )
    parser.add_argument(
        "--no-devices", action="store_true",
        help="skip the device check (it imports TensorFlow, which takes a few seconds)",
    )


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _size(path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def run(args) -> int:
    """Print the information; returns the exit status."""
    import ferkit
    from ferkit._pretrained import PRETRAINED, available_pretrained

    root = resources.files("ferkit")
    print(f"ferkit {ferkit.__version__}  ({root})")
    print(f"python {platform.python_version()}  ({sys.executable}) on {platform.platform()}")
    print()
    print("packages:")
    for name in _PACKAGES:
        version = _version(name)
        if version is not None:
            print(f"  {name:<14} {version}")
    print()
    sample = root.joinpath("datasets", "data", "fer2013_sample.npz")
    if sample.is_file():
        print(f"shipped sample: {sample} ({_size(sample)}; ferkit.datasets.load_sample(), "
              "656 PublicTest faces, 100 per emotion, 56 disgust)")
    else:
        print(f"shipped sample: missing (expected at {sample})")
    folder = root.joinpath("pretrained")
    present = available_pretrained()
    print(f"pretrained models: {folder}")
    for name, what in PRETRAINED.items():
        state = "installed" if name in present else "missing"
        print(f"  {name:<10} {state:<10} {what}")
    print()
    if args.no_devices:
        print("devices: not checked (--no-devices)")
        return 0
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    print(f"tensorflow {tf.__version__}: built with CUDA: {tf.test.is_built_with_cuda()}")
    if gpus:
        print(f"GPU: yes, {len(gpus)} visible: {', '.join(g.name for g in gpus)}")
    else:
        print("GPU: none visible (training runs on the CPU)")
    return 0
