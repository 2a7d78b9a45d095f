//! The SSE decoder over any bytes, cut into chunks anywhere: never panics, and splitting the
//! stream differently never changes the events.
#![no_main]

use inferencekey_core::sse::SseDecoder;
use libfuzzer_sys::fuzz_target;

fn events(chunks: &[&[u8]]) -> Vec<String> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        while let Some(event) = decoder.next_event() {
            out.push(event);
        }
    }
    while let Some(event) = decoder.finish() {
        out.push(event);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks where to cut the rest in two.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut) % (stream.len() + 1);
    let whole = events(&[stream]);
    let (head, tail) = stream.split_at(at);
    assert_eq!(events(&[head, tail]), whole);
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(events(&bytewise), whole);
});
