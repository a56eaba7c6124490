//! tc's time and rate arithmetic (iproute2 `tc/tc_core.c`), reproduced operation for
//! operation, floating point included, so that the tables and tick counts netscript
//! sends are the very bytes `tc` would send.
//!
//! The kernel publishes its packet-scheduler clock in `/proc/net/psched`; tc reads it
//! once (`tc_core_init`, and `get_hz` for htb's default burst). [`Psched`] is that file.

/// iproute2's `TIME_UNITS_PER_SEC`: tc's user-facing times are microseconds.
const TIME_UNITS_PER_SEC: f64 = 1_000_000.0;

/// The contents of `/proc/net/psched`: four hex words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Psched {
    /// Nanoseconds per microsecond (`NSEC_PER_USEC`), 1000.
    pub t2us: u32,
    /// Nanoseconds per scheduler tick (`PSCHED_TICKS2NS(1)`), 64.
    pub us2t: u32,
    /// Always 1000000 since Linux 2.6.2x.
    pub clock_res: u32,
    /// `NSEC_PER_SEC / hrtimer_resolution`: 1e9 with high-resolution timers, HZ without.
    pub hrtimer_hz: u32,
}

impl Psched {
    /// What every kernel with high-resolution timers reports (this machine's kernel
    /// included): `000003e8 00000040 000f4240 3b9aca00`.
    pub const HIGH_RES: Psched = Psched {
        t2us: 1000,
        us2t: 64,
        clock_res: 1_000_000,
        hrtimer_hz: 1_000_000_000,
    };

    /// Parses the file's text as tc does (`%08x%08x%08x%08x`, whitespace-separated).
    pub fn parse(text: &str) -> Option<Psched> {
        let mut words = text.split_whitespace().map(|w| u32::from_str_radix(w, 16));
        let mut next = || words.next()?.ok();
        Some(Psched {
            t2us: next()?,
            us2t: next()?,
            clock_res: next()?,
            hrtimer_hz: next()?,
        })
    }

