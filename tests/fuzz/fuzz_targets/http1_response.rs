//! The blocking transport's response reading (`http1::message`) over any bytes: the head
//! parser and the body decoder never panic, never claim more bytes than they were given, and
//! a body fed whole, in two pieces or byte by byte decodes to the same bytes, the same end
//! and the same refusal (a Content-Length body never longer than declared).
#![no_main]

use inferencekey_core::http1::message::{parse_head, Body, Decoder, Parsed};
use libfuzzer_sys::fuzz_target;
use reqwest::Method;

/// What decoding `pieces` in turn gives: the body, whether it ended, whether it was refused,
/// and the bytes left unread after it.
fn decode(body: Body, pieces: &[&[u8]]) -> (Vec<u8>, bool, bool, Vec<u8>) {
    let mut decoder = Decoder::new(body);
    let (mut out, mut pending) = (Vec::new(), Vec::new());
    for piece in pieces {
        pending.extend_from_slice(piece);
        match decoder.decode(&pending, &mut out) {
            Ok(used) => {
                assert!(used <= pending.len());
                pending.drain(..used);
            }
            Err(_) => return (out, decoder.is_done(), true, Vec::new()),
        }
    }
    (out, decoder.is_done(), false, pending)
}

/// Heads the first byte may put before the rest, so that every framing's decoder is reached
/// at once (an empty prefix leaves the whole answer to the fuzzer).
const HEADS: [&[u8]; 4] = [
    b"",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n",
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the request method and a head; the second where to cut the body.
    let [pick, cut, rest @ ..] = data else {
        return;
    };
    let method = if pick & 1 == 0 {
        Method::POST
    } else {
        Method::HEAD
    };
    let answer = [HEADS[usize::from(pick >> 1) % HEADS.len()], rest].concat();
    let mut at = 0;
    // Interim answers first, as the transport skips them.
    let (head, rest) = loop {
        match parse_head(&answer[at..], &method) {
            Ok(Some(Parsed::Interim(used))) => {
                assert!(used > 0 && used <= answer.len() - at);
                at += used;
            }
            Ok(Some(Parsed::Final(used, head))) => {
                assert!(used <= answer.len() - at);
                break (head, &answer[at + used..]);
            }
            Ok(None) | Err(_) => return,
        }
    };
    if matches!(head.body, Body::UntilClose) {
        assert!(
            !head.reusable,
            "a close-delimited answer's connection is never kept"
        );
    }
    let cut = usize::from(*cut) % (rest.len() + 1);
    let whole = decode(head.body, &[rest]);
    assert_eq!(decode(head.body, &[&rest[..cut], &rest[cut..]]), whole);
    let bytewise: Vec<&[u8]> = rest.chunks(1).collect();
    assert_eq!(decode(head.body, &bytewise), whole);
    if let (Body::Length(n), (out, _, false, _)) = (head.body, &whole) {
        assert!(out.len() as u64 <= n);
    }
});
