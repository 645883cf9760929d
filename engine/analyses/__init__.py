"""Analyses over the encoded log: each validates its inputs, calls the numba
kernels and returns a frozen result whose summaries merge by addition."""
