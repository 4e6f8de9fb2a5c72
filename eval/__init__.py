"""Evaluation: gold set (gold.json, gold.py) and pure metrics (metrics.py) for search and alignment."""
