"""Evaluation: run methods over an eval set, score, compare, report."""
