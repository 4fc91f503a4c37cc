"""Campaign and program results from the warehouse: the measure stage of the loop.

`cvm.measure` holds the statistics and stays free of engines; this package reads assignments
and outcomes through the `Engine` protocol, calls it, and writes `campaign_results`,
`campaign_measurements`, `program_results` and `offer_priors` back to the warehouse.
"""
