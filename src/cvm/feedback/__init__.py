"""Customer feedback: NPS and CSAT responses, their statistics and comment topics (issue #12)."""
