"""Loaders for FER2013 and the small sample shipped with ferkit.

Every loader returns a :class:`sklearn.utils.Bunch` with ``data``, ``images``, ``target``,
``target_names`` and ``DESCR``, like scikit-learn's ``load_digits``.
"""

from ferkit.datasets._fer2013 import load_fer2013
from ferkit.datasets._sample import load_sample

__all__ = ["load_fer2013", "load_sample"]
