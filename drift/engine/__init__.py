"""The drift engine: pure Python, no Django. Manifests, normalization, diff, rules."""
