"""Training: synthetic micro-expressions (train.synth, train.synth_me), dataset readers and LOSO."""
