"""Acquisition economics: marketing spend, CAC, CLV/CAC and payback per channel and cohort (issue #12)."""
