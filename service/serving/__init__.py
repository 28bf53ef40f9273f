"""Serving stored model versions: artifacts, the registry, path caches and exports, plots, questions."""
