"""MTCNN, the default face detector: three small cascaded networks, run with TensorFlow.

The networks and their weights are those of the ``mtcnn`` package 1.0 (MIT licence, Iván de
Paz Centeno; trained by Zhang et al., "Joint Face Detection and Alignment using Multi-task
Cascaded Convolutional Networks", IEEE Signal Processing Letters, 2016). That package loads
them with joblib (pickle); ferkit ships them converted once to plain arrays
(``ferkit/pretrained/mtcnn-face-detector/weights.npz``, written by
``scripts/convert_mtcnn_weights.py``) and reads them with ``allow_pickle=False``: loading runs
no code, and nothing is downloaded. The package itself is not needed.

The forward passes are written with TensorFlow ops rather than Keras layers: there are only
convolutions, PReLUs, poolings and dense layers, and one traced function per network serves
every image size, where a Keras model would retrace or pay Keras' per-call cost on each level
of the image pyramid. TensorFlow is imported on the first detection only.
"""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path

import numpy as np

#: Folder of the converted weights and their licence.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "pretrained" / "mtcnn-face-detector"

#: SHA-256 of ``weights.npz``: a damaged or replaced file is refused by name before use.
WEIGHTS_SHA256 = "332ff0d86f46906ca99e066a4fc259cfdbb4102f64948911ada9a30fe99f8cb5"

_CONV = "conv"
#: Shapes of each network's arrays, in the order of the ``mtcnn`` package's ``get_weights``.
EXPECTED_SHAPES: dict[str, list[tuple[int, ...]]] = {
    "pnet": [(3, 3, 3, 10), (10,), (1, 1, 10), (3, 3, 10, 16), (16,), (1, 1, 16),
             (3, 3, 16, 32), (32,), (1, 1, 32), (1, 1, 32, 4), (4,), (1, 1, 32, 2), (2,)],
    "rnet": [(3, 3, 3, 28), (28,), (1, 1, 28), (3, 3, 28, 48), (48,), (1, 1, 48),
             (2, 2, 48, 64), (64,), (1, 1, 64), (576, 128), (128,), (128,), (128, 4), (4,),
             (128, 2), (2,)],
    "onet": [(3, 3, 3, 32), (32,), (1, 1, 32), (3, 3, 32, 64), (64,), (1, 1, 64),
             (3, 3, 64, 64), (64,), (1, 1, 64), (2, 2, 64, 128), (128,), (1, 1, 128),
             (1152, 256), (256,), (256,), (256, 4), (4,), (256, 10), (10,), (256, 2), (2,)],
}

#: The cascade's fixed settings (those of the ``mtcnn`` package and the paper): pyramid step,
#: the first two networks' thresholds and each stage's overlap for non-maximum suppression.
_PYRAMID_STEP = 0.709
_PNET_THRESHOLD = 0.6
_RNET_THRESHOLD = 0.7
_PNET_CELL = 12


def _load_weights() -> dict[str, list[np.ndarray]]:
    path = WEIGHTS_DIR / "weights.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"the MTCNN face detector's weights are missing ({path}); reinstall ferkit."
        )
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != WEIGHTS_SHA256:
        raise ValueError(f"{path} is damaged or was replaced (checksum mismatch); reinstall "
                         "ferkit.")
    import io

    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        weights = {
            net: [arrays[f"{net}_{i:02d}"] for i in range(len(shapes))]
            for net, shapes in EXPECTED_SHAPES.items()
        }
    for net, shapes in EXPECTED_SHAPES.items():
        if [w.shape for w in weights[net]] != shapes:
            raise ValueError(f"{path}: unexpected array shapes for {net}; reinstall ferkit.")
    return weights


class _Networks:
    """The three networks as traced TensorFlow functions, built once per process."""

    def __init__(self):
        import tensorflow as tf

        w = {net: [tf.constant(a) for a in arrays] for net, arrays in _load_weights().items()}

        def conv(x, kernel, bias):
            return tf.nn.conv2d(x, kernel, 1, "VALID") + bias

        def prelu(x, alpha):
            return tf.maximum(x, 0.0) + alpha * tf.minimum(x, 0.0)

        def flatten(x):
            # The networks were trained in Caffe's column-major layout (the package's Permute).
            x = tf.transpose(x, [0, 2, 1, 3])
            return tf.reshape(x, [tf.shape(x)[0], -1])

        p, r, o = w["pnet"], w["rnet"], w["onet"]

        def pnet(x):
            x = tf.nn.max_pool2d(prelu(conv(x, p[0], p[1]), p[2]), 2, 2, "SAME")
            x = prelu(conv(x, p[3], p[4]), p[5])
            x = prelu(conv(x, p[6], p[7]), p[8])
            return conv(x, p[9], p[10]), tf.nn.softmax(conv(x, p[11], p[12]))[..., 1]

        def rnet(x):
            x = tf.nn.max_pool2d(prelu(conv(x, r[0], r[1]), r[2]), 3, 2, "SAME")
            x = tf.nn.max_pool2d(prelu(conv(x, r[3], r[4]), r[5]), 3, 2, "VALID")
            x = flatten(prelu(conv(x, r[6], r[7]), r[8]))
            x = prelu(x @ r[9] + r[10], r[11])
            return x @ r[12] + r[13], tf.nn.softmax(x @ r[14] + r[15])[:, 1]

        def onet(x):
            x = tf.nn.max_pool2d(prelu(conv(x, o[0], o[1]), o[2]), 3, 2, "SAME")
            x = tf.nn.max_pool2d(prelu(conv(x, o[3], o[4]), o[5]), 3, 2, "VALID")
            x = tf.nn.max_pool2d(prelu(conv(x, o[6], o[7]), o[8]), 2, 2, "SAME")
            x = flatten(prelu(conv(x, o[9], o[10]), o[11]))
            x = prelu(x @ o[12] + o[13], o[14])
            return x @ o[15] + o[16], x @ o[17] + o[18], tf.nn.softmax(x @ o[19] + o[20])[:, 1]

        image = tf.TensorSpec([None, None, 3], tf.float32)
        size = tf.TensorSpec([2], tf.int32)
        boxes = tf.TensorSpec([None, 4], tf.float32)

        @tf.function(input_signature=[image, size])
        def propose(img, shape):
            # AREA resizing averages the pixels a cell covers, as the package does.
            scaled = tf.image.resize(img[None], shape, method=tf.image.ResizeMethod.AREA)
            reg, prob = pnet(scaled)
            return reg[0], prob[0]

        def crops(img, box, side):
            return tf.image.crop_and_resize(img[None], box, tf.zeros(tf.shape(box)[0], tf.int32),
                                            (side, side))

        @tf.function(input_signature=[image, boxes])
        def refine(img, box):
            return rnet(crops(img, box, 24))

        @tf.function(input_signature=[image, boxes])
        def output(img, box):
            return onet(crops(img, box, 48))

        self.propose, self.refine, self.output = propose, refine, output


