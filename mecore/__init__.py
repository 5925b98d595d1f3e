"""Models and preprocessing shared by train/ and stream/ (through engines/).

Everything that decides what a face, a region of interest, a magnifier input or a
classifier input *is* lives here, so training and serving cannot drift apart.
"""

__version__ = "0.1.0"
