"""The original work's task, end to end: angry, happy or sad?

Loads the three emotions, trains a pipeline (ImageReshaper -> PixelScaler ->
FacialExpressionClassifier), and prints the per-class report on held-out faces. Pictures
(learning curves and confusion matrices) are written only when you ask for them with
``--plots``.

Run from the repository root::

    .venv/bin/python examples/three_emotions.py
    .venv/bin/python examples/three_emotions.py --plots three-emotions-plots/
    .venv/bin/python examples/three_emotions.py --data ../shared/data/fer2013-images.zip

Without ``--data`` it uses the sample shipped with ferkit: 100 faces per emotion, trained on
three quarters and tested on the rest in under a minute. That is far too few faces for a good
model: expect an accuracy around 45%, against 33% by chance. With ``--data`` (FER2013 in any form
``ferkit.datasets.load_fer2013`` reads) it trains the default recipe on the Training split and
tests on PublicTest, as the original work did: about half an hour on two CPU cores.
Set FERKIT_EXAMPLE_FAST=1 to train a tiny network for two epochs instead (for smoke tests).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up messages

from sklearn.model_selection import train_test_split

import ferkit
from ferkit.datasets import load_fer2013, load_sample
from ferkit.plotting import save_figures

FAST = os.environ.get("FERKIT_EXAMPLE_FAST") == "1"
TINY = dict(filters=(4, 8), dense_units=(8,), epochs=2)
# For 225 training faces: a narrower network, smaller batches, and all 30 epochs (with so
# few validation faces, the validation loss is too noisy to stop early on).
SAMPLE = dict(filters=(16, 32, 64), dense_units=(64,), batch_size=32, epochs=30,
              early_stopping_patience=None)
# For the full data: the default network with the training recipe (see ferkit.PRESETS), as
# the pretrained "fer2013-3" model was trained (docs/model_card.md).
FULL = dict(preset="default", epochs=30)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", metavar="PATH", help="FER2013 (zip, folder or CSV) instead of the sample"
    )
    parser.add_argument(
        "--plots", metavar="DIR", help="write learning curves and confusion matrices here"
    )
    args = parser.parse_args(argv)

    emotions = ferkit.THREE_EMOTIONS  # ("angry", "happy", "sad")
    if args.data:
        faces = load_fer2013(args.data, emotions=emotions, usage=["Training", "PublicTest"])
        train = faces.usage == "Training"
        X_train, y_train = faces.data[train], faces.target[train]
        X_test, y_test = faces.data[~train], faces.target[~train]
        params = FULL
    else:
        faces = load_sample(emotions=emotions)
        X_train, X_test, y_train, y_test = train_test_split(
            faces.data, faces.target, test_size=0.25, stratify=faces.target, random_state=0
        )
        params = SAMPLE
    print(f"{len(X_train)} training faces, {len(X_test)} test faces, "
          f"emotions {list(faces.target_names)}")

    model = ferkit.make_fer_pipeline(random_state=0, **(TINY if FAST else params))
    model.fit(X_train, y_train)
    clf = model.named_steps["clf"]
    print(f"trained {clf.n_epochs_} epochs; last validation accuracy "
          f"{clf.history_['val_accuracy'][-1]:.3f}\n")

    print(ferkit.report(model, X_test, y_test))

    if args.plots:
        written = save_figures(
            model, X_test, y_test, args.plots,
            figures=("learning_curves", "confusion_matrix", "confusion_matrix_normalized"),
        )
        print()
        for path in written.values():
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
