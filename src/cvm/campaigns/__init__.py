"""Campaigns: who gets which message, when, on which channel; and getting it there once.

Public API (see docs/campaigns.md):

* definitions: `cvm.campaigns.campaign.Campaign`, `parse_campaign`, `load_campaign_file`;
* lifecycle: `cvm.campaigns.lifecycle.create_campaign`, `launch_campaign`, `pause_campaign`,
  `resume_campaign`, `stop_campaign`, `preview_message`, `test_send`, `sync`, and
  `run_campaigns(ws, as_of)` — the loop's campaigns stage;
* sending: `cvm.campaigns.dispatch.Dispatcher` (the ``cvm campaigns dispatch`` workers);
* live triggers: `cvm.campaigns.triggers.TriggerEvaluator` (a loader hook in the API server);
* feedback: `cvm.campaigns.feedback.Feedback` (opens, clicks, unsubscribes, callbacks).
"""
