//! `--pcap`: tshark reads the file as valid TCP conversations with good checksums.
//! Skipped (with a note) when tshark is absent, unless TCPSIM_REQUIRE_TSHARK is set.

mod common;

use std::process::Command;

use common::run_with;

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("TCPSIM_REQUIRE_TSHARK").is_none(),
            "TCPSIM_REQUIRE_TSHARK is set but tshark is not installed"
        );
        eprintln!("note: tshark not found, skipping the pcap check (apt-get install tshark)");
    }
    ok
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tshark_reads_the_handshake_as_one_clean_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("handshake.pcap");
    let r = run_with("handshake", &[], false, Some(&pcap));
    assert!(pcap.exists());
    assert_eq!(r.summary.completed, 1);
    // The same run gives the same pcap bytes.
    let pcap2 = tmp.path().join("again.pcap");
    run_with("handshake", &[], false, Some(&pcap2));
    assert_eq!(
        std::fs::read(&pcap).unwrap(),
        std::fs::read(&pcap2).unwrap()
    );
    if !tshark_available() {
        return;
    }
    let p = pcap.to_str().unwrap();
    let fields = tshark(&[
        "-r",
        p,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.relative_sequence_numbers:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=,",
        "-e",
        "tcp.stream",
        "-e",
        "tcp.flags.syn",
        "-e",
        "tcp.flags.ack",
        "-e",
        "tcp.flags.fin",
        "-e",
        "tcp.flags.reset",
        "-e",
        "tcp.len",
        "-e",
        "tcp.checksum.status",
        "-e",
        "ip.checksum.status",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 7, "{fields}");
    assert!(
        rows.iter().all(|r| r[0] == "0"),
        "one conversation:\n{fields}"
    );
    let flag = |r: &Vec<&str>, i: usize| r[i] == "1" || r[i] == "True";
    // SYN, SYN-ACK, then ACKs; two FINs; no RST; every checksum verified good.
    assert!(
        flag(&rows[0], 1) && !flag(&rows[0], 2),
        "first is a SYN:\n{fields}"
    );
    assert!(
        flag(&rows[1], 1) && flag(&rows[1], 2),
        "then a SYN-ACK:\n{fields}"
    );
    assert_eq!(
        rows.iter().filter(|r| flag(r, 3)).count(),
        2,
        "two FINs:\n{fields}"
    );
    assert!(rows.iter().all(|r| !flag(r, 4)), "no RST:\n{fields}");
    let payload: u64 = rows.iter().map(|r| r[5].parse::<u64>().unwrap()).sum();
    assert_eq!(
        payload, 1100,
        "request 100 + response 1000 bytes:\n{fields}"
    );
    // Wireshark checksum status 1 = good (0 bad, 2 unverified).
    assert!(
        rows.iter().all(|r| r[6] == "1" && r[7] == "1"),
        "TCP and IPv4 checksums:
{fields}"
    );
    // tshark's expert analysis finds nothing wrong (no malformed packets, no
    // retransmissions or out-of-order segments in a clean run).
    let expert = tshark(&["-r", p, "-q", "-z", "expert,warn"]);
    assert!(!expert.contains("Malformed"), "{expert}");
    let conv = tshark(&["-r", p, "-q", "-z", "conv,tcp"]);
    assert!(
        conv.contains("10.0.0.1") && conv.contains("10.0.0.2"),
        "{conv}"
    );
}
