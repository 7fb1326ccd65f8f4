"""Faces in photos: read images, detect faces, predict their emotions, draw the result.

The default detector is MTCNN, whose weights ship inside ferkit (converted from the ``mtcnn``
package, MIT licence) and run with TensorFlow, imported on the first detection; scikit-image's
LBP frontal-face cascade is the alternative that needs no TensorFlow. Nothing is downloaded.
"""

from ferkit.faces._crop import crop_face
from ferkit.faces._detect import (
    DETECTOR_DEFAULTS,
    DETECTORS,
    LANDMARK_COLUMNS,
    FaceDetector,
    LBPCascadeDetector,
    MTCNNDetector,
    detect_faces,
    make_detector,
)
from ferkit.faces._draw import draw_faces
from ferkit.faces._io import IMAGE_EXTENSIONS, list_images, read_image, to_gray
from ferkit.faces._predict import predict_image

__all__ = [
    "DETECTORS",
    "DETECTOR_DEFAULTS",
    "IMAGE_EXTENSIONS",
    "LANDMARK_COLUMNS",
    "FaceDetector",
    "LBPCascadeDetector",
    "MTCNNDetector",
    "crop_face",
    "detect_faces",
    "draw_faces",
    "list_images",
    "make_detector",
    "predict_image",
    "read_image",
    "to_gray",
]
