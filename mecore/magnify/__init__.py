"""Whole-video magnification shared by stream/ and train/: temporal filters, Eulerian (EVM) magnifiers,
the learned magnifier's frame loop over encoder/decoder engines, and seamless tiling."""
