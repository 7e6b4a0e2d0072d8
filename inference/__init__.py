"""Exocortex inference worker: vLLM AsyncLLM behind our scheduler and an OpenAI-style API.

Importing the package imports nothing heavy; `inference.client` (used by Django) stays free
of vllm and torch. Run the worker with `python -m inference serve`.
"""
