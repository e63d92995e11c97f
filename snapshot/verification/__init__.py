"""Prove a snapshot loads without the original code and reproduces the outputs."""
