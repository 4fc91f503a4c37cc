"""cvm.decide: the next best action under a budget (docs/decisioning.md).

Public API (import from the modules; this package imports nothing at import time so the
campaign engine can use the policy modules without loading the solvers):

- `cvm.decide.offers`: `Offer`, `read_offers(path)`, `parse_offers`, `active_offers`
- `cvm.decide.offer_store`: `save_offers`, `load_offers`, `get_offer`, `delete_offer`
- `cvm.decide.config`: `DecideSettings` (``decide.toml``: policy, control, arbitration),
  `load_decide_settings(root)`
- `cvm.decide.contact_policy`: `ContactPolicy`, `check_contact`, `next_allowed_send_time`,
  `remaining_by_cap`, `in_cooldown`; `cvm.decide.policy_sql`: the same rules in SQL
- `cvm.decide.control_groups`: global / offer control membership (Python and SQL),
  `assignment_probability`, `balance_table`; `cvm.decide.balance.control_report`
- `cvm.decide.arbitration`: `Problem`, `Allocation` (``minimums_infeasible``: why minimum
  volumes could not be met), `solve(problem, "auto"|"lp"|"greedy")`, `violations`;
  `cvm.decide.minimums`: `min_shortfall`, `explain_infeasible_minimums`
- `cvm.decide.batch`: `run_decisions(ws, day=...)` (offers start from the measured uplift
  posteriors, `learned_priors`), `compute_decisions`, `decide_stage`
- `cvm.decide.simulate`: `simulate_plan(ws, path)`, `compare_plans`
- `cvm.decide.realtime`: `RealtimeDecider`, `open_decider(ws)`
"""
