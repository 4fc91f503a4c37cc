"""Loyalty programme: points ledger, earn rules, tiers, rewards and referrals (issue #12)."""