@functools.lru_cache(maxsize=1)
def networks() -> _Networks:
    """The networks, loaded and traced once per process (the first detection's cost)."""
    return _Networks()


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union"):
    """Indices kept by greedy non-maximum suppression of ``x1, y1, x2, y2`` boxes."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        base = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / base <= threshold]
    return np.asarray(keep, dtype=np.intp)


def _square(boxes: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` boxes made square about their centres (the next network's input)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + (w - side) / 2
    y1 = boxes[:, 1] + (h - side) / 2
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def _propose(nets, img, height: int, width: int, min_size: float) -> np.ndarray:
    """Stage 1: candidate ``x1, y1, x2, y2`` boxes from the proposal network over a pyramid."""
    import tensorflow as tf

    found = []
    scale = _PNET_CELL / min_size
    while min(height, width) * scale >= _PNET_CELL:
        shape = (math.ceil(height * scale), math.ceil(width * scale))
        reg, prob = nets.propose(img, tf.constant(shape, tf.int32))
        reg, prob = reg.numpy(), prob.numpy()
        ys, xs = np.nonzero(prob > _PNET_THRESHOLD)
        if len(ys):
            cells = np.stack([xs, ys, xs, ys], axis=1) * 2.0 + [0, 0, _PNET_CELL, _PNET_CELL]
            boxes = (cells + reg[ys, xs] * _PNET_CELL) / scale
            keep = _nms(boxes, prob[ys, xs], 0.5)
            found.append(np.column_stack([boxes[keep], prob[ys, xs][keep]]))
        scale *= _PYRAMID_STEP
    if not found:
        return np.empty((0, 5))
    boxes = np.concatenate(found)
    return boxes[_nms(boxes[:, :4], boxes[:, 4], 0.7)]


def _normalised(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    # crop_and_resize takes [y1, x1, y2, x2] in fractions of the image; parts outside are 0,
    # which is mid-grey in the networks' (x - 127.5) / 128 units.
    return (boxes[:, [1, 0, 3, 2]] / [height, width, height, width]).astype(np.float32)


def _adjust(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply a network's box regression (offsets in fractions of the box's side)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    return boxes + offsets * np.stack([w, h, w, h], axis=1)


def detect(rgb: np.ndarray, *, min_size: float, min_confidence: float) -> np.ndarray:
    """Faces in an RGB uint8 image.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (height, width, 3)
        The image.
    min_size : float
        Smallest face side to look for, in pixels (the pyramid's first level); at least 12.
    min_confidence : float
        Smallest face probability of the output network to keep a face.

    Returns
    -------
    ndarray of float, shape (n_faces, 15)
        ``x, y, width, height, score`` then ``x, y`` of the left eye, right eye, nose, left and
        right mouth corners (left and right as seen in the image), highest scores first.
    """
    import tensorflow as tf

    nets = networks()
    height, width = rgb.shape[:2]
    img = tf.constant((rgb.astype(np.float32) - 127.5) / 128.0)
    boxes = _propose(nets, img, height, width, min_size)
    if len(boxes):
        boxes = _square(boxes[:, :4])
        offsets, prob = (t.numpy() for t in nets.refine(img, _normalised(boxes, height, width)))
        keep = prob > _RNET_THRESHOLD
        boxes = _adjust(boxes[keep], offsets[keep])
        boxes = _square(boxes[_nms(boxes, prob[keep], 0.7)])
    if not len(boxes):
        return np.empty((0, 15))
    offsets, marks, prob = (t.numpy() for t in nets.output(img, _normalised(boxes, height,
                                                                            width)))
    w = boxes[:, 2:3] - boxes[:, 0:1] + 1
    h = boxes[:, 3:4] - boxes[:, 1:2] + 1
    xs = w * marks[:, :5] + boxes[:, 0:1] - 1
    ys = h * marks[:, 5:] + boxes[:, 1:2] - 1
    boxes = _adjust(boxes, offsets)
    keep = prob >= min_confidence
    boxes, prob, xs, ys = boxes[keep], prob[keep], xs[keep], ys[keep]
    keep = _nms(boxes, prob, 0.7, mode="min")
    boxes, prob, xs, ys = boxes[keep], prob[keep], xs[keep], ys[keep]
    points = np.stack([xs, ys], axis=2).reshape(len(boxes), 10)
    sizes = boxes[:, 2:4] - boxes[:, 0:2]
    return np.column_stack([boxes[:, :2], sizes, prob, points]).astype(float)
