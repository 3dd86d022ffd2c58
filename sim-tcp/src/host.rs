//! Host skeleton.
#![allow(unused_variables, dead_code)]
use sim_core::time::{SimDuration, SimTime};

use crate::config::{CostModel, Errno, Linger, TcpConfig};
use crate::segment::{Addr, ConnId, Segment, SockAddr};
use crate::stats::{SocketRecord, Stats};

/// Handle to a socket of one host: slab index plus generation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct SocketId {
    index: u32,
    generation: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEvent {
    Accepted { listener_port: u16 },
    Connected,
    Readable { bytes: u64 },
    EndOfStream,
    Error(Errno),
    CloseReturned { blocked: SimDuration },
    Finished(SocketRecord),
}

pub struct Host {
    addr: Addr,
}

impl Host {
    pub fn new(addr: Addr, cfg: TcpConfig, cost: CostModel, seed: u64) -> Host {
        todo!()
    }
    pub fn addr(&self) -> Addr {
        self.addr
    }
    pub fn listen(&mut self, now: SimTime, port: u16, stats: &mut Stats) -> Result<(), Errno> {
        todo!()
    }
    pub fn connect(
        &mut self,
        now: SimTime,
        remote: SockAddr,
        conn: ConnId,
        stats: &mut Stats,
    ) -> Result<SocketId, Errno> {
        todo!()
    }
    pub fn send(
        &mut self,
        now: SimTime,
        sock: SocketId,
        bytes: u64,
        stats: &mut Stats,
    ) -> Result<(), Errno> {
        todo!()
    }
    pub fn read(&mut self, now: SimTime, sock: SocketId, stats: &mut Stats) -> u64 {
        todo!()
    }
    pub fn shutdown_write(
        &mut self,
        now: SimTime,
        sock: SocketId,
        stats: &mut Stats,
    ) -> Result<(), Errno> {
        todo!()
    }
    pub fn close(&mut self, now: SimTime, sock: SocketId, linger: Linger, stats: &mut Stats) {
        todo!()
    }
    pub fn on_segment(&mut self, now: SimTime, seg: &Segment, stats: &mut Stats) {
        todo!()
    }
    pub fn on_timeout(&mut self, now: SimTime, stats: &mut Stats) {
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<SimTime> {
        todo!()
    }
    pub fn poll_transmit(&mut self) -> Option<Segment> {
        todo!()
    }
    pub fn poll_event(&mut self) -> Option<(SocketId, ConnId, AppEvent)> {
        todo!()
    }
}
