"""Striped transfers (``smconnect cp``): a stdlib-only helper run in the space over each lane's
exec channel, a framed protocol, a planner, and a scheduler that spreads chunks over lanes.

See docs/design/transfer.md.
"""
