"""Feature sets: spectrogram images and the models that encode them, and per-segment audio features."""
