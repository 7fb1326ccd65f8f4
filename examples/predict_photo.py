"""Emotions in real photos: find the faces, crop them FER2013-style, predict.

FER2013's faces are pre-cropped 48x48 grayscale; photos are not. This example runs the three
ways ferkit handles photos:

1. ``ferkit.detect_faces``: the boxes and landmarks of every face (MTCNN, offline);
2. ``ferkit.predict_image``: every face with its emotion and probabilities;
3. a scikit-learn pipeline ``FaceCropper -> model``: one label per photo (its largest face).

Photos are the files you name, or scikit-image's astronaut photo (kept in memory). The model
is ``--model DIR`` (saved with ``ferkit.save``), else the pretrained ``fer2013-7`` when this
installation ships it, else one trained here on the embedded sample (a weak model: expect
guesses). An annotated image is written only with ``--annotate``.

Run from the repository root::

    .venv/bin/python examples/predict_photo.py
    .venv/bin/python examples/predict_photo.py my_photo.jpg --annotate faces.png

Set FERKIT_EXAMPLE_FAST=1 to train a tiny network for two epochs (for smoke tests).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up messages

import pandas as pd
from sklearn.pipeline import make_pipeline

import ferkit
from ferkit.datasets import load_sample
from ferkit.faces import draw_faces
from ferkit.preprocessing import FaceCropper

FAST = os.environ.get("FERKIT_EXAMPLE_FAST") == "1"


def get_model(path: str | None):
    if path:
        return ferkit.load(path), f"model loaded from {path}"
    try:
        return ferkit.load_pretrained("fer2013-7"), "pretrained fer2013-7"
    except FileNotFoundError:
        faces = load_sample()
        params = dict(filters=(4, 8), dense_units=(8,), epochs=2) if FAST else dict(epochs=15)
        model = ferkit.make_fer_pipeline(random_state=0, **params)
        model.fit(faces.data, faces.target)
        return model, "trained here on the 656-face sample (pretrained model not installed)"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", help="photo files (default: skimage's astronaut)")
    parser.add_argument("--model", metavar="DIR", help="a model saved with ferkit.save")
    parser.add_argument("--annotate", metavar="OUT", help="write the first photo, annotated")
    args = parser.parse_args(argv)

    if args.photos:
        photos = {path: path for path in args.photos}
    else:
        from skimage.data import astronaut

        photos = {"astronaut (skimage.data)": astronaut()}
    model, note = get_model(args.model)
    print(f"model: {note}; emotions {list(model.classes_)}\n")

    with pd.option_context("display.width", 120, "display.precision", 2):
        for name, photo in photos.items():
            print(f"{name}: faces found by ferkit.detect_faces")
            print(ferkit.detect_faces(photo).to_string(index=False), "\n")
            table = ferkit.predict_image(model, photo)
            print(f"{name}: ferkit.predict_image")
            print(table.to_string(index=False) if len(table) else "(no face)", "\n")

    # As a pipeline step: one face per photo, the largest; photos without one are read as
    # faces already (on_missing="center"), and faces_found_ says which those were.
    cropper = FaceCropper(on_missing="center")
    labels = make_pipeline(cropper, model).predict(list(photos.values()))
    for name, label, found in zip(photos, labels, cropper.faces_found_, strict=True):
        print(f"pipeline FaceCropper -> model: {name}: {label}"
              f"{'' if found else ' (no face found: whole photo used)'}")

    if args.annotate:
        from PIL import Image

        name, photo = next(iter(photos.items()))
        Image.fromarray(draw_faces(photo, ferkit.predict_image(model, photo))).save(args.annotate)
        print(f"\nwrote {args.annotate}")


if __name__ == "__main__":
    main()
