"""Command modules behind ``rlvr.cli``; each defines ``register(app)``."""
