"""A scene test set for face detection, built from scikit-image's own pictures (no download).

Each scene is one of scikit-image's photos without people (brought to 640x480) with several of
its LFW faces pasted in, 30 to 150 pixels wide, at known places. scikit-image's LFW subset
holds tight 25x25 crops (brows to chin), so each face is first padded by a quarter of its
side with its own edge pixels, and that border is blended into the background, as a head
would be; the known box is the face crop itself. Used by the tests and by
``benchmarks/bench_photos.py``.
"""

from __future__ import annotations

import numpy as np

from ferkit.faces._boxes import iou_matrix

#: scikit-image's photos without faces (``camera`` has a cameraman, ``astronaut`` a person).
BACKGROUNDS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "hubble_deep_field",
               "immunohistochemistry", "moon", "page", "clock", "coins")
SCENE_SIZE = (640, 480)  # width, height
FACE_SIDES = (30, 150)


def _background(name: str) -> np.ndarray:
    from PIL import Image
    from skimage import data

    image = Image.fromarray(getattr(data, name)()).convert("RGB")
    return np.asarray(image.resize(SCENE_SIZE, Image.Resampling.BILINEAR))


def _patch(face: np.ndarray, side: int, rng) -> tuple[np.ndarray, np.ndarray, int]:
    """A face as an RGB patch with its padded border, the blending weights, and the pad."""
    from PIL import Image

    pad = max(2, side // 4)
    gray = np.clip(face * float(rng.uniform(0.75, 1.15)) * 255, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        gray = gray[:, ::-1]
    gray = np.asarray(Image.fromarray(np.ascontiguousarray(gray)).resize(
        (side, side), Image.Resampling.BICUBIC))
    padded = np.pad(gray, pad, mode="edge")
    # Weights fall from 1 on the face to 0 at the patch's edge, so the head blends in.
    ramp = np.minimum(np.arange(side + 2 * pad), np.arange(side + 2 * pad)[::-1]) / pad
    weight = np.clip(np.minimum.outer(ramp, ramp), 0, 1)[..., None]
    tint = rng.uniform(0.85, 1.1, size=3)  # skin is not grey
    rgb = np.clip(padded[..., None] * tint, 0, 255)
    return rgb, weight, pad


def make_scene(index: int, *, n_faces: int = 4, seed: int = 0):
    """Scene number ``index``: an RGB uint8 image and its faces' ``x, y, width, height``."""
    from skimage import data

    rng = np.random.default_rng([seed, index])
    faces = data.lfw_subset()[:100]
    scene = _background(BACKGROUNDS[index % len(BACKGROUNDS)]).astype(float)
    height, width = scene.shape[:2]
    boxes: list[list[int]] = []
    for _ in range(200):  # rejection sampling: faces apart from each other
        if len(boxes) == n_faces:
            break
        side = int(np.exp(rng.uniform(*np.log(FACE_SIDES))))
        pad = max(2, side // 4)
        x = int(rng.integers(pad, width - side - pad))
        y = int(rng.integers(pad, height - side - pad))
        if any(x < bx + bw + 2 * pad and bx < x + side + 2 * pad
               and y < by + bh + 2 * pad and by < y + side + 2 * pad
               for bx, by, bw, bh in boxes):
            continue
        rgb, weight, pad = _patch(faces[int(rng.integers(len(faces)))], side, rng)
        area = scene[y - pad:y + side + pad, x - pad:x + side + pad]
        area[:] = weight * rgb + (1 - weight) * area
        boxes.append([x, y, side, side])
    return scene.astype(np.uint8), np.asarray(boxes, dtype=float)


def make_scenes(n_scenes: int, *, n_faces: int = 4, seed: int = 0):
    """``n_scenes`` scenes: a list of ``(image, boxes)``."""
    return [make_scene(i, n_faces=n_faces, seed=seed) for i in range(n_scenes)]


def iou(box, boxes) -> np.ndarray:
    """Intersection over union of one ``x, y, w, h`` box with each of ``boxes``."""
    return iou_matrix(box, boxes)[0]


def score_detections(truth, found, *, threshold: float = 0.3) -> tuple[int, int]:
    """Faces of ``truth`` found (IoU >= ``threshold``), and detections matching no face."""
    found = np.asarray(found, dtype=float).reshape(-1, 4)
    matched = np.zeros(len(found), dtype=bool)
    hits = 0
    for box in truth:
        overlaps = iou(box, found) if len(found) else np.empty(0)
        overlaps[matched] = 0
        if len(overlaps) and overlaps.max() >= threshold:
            matched[int(np.argmax(overlaps))] = True
            hits += 1
    return hits, int((~matched).sum())
