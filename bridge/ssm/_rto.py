"""Retransmission timeout estimation, with the constants and formulas of the plugin and agent.

Both AWS programs use the same smoothed RTT / RTT-variance rule (docs/design/ssm-protocol.md
§5). Two things are ours: Karn's rule (the caller feeds no sample from a retransmitted message,
whose ack cannot be matched to one send), and an optional backoff that multiplies the RTO
after a round of timeouts, so a dead link is probed at 0.2, 0.4, 0.8, 1.0 s intervals instead of
hammered; the next valid sample removes the backoff.
"""

from __future__ import annotations


class RtoEstimator:
    __slots__ = ("_backoff", "_factor", "_max", "_min_variance", "rto", "rtt", "rttvar")

    def __init__(
        self,
        *,
        initial_rtt: float,
        initial_rto: float,
        min_variance: float,
        max_rto: float,
        backoff_factor: float,
    ) -> None:
        self.rtt = initial_rtt
        self.rttvar = 0.0
        self.rto = initial_rto
        self._min_variance = min_variance
        self._max = max_rto
        self._factor = backoff_factor
        self._backoff = 1.0

    @property
    def current(self) -> float:
        """The timeout to apply now: the estimate, times any backoff, capped."""
        return min(self._max, self.rto * self._backoff)

    def sample(self, seconds: float, count: int = 1) -> None:
        """Feed ``count`` equal samples (the acks of one burst, read at once), exactly as
        ``count`` calls would."""
        seconds = max(0.0, seconds)
        rtt, rttvar = self.rtt, self.rttvar
        for _ in range(count):
            rttvar = 0.75 * rttvar + 0.25 * abs(rtt - seconds)
            rtt = 0.875 * rtt + 0.125 * seconds
        self.rtt, self.rttvar = rtt, rttvar
        self.rto = min(self._max, rtt + max(self._min_variance, 4 * rttvar))
        self._backoff = 1.0

    def timed_out(self) -> None:
        if self.rto * self._backoff < self._max:
            self._backoff *= self._factor