    /// Reads `/proc/net/psched` (the same in every network namespace).
    pub fn read() -> std::io::Result<Psched> {
        let text = std::fs::read_to_string("/proc/net/psched")?;
        Psched::parse(&text).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "malformed /proc/net/psched",
            )
        })
    }

    /// This machine's `/proc/net/psched`, read once ([`Psched::HIGH_RES`] if unreadable).
    pub fn local() -> &'static Psched {
        static LOCAL: std::sync::OnceLock<Psched> = std::sync::OnceLock::new();
        LOCAL.get_or_init(|| Psched::read().unwrap_or(Psched::HIGH_RES))
    }

    /// The smallest size whose transmit time at `rate_bytes` is `ticks`
    /// (`tc_calc_xmittime` inverted), so that sending it back gives the same ticks; when
    /// no size gives exactly `ticks`, the smallest that gives more.
    pub fn size_for_ticks(&self, rate_bytes: u64, ticks: u32) -> u32 {
        let (mut lo, mut hi) = (0u32, u32::MAX);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.xmittime(rate_bytes, mid) < ticks {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// `tc_core_init`: scheduler ticks per microsecond (15.625 on every current kernel).
    pub fn tick_in_usec(&self) -> f64 {
        // tc's compatibility hack for kernels that advertised nanosecond resolution.
        let t2us = if self.clock_res == 1_000_000_000 {
            self.us2t
        } else {
            self.t2us
        };
        let clock_factor = self.clock_res as f64 / TIME_UNITS_PER_SEC;
        t2us as f64 / self.us2t as f64 * clock_factor
    }

    /// `get_hz` (tc/tc_core.c, tc/utils.c): the timer frequency htb's default burst is
    /// computed with. With high-resolution timers this is 1e9, which makes that default
    /// burst practically just the MTU (1600 bytes).
    pub fn hz(&self) -> u32 {
        if self.clock_res == 1_000_000 && self.hrtimer_hz != 0 {
            self.hrtimer_hz
        } else {
            100
        }
    }

    /// `tc_core_time2tick`: microseconds to ticks. tc passes an `unsigned`, multiplies by
    /// a double and truncates back to `unsigned`.
    pub fn time2tick(&self, usecs: u32) -> u32 {
        c_double_to_u32(usecs as f64 * self.tick_in_usec())
    }

    /// `tc_core_tick2time`: ticks to microseconds, truncated.
    pub fn tick2time(&self, ticks: u32) -> u32 {
        c_double_to_u32(ticks as f64 / self.tick_in_usec())
    }

    /// `tc_calc_xmittime(rate, size)`: the ticks `size` bytes take at `rate` bytes/s.
    /// Note the double truncation: first to whole microseconds, then to whole ticks.
    pub fn xmittime(&self, rate_bytes: u64, size: u32) -> u32 {
        let usecs = TIME_UNITS_PER_SEC * (size as f64 / rate_bytes as f64);
        self.time2tick(c_double_to_u32(usecs))
    }

    /// `tc_calc_xmitsize(rate, ticks)`: the bytes sent at `rate` in `ticks`.
    pub fn xmitsize(&self, rate_bytes: u64, ticks: u32) -> u32 {
        c_double_to_u32(rate_bytes as f64 * self.tick2time(ticks) as f64 / TIME_UNITS_PER_SEC)
    }

    /// `tc_calc_rtable` for an Ethernet link layer with no mpu/overhead, as netscript always
    /// uses: the transmit time of each packet size class. Returns the table and `cell_log`.
    /// `rate_bytes` is the 32-bit rate of the `tc_ratespec` (capped at `u32::MAX`), which is
    /// what tc builds the table from even when a 64-bit rate is sent beside it.
    pub fn rate_table(&self, rate_bytes: u32, mtu: u32) -> ([u32; 256], u8) {
        self.rate_table_framed(rate_bytes, mtu, &crate::model::Framing::default())
    }

    /// `tc_calc_rtable` with `mpu` and `linklayer` (`tc_adjust_size`: each size at least
    /// the mpu, then in whole ATM cells with `linklayer atm`). The overhead is not in the
    /// table: the kernel adds it (and tc sends it in the rate spec).
    pub fn rate_table_framed(&self, rate_bytes: u32, mtu: u32, framing: &crate::model::Framing) -> ([u32; 256], u8) {
        let adjust = crate::model::Framing { overhead: 0, ..*framing };
        let mtu = if mtu == 0 { 2047 } else { mtu };
        let mut cell_log = 0u8;
        while (mtu >> cell_log) > 255 {
            cell_log += 1;
        }
        let mut table = [0u32; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let size = adjust.wire_len((((i as u32) + 1) << cell_log) as u64) as u32;
            *slot = self.xmittime(rate_bytes as u64, size);
        }
        (table, cell_log)
    }
}

/// C's double → unsigned conversion for the values tc produces: truncation toward zero.
/// (Out-of-range values are undefined behaviour in C; Rust's `as` saturates.)
fn c_double_to_u32(value: f64) -> u32 {
    value as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_this_kernels_psched() {
        let p = Psched::parse("000003e8 00000040 000f4240 3b9aca00\n").unwrap();
        assert_eq!(p, Psched::HIGH_RES);
        assert_eq!(p.tick_in_usec(), 15.625);
        assert_eq!(p.hz(), 1_000_000_000);
        assert_eq!(Psched::parse("000003e8 00000040"), None);
    }

    #[test]
    fn xmittime_truncates_twice_like_tc() {
        let p = Psched::HIGH_RES;
        // 10kb at 1mbit: 81920 us, 1280000 ticks.
        assert_eq!(p.xmittime(125_000, 10 * 1024), 1_280_000);
        // 1 byte at 125000 B/s is 8 us = 125 ticks; 3 bytes is 24 us = 375 ticks.
        assert_eq!(p.xmittime(125_000, 3), 375);
        // 1 us = 15.625 ticks → 15.
        assert_eq!(p.time2tick(1), 15);
        assert_eq!(p.xmitsize(125_000, 1_280_000), 10 * 1024);
    }

    #[test]
    fn rate_table_cell_log() {
        let p = Psched::HIGH_RES;
        let (table, cell_log) = p.rate_table(125_000, 0);
        assert_eq!(cell_log, 3);
        assert_eq!(table[0], p.xmittime(125_000, 8));
        assert_eq!(table[255], p.xmittime(125_000, 2048));
        assert_eq!(p.rate_table(125_000, 1600).1, 3);
        assert_eq!(p.rate_table(125_000, 9000).1, 6);
    }
}
