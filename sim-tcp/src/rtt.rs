//! Retransmission timer per RFC 6298, with Karn's rule applied by the caller (only
//! segments never retransmitted give samples) and Linux's floor: RTO = SRTT +
//! max(4·RTTVAR, `rto_min`) rather than max(SRTT + 4·RTTVAR, 1 s), because Linux
//! (`tcp_set_rto`, `tcp_rtt_estimator`) floors the variance term at `TCP_RTO_MIN`.

use sim_core::time::SimDuration;

use crate::config::TcpConfig;

/// RFC 6298 state: SRTT, RTTVAR, the base RTO and the back-off exponent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rtt {
    /// Smoothed RTT in ns; 0 = no sample yet (RFC 6298 (2.1)).
    srtt: u64,
    rttvar: u64,
    /// Base RTO (without back-off).
    rto: SimDuration,
    /// Exponential back-off exponent (RFC 6298 (5.5)); reset by new ACKs.
    pub backoff: u8,
}

impl Rtt {
    pub fn new(cfg: &TcpConfig) -> Rtt {
        Rtt {
            srtt: 0,
            rttvar: 0,
            rto: cfg.rto_initial,
            backoff: 0,
        }
    }

    /// RFC 6298 (2.2)/(2.3): fold in one measurement.
    pub fn sample(&mut self, r: SimDuration, cfg: &TcpConfig) {
        let r = r.as_nanos().max(1);
        if self.srtt == 0 {
            self.srtt = r;
            self.rttvar = r / 2;
        } else {
            let err = self.srtt.abs_diff(r);
            // RTTVAR <- (1 - 1/4) RTTVAR + 1/4 |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'.
            self.rttvar = (3 * self.rttvar + err) / 4;
            self.srtt = (7 * self.srtt + r) / 8;
        }
        let var = SimDuration::from_nanos(4 * self.rttvar).max(cfg.rto_min);
        self.rto = (SimDuration::from_nanos(self.srtt) + var).min(cfg.rto_max);
    }

    /// RFC 6298 (5.7): after a SYN time-out with no sample, data starts at 3 s.
    pub fn fallback_after_syn_timeout(&mut self, cfg: &TcpConfig) {
        if self.srtt == 0 {
            self.rto = SimDuration::from_secs(3).clamp(cfg.rto_min, cfg.rto_max);
        }
    }

    /// The RTO to arm now: base × 2^backoff, at most `rto_max` (RFC 6298 (2.5)).
    pub fn current(&self, cfg: &TcpConfig) -> SimDuration {
        let shift = u32::from(self.backoff).min(40);
        self.rto.saturating_mul(1u64 << shift).min(cfg.rto_max)
    }
}

/// Linux `tcp_model_timeout()`: how long `boundary` back-offs from `rto_base` take,
/// doubling up to `rto_max` and linear after. `retries2 = 15` with a 200 ms base
/// gives 924.6 s.
pub(crate) fn model_timeout(
    boundary: u8,
    rto_base: SimDuration,
    rto_max: SimDuration,
) -> SimDuration {
    let ratio = (rto_max.as_nanos() / rto_base.as_nanos().max(1)).max(1);
    let thresh = 63 - ratio.leading_zeros() as u64; // ilog2
    let b = u64::from(boundary);
    if b <= thresh {
        rto_base.saturating_mul((2u64 << b) - 1)
    } else {
        rto_base
            .saturating_mul((2u64 << thresh) - 1)
            .saturating_add(rto_max.saturating_mul(b - thresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries2_is_924_6_seconds() {
        let c = TcpConfig::default();
        assert_eq!(
            model_timeout(15, c.rto_min, c.rto_max),
            SimDuration::from_millis(924_600)
        );
        assert_eq!(
            model_timeout(6, c.rto_initial, c.rto_max),
            SimDuration::from_secs(127)
        );
        assert_eq!(
            model_timeout(8, c.rto_min, c.rto_max),
            SimDuration::from_millis(102_200)
        );
    }

    #[test]
    fn rto_follows_rfc6298_with_linux_floor() {
        let c = TcpConfig::default();
        let mut r = Rtt::new(&c);
        assert_eq!(r.current(&c), SimDuration::from_secs(1));
        r.sample(SimDuration::from_millis(100), &c);
        // SRTT 100 ms, RTTVAR 50 ms: 100 + max(200, 200) = 300 ms.
        assert_eq!(r.current(&c), SimDuration::from_millis(300));
        r.backoff = 3;
        assert_eq!(r.current(&c), SimDuration::from_millis(2400));
        r.backoff = 30;
        assert_eq!(r.current(&c), c.rto_max);
    }
}
