"""From pictures to bodies: detectors, people, the predictor and its refinement, outputs, exports, videos."""
