"""Acquisition economics: marketing spend, CAC, CLV/CAC and payback per channel and cohort (issue #12)."""

from cvm.acquisition.summary import AcquisitionSummary, summarize_acquisition

__all__ = ["AcquisitionSummary", "summarize_acquisition"]
