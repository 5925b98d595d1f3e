"""Face core: tracking (MediaPipe FaceLandmarker), alignment, FGRMER regions of interest, action units."""
