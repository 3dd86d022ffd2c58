//! `--pcap FILE`: every segment as transmitted, at its send time, with real Ethernet,
//! IPv4 and TCP headers (checksums filled by etherparse) and a zero-filled payload of
//! the segment's length, so tshark and Wireshark follow the conversations.
//!
//! The file is classic pcap with nanosecond timestamps and an explicit little-endian
//! header, so the same run gives the same bytes on every machine. Each host's MAC
//! address is `02:00` followed by its IPv4 address (a locally administered address).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etherparse::{PacketBuilder, TcpOptionElement};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use sim_core::time::SimTime;
use sim_tcp::Segment;

use crate::error::CliError;
use crate::output::temp_path;

/// TTL of every simulated IPv4 packet (Linux `net.ipv4.ip_default_ttl`).
const TTL: u8 = 64;

/// Encodes one segment as an Ethernet frame into `buf` (cleared first). `zeros` is a
/// scratch buffer of zero bytes, grown to the largest payload seen.
pub fn encode(seg: &Segment, buf: &mut Vec<u8>, zeros: &mut Vec<u8>) {
    let src = seg.src.addr.0.to_be_bytes();
    let dst = seg.dst.addr.0.to_be_bytes();
    let mac = |ip: [u8; 4]| [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]];
    let f = seg.flags;
    let mut b = PacketBuilder::ethernet2(mac(src), mac(dst))
        .ipv4(src, dst, TTL)
        .tcp(seg.src.port, seg.dst.port, seg.seq.0, seg.window);
    if f.ack() {
        b = b.ack(seg.ack.0);
    }
    if f.syn() {
        b = b.syn();
    }
    if f.fin() {
        b = b.fin();
    }
    if f.rst() {
        b = b.rst();
    }
    if f.contains(sim_tcp::Flags::PSH) {
        b = b.psh();
    }
    let mut opts = [TcpOptionElement::Noop, TcpOptionElement::Noop];
    let mut n = 0;
    if let Some(mss) = seg.mss {
        opts[n] = TcpOptionElement::MaximumSegmentSize(mss);
        n += 1;
    }
    if let Some((val, ecr)) = seg.ts {
        opts[n] = TcpOptionElement::Timestamp(val, ecr);
        n += 1;
    }
    if n > 0 {
        b = b
            .options(&opts[..n])
            .expect("MSS and timestamps fit in the TCP option space");
    }
    let len = seg.len as usize;
    if zeros.len() < len {
        zeros.resize(len, 0);
    }
    buf.clear();
    b.write(buf, &zeros[..len])
        .expect("a simulated segment encodes as an IPv4/TCP packet");
}

/// The `--pcap` file: written to a temporary name beside the target and renamed into
/// place by [`PcapOut::finish`].
pub struct PcapOut {
    writer: PcapWriter<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    buf: Vec<u8>,
    zeros: Vec<u8>,
}

impl PcapOut {
    pub fn create(path: &Path) -> Result<PcapOut, CliError> {
        let tmp = temp_path(path);
        let file = File::create(&tmp).map_err(|e| CliError::io("cannot create", &tmp, e))?;
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            endianness: Endianness::Little,
            ts_resolution: TsResolution::NanoSecond,
            snaplen: 65535,
            ..Default::default()
        };
        let writer = PcapWriter::with_header(BufWriter::new(file), header)
            .map_err(|e| CliError::other(format!("cannot write {}: {e}", tmp.display())))?;
        Ok(PcapOut {
            writer,
            tmp,
            path: path.to_path_buf(),
            buf: Vec::with_capacity(128),
            zeros: Vec::new(),
        })
    }

    /// Appends one segment sent at `now`.
    pub fn write(&mut self, now: SimTime, seg: &Segment) -> Result<(), CliError> {
        encode(seg, &mut self.buf, &mut self.zeros);
        let ts = Duration::from_nanos(now.as_nanos());
        let orig_len = u32::try_from(self.buf.len()).expect("a frame is < 4 GiB");
        self.writer
            .write_packet(&PcapPacket::new(ts, orig_len, &self.buf))
            .map_err(|e| CliError::other(format!("cannot write {}: {e}", self.tmp.display())))?;
        Ok(())
    }

    /// Flushes and renames the file into place.
    pub fn finish(self) -> Result<(), CliError> {
        use std::io::Write;
        let mut w = self.writer.into_writer();
        w.flush()
            .map_err(|e| CliError::io("cannot write", &self.tmp, e))?;
        drop(w);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| CliError::io("cannot rename into place", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use sim_tcp::{Addr, ConnId, DemuxHint, Flags, Seq, SockAddr};

    fn seg(flags: Flags, len: u32) -> Segment {
        Segment {
            src: SockAddr::new(Addr::new(10, 0, 0, 1), 40000),
            dst: SockAddr::new(Addr::new(10, 0, 0, 2), 80),
            seq: Seq(1000),
            ack: Seq(2000),
            flags,
            window: 29200,
            len,
            mss: Some(1460),
            ts: None,
            conn: ConnId(1),
            demux: DemuxHint::NONE,
        }
    }

    #[test]
    fn encodes_headers_and_a_zero_payload_with_valid_checksums() {
        let (mut buf, mut zeros) = (Vec::new(), Vec::new());
        encode(&seg(Flags::SYN | Flags::ACK, 0), &mut buf, &mut zeros);
        let p = SlicedPacket::from_ethernet(&buf).unwrap();
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not IPv4")
        };
        assert_eq!(ip.header().source(), [10, 0, 0, 1]);
        assert_eq!(ip.header().destination(), [10, 0, 0, 2]);
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            panic!("not TCP")
        };
        assert!(tcp.syn() && tcp.ack() && !tcp.fin() && !tcp.rst());
        assert_eq!((tcp.source_port(), tcp.destination_port()), (40000, 80));
        assert_eq!(
            (tcp.sequence_number(), tcp.acknowledgment_number()),
            (1000, 2000)
        );
        assert_eq!(tcp.window_size(), 29200);
        let ip4 = ip.header().to_header();
        let expected = tcp
            .to_header()
            .calc_checksum_ipv4(&ip4, tcp.payload())
            .unwrap();
        assert_eq!(tcp.checksum(), expected);
        drop(p);

        encode(&seg(Flags::ACK | Flags::PSH, 300), &mut buf, &mut zeros);
        let p = SlicedPacket::from_ethernet(&buf).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            panic!("not TCP")
        };
        assert_eq!(tcp.payload().len(), 300);
        assert!(tcp.payload().iter().all(|&b| b == 0));
        assert!(!tcp.syn() && tcp.psh());
    }
}
