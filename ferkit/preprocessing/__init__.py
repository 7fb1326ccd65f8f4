"""Transformer steps that prepare face images for a classifier.

Every step is a scikit-learn transformer usable in a :class:`~sklearn.pipeline.Pipeline`.
"""

from ferkit.preprocessing._crop import FaceCropper
from ferkit.preprocessing._equalize import HistogramEqualizer
from ferkit.preprocessing._reshape import ImageReshaper
from ferkit.preprocessing._scale import PixelScaler

__all__ = ["FaceCropper", "HistogramEqualizer", "ImageReshaper", "PixelScaler"]
