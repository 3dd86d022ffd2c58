//! What travels between hosts: [`Segment`], a TCP header reduced to what the
//! simulation needs (RFC 9293 §3.1), with the payload as a byte count. Plus the
//! addressing types [`Addr`] and [`SockAddr`] and the simulation-only [`ConnId`].

use std::fmt;

use crate::seq::Seq;

/// IPv4 address of a simulated host (the harness assigns them, e.g. 10.x.y.z).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr(pub u32);

impl Addr {
    /// `a.b.c.d`.
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Addr {
        Addr(u32::from_be_bytes([a, b, c, d]))
    }
    /// 127.0.0.0/8: `tcp_tw_reuse = 2` allows reuse only toward loopback.
    pub fn is_loopback(self) -> bool {
        self.0 >> 24 == 127
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}")
    }
}
impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An (address, port) pair: one end of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SockAddr {
    pub addr: Addr,
    pub port: u16,
}

impl SockAddr {
    pub const fn new(addr: Addr, port: u16) -> SockAddr {
        SockAddr { addr, port }
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.addr, self.port)
    }
}
impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Simulation metadata, not a TCP field: the incarnation (connection id) of the
/// connection that sent a segment. Used to count `stale_accepted`, a segment of an
/// earlier incarnation of the same 4-tuple accepted by a newer one. A passive
/// (server) socket takes the id carried by the SYN that created it, so both ends of a
/// connection share one id. Segments the stack makes without a connection (an RST to
/// a closed port, a SYN-cookie SYN-ACK) carry [`ConnId::NONE`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug)]
pub struct ConnId(pub u64);

impl ConnId {
    pub const NONE: ConnId = ConnId(0);
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Simulation metadata, not a TCP field (a simulator-internal demultiplexing
/// shortcut, in the spirit of a QUIC connection ID, RFC 9000 §5.1): `from` is the
/// sending host's own demultiplexing value for the sending socket, `to` the
/// sender's last knowledge of the receiver's value for it (the `from` of the
/// latest segment it received on this connection). The receiving host tries `to`
/// first and uses it only if that socket is alive and its 4-tuple is the
/// segment's, which is exactly the socket its 4-tuple lookup would find (each
/// 4-tuple maps to one socket): a stale or wrong hint costs a lookup and cannot
/// change any result. Never serialized (pcap, trace and `Display` show real
/// header fields only).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DemuxHint {
    pub from: u32,
    pub to: u32,
}

impl DemuxHint {
    /// No socket (`from`) or nothing known about the receiver's (`to`).
    pub const UNKNOWN: u32 = u32::MAX;
    /// Neither side known: segments made without a socket and without a segment
    /// to answer (the harness's spoofed SYNs, tests).
    pub const NONE: DemuxHint = DemuxHint {
        from: DemuxHint::UNKNOWN,
        to: DemuxHint::UNKNOWN,
    };

    /// The hint of a segment sent without a socket in answer to `seg` (an RST, a
    /// SYN-cookie SYN-ACK): aimed at `seg`'s sender.
    #[inline]
    pub const fn reply_to(seg: &Segment) -> DemuxHint {
        DemuxHint {
            from: DemuxHint::UNKNOWN,
            to: seg.demux.from,
        }
    }
}

/// TCP control bits (RFC 9293 §3.1), as a bitset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);
    pub const NONE: Flags = Flags(0);

    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    #[inline]
    pub const fn syn(self) -> bool {
        self.0 & Flags::SYN.0 != 0
    }
    #[inline]
    pub const fn ack(self) -> bool {
        self.0 & Flags::ACK.0 != 0
    }
    #[inline]
    pub const fn fin(self) -> bool {
        self.0 & Flags::FIN.0 != 0
    }
    #[inline]
    pub const fn rst(self) -> bool {
        self.0 & Flags::RST.0 != 0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    #[inline]
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}
impl std::ops::BitOrAssign for Flags {
    #[inline]
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for Flags {
    /// tcpdump style: `S`, `S.`, `F.`, `R.`, `P.`, `.` for a bare ACK.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, c) in [
            (Flags::SYN, 'S'),
            (Flags::FIN, 'F'),
            (Flags::RST, 'R'),
            (Flags::PSH, 'P'),
            (Flags::ACK, '.'),
        ] {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}
impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{self}]")
    }
}

/// One TCP segment. `Copy` and small (≤ 64 bytes): the per-segment path never
/// allocates. `len` counts payload bytes (contents are not simulated).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment {
    pub src: SockAddr,
    pub dst: SockAddr,
    pub seq: Seq,
    pub ack: Seq,
    pub flags: Flags,
    /// Advertised receive window in bytes (no window scaling is modelled).
    pub window: u16,
    /// Payload bytes.
    pub len: u32,
    /// MSS option (SYN and SYN-ACK only).
    pub mss: Option<u16>,
    /// Timestamps option `(TSval, TSecr)` (RFC 7323) when `tcp.timestamps` is on.
    pub ts: Option<(u32, u32)>,
    /// Simulation metadata: the sending connection's incarnation (see [`ConnId`]).
    pub conn: ConnId,
    /// Simulation metadata: a demultiplexing shortcut that cannot change results
    /// (see [`DemuxHint`]).
    pub demux: DemuxHint,
}

impl Segment {
    /// Sequence space the segment occupies: payload plus one each for SYN and FIN
    /// (RFC 9293 §3.4, SEG.LEN).
    #[inline]
    pub fn seg_len(&self) -> u32 {
        self.len + self.flags.syn() as u32 + self.flags.fin() as u32
    }
    /// The sequence number after the segment (Linux `end_seq`).
    #[inline]
    pub fn end_seq(&self) -> Seq {
        self.seq + self.seg_len()
    }
}

impl fmt::Display for Segment {
    /// tcpdump-like one-liner, e.g. `10.0.0.1:40000 > 10.0.0.2:80 F. seq 1001 ack 1 len 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} seq {} ack {} len {} win {}",
            self.src, self.dst, self.flags, self.seq, self.ack, self.len, self.window
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_is_small_and_copy() {
        assert!(
            std::mem::size_of::<Segment>() <= 64,
            "{}",
            std::mem::size_of::<Segment>()
        );
        assert_eq!(Addr::new(10, 0, 0, 1).to_string(), "10.0.0.1");
        assert_eq!((Flags::FIN | Flags::ACK).to_string(), "F.");
    }
}
