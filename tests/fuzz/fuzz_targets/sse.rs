//! The SSE decoder over any bytes, cut into chunks anywhere: never panics, splitting the
//! stream differently never changes the events, and a small limit (lines or events past it
//! are refused) changes neither rule: the same events come out before the stream fails,
//! whether the limit is seen as a chunk is fed or as its events are pulled.
#![no_main]

use inferencekey_core::sse::SseDecoder;
use libfuzzer_sys::fuzz_target;

/// The events, and whether the limit stopped the stream: read as a transport reads them
/// (feed a chunk, pull its events, then ask whether the stream failed).
fn events(chunks: &[&[u8]], limit: usize) -> (Vec<String>, bool) {
    let mut decoder = SseDecoder::with_limit(limit);
    let mut out = Vec::new();
    for chunk in chunks {
        let fed = decoder.feed(chunk);
        assert!(fed.is_ok() || decoder.failed());
        while let Some(event) = decoder.next_event() {
            assert!(event.len() <= limit);
            out.push(event);
        }
        if decoder.failed() {
            assert!(decoder.feed(b"data: 1\n\n").is_err(), "a failed stream stays failed");
            assert_eq!(decoder.finish(), None);
            return (out, true);
        }
    }
    while let Some(event) = decoder.finish() {
        out.push(event);
    }
    (out, decoder.failed())
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks where to cut the rest in two.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut) % (stream.len() + 1);
    let (head, tail) = stream.split_at(at);
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    // The same byte picks a small limit, so that the fuzzer reaches it.
    for limit in [usize::MAX, 1 + usize::from(cut) % 64] {
        let whole = events(&[stream], limit);
        assert_eq!(events(&[head, tail], limit), whole);
        assert_eq!(events(&bytewise, limit), whole);
    }
});
