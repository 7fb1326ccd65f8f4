"""Video: the emotions of the faces in a video file or a camera (:func:`predict_video`), and
its pieces: frames, face tracks across frames, videos written atomically.

Frames are decoded with PyAV (FFmpeg's libraries, bundled in its wheels), an optional
dependency (``pip install 'ferkit[video]'``; docs/video.rst says why), imported only when a
video is opened, so ``import ferkit`` stays light.
"""

from ferkit.video._predict import predict_video
from ferkit.video._reader import TruncatedVideoWarning, VideoReader
from ferkit.video._track import FaceTracker, iou_matrix
from ferkit.video._write import VideoWriter, write_video

__all__ = [
    "FaceTracker",
    "TruncatedVideoWarning",
    "VideoReader",
    "VideoWriter",
    "iou_matrix",
    "predict_video",
    "write_video",
]
