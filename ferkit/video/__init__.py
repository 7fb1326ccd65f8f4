"""Video: frames of a file or a camera, face tracks across frames, videos written atomically.

Frames are decoded with PyAV (FFmpeg's libraries, bundled in its wheels), imported only when
a video is opened, so ``import ferkit`` stays light.
"""

from ferkit.video._reader import TruncatedVideoWarning, VideoReader
from ferkit.video._track import FaceTracker, iou_matrix
from ferkit.video._write import VideoWriter, write_video

__all__ = [
    "FaceTracker",
    "TruncatedVideoWarning",
    "VideoReader",
    "VideoWriter",
    "iou_matrix",
    "write_video",
]
