"""Encoder backends, one module per library; each imports its library only when it encodes."""
