"""Faces in photos: read images, detect faces, predict their emotions, draw the result.

Detection uses scikit-image's LBP frontal-face cascade, which ships with scikit-image: nothing
is downloaded. TensorFlow is only needed by the model passed to :func:`predict_image`.
"""

from ferkit.faces._crop import crop_face
from ferkit.faces._detect import DETECTOR_DEFAULTS, detect_faces
from ferkit.faces._draw import draw_faces
from ferkit.faces._io import IMAGE_EXTENSIONS, list_images, read_image, to_gray
from ferkit.faces._predict import predict_image

__all__ = [
    "DETECTOR_DEFAULTS",
    "IMAGE_EXTENSIONS",
    "crop_face",
    "detect_faces",
    "draw_faces",
    "list_images",
    "predict_image",
    "read_image",
    "to_gray",
]
