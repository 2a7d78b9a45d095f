//! Incremental Server-Sent Events decoder (wire §6.5 client rules, used by §7.2 too).
//!
//! Bytes go in as they arrive, in chunks cut anywhere (inside a CRLF or a UTF-8 character
//! too); complete events come out as their joined `data`. Only the `data` field is read:
//! comments and `event:`/`id:`/`retry:` (any other field) are skipped, and so are events with
//! no or empty data. Lines end with LF, CRLF or CR. Every byte is scanned once, so long
//! streams cost linear time. Detecting `[DONE]` and decoding JSON are the caller's job.
//! Events are decoded as they are pulled: a chunk holding many events gives its first one
//! after scanning that event alone (the time to a stream's first token), the rest on later
//! pulls. A chunk the caller did not drain is scanned whole when the next one is fed, so at
//! most one chunk waits unscanned.
//! A line, or an event's joined data, longer than the decoder's limit is refused before it is
//! held: a hostile stream cannot make it buffer without bound.

use std::collections::VecDeque;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A line or an event passed the decoder's limit; the stream cannot be read further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

#[derive(Debug)]
pub struct SseDecoder {
    /// The longest line, and the longest joined data of one event, in bytes.
    limit: usize,
    /// The current line, until its terminator arrives.
    line: Vec<u8>,
    /// The joined `data` of the current event.
    data: String,
    /// Whether the current event has a `data` line yet (so the next one is joined with `\n`).
    has_data: bool,
    /// The last byte fed was CR: an LF starting the next chunk ends the same line.
    after_cr: bool,
    /// A first line was seen (a UTF-8 BOM before it is dropped).
    started: bool,
    /// A line or an event passed the limit.
    failed: bool,
    /// The last chunk fed, scanned from `at` as events are pulled.
    unread: Vec<u8>,
    at: usize,
    ready: VecDeque<String>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder::with_limit(crate::config::DEFAULT_MAX_EVENT_BYTES as usize)
    }
}

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// A decoder refusing lines and events longer than `limit` bytes.
    pub fn with_limit(limit: usize) -> SseDecoder {
        SseDecoder {
            limit,
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            after_cr: false,
            started: false,
            failed: false,
            unread: Vec::new(),
            at: 0,
            ready: VecDeque::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Adds bytes from the stream. Once a line or an event passes the limit (seen here, or by
    /// `next_event` as it scans), this and every later call fail; the events completed before
    /// it still come out of `next_event`.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), TooLarge> {
        if !self.failed {
            self.scan(false);
        }
        if !self.failed {
            self.unread.clear();
            self.at = 0;
            // The line left open at the chunk's end: one that passes the limit is refused now,
            // scanning the chunk at once (its complete events still come out first).
            let open_line = match memchr::memrchr2(b'\n', b'\r', chunk) {
                Some(end) => chunk.len() - end - 1,
                None => self.line.len() + chunk.len(),
            };
            if open_line > self.limit {
                self.scan_chunk(chunk, false);
            } else {
                self.unread.extend_from_slice(chunk);
            }
        }
        if self.failed {
            self.release();
            return Err(TooLarge);
        }
        Ok(())
    }

    /// A failed stream keeps nothing but its completed events.
    fn release(&mut self) {
        self.line = Vec::new();
        self.data = String::new();
        self.unread = Vec::new();
        self.at = 0;
    }

    /// Whether a line or an event passed the limit.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Scans the unread bytes: up to the first event completed (`one_event`), or all.
    fn scan(&mut self, one_event: bool) {
        if self.at >= self.unread.len() {
            return;
        }
        let unread = std::mem::take(&mut self.unread);
        let used = self.scan_chunk(&unread[self.at..], one_event);
        self.unread = unread;
        self.at += used;
        if self.failed {
            self.release();
        }
    }

    /// Scans `chunk` line by line: all of it, or up to the line that completes an event
    /// (`one_event`). Returns how many bytes it consumed.
    fn scan_chunk(&mut self, whole: &[u8], one_event: bool) -> usize {
        let mut chunk = whole;
        if chunk.is_empty() {
            return 0;
        }
        if std::mem::take(&mut self.after_cr) && chunk[0] == b'\n' {
            chunk = &chunk[1..];
        }
        let events = self.ready.len();
        while let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) {
            if self.line.is_empty() {
                self.line_done(&chunk[..end]);
            } else if self.line.len() + end > self.limit {
                self.failed = true;
                return whole.len();
            } else {
                // Reuse the buffer's allocation across lines.
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..end]);
                self.line_done(&line);
                line.clear();
                self.line = line;
            }
            let cr = chunk[end] == b'\r';
            if self.failed {
                return whole.len();
            }
            chunk = &chunk[end + 1..];
            if cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            if one_event && self.ready.len() > events {
                return whole.len() - chunk.len();
            }
        }
        if self.line.len() + chunk.len() > self.limit {
            self.failed = true;
            return whole.len();
        }
        self.line.extend_from_slice(chunk);
        whole.len()
    }

    /// The `data` of the next complete event, if one is ready.
    pub fn next_event(&mut self) -> Option<String> {
        if self.ready.is_empty() && !self.failed {
            self.scan(true);
        }
        self.ready.pop_front()
    }

    /// Ends the stream (EOF) and returns the next event still pending. Unlike a browser, a
    /// last event that lacks its blank line (or even its final line end) still counts: some
    /// servers close right after `data: [DONE]`. A frame cut mid-way then fails to decode and
    /// is skipped by the caller like any other bad frame.
    pub fn finish(&mut self) -> Option<String> {
        self.scan(false);
        if self.failed {
            return None;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line);
        }
        self.after_cr = false;
        self.line_done(b"");
        self.next_event()
    }

    fn line_done(&mut self, mut line: &[u8]) {
        if line.len() > self.limit {
            self.failed = true;
            return;
        }
        if !self.started {
            self.started = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.has_data = false;
            let data = std::mem::take(&mut self.data);
            if !data.is_empty() {
                self.ready.push_back(data);
            }
            return;
        }
        if line[0] == b':' {
            return; // comment, e.g. `: keepalive`
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        if name == b"data" {
            // Measured as decoded: invalid UTF-8 grows by its replacement characters.
            // (`from_utf8` first: its check of valid text is several times faster.)
            let text = match std::str::from_utf8(value) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(value),
            };
            if self.data.len() + usize::from(self.has_data) + text.len() > self.limit {
                self.failed = true;
                return;
            }
            if self.has_data {
                self.data.push('\n');
            }
            self.has_data = true;
            self.data.push_str(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut SseDecoder, out: &mut Vec<String>) {
        while let Some(e) = d.next_event() {
            out.push(e);
        }
    }

    fn decode_chunks(chunks: &[&[u8]]) -> Vec<String> {
        let limit = crate::config::DEFAULT_MAX_EVENT_BYTES as usize;
        let (events, failed) = outcome(chunks, limit);
        assert!(!failed);
        events
    }

    /// Every way of cutting `stream` into two and three chunks gives `expected`.
    fn assert_every_split(stream: &[u8], expected: &[&str]) {
        assert_eq!(decode_chunks(&[stream]), expected, "whole");
        for i in 0..=stream.len() {
            assert_eq!(
                decode_chunks(&[&stream[..i], &stream[i..]]),
                expected,
                "split at {i}"
            );
            for j in i..=stream.len() {
                let got = decode_chunks(&[&stream[..i], &stream[i..j], &stream[j..]]);
                assert_eq!(got, expected, "split at {i}, {j}");
            }
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode_chunks(&bytes), expected, "byte by byte");
    }

    #[test]
    fn readiness_frames() {
        let stream =
            b": keepalive\n\ndata: {\"phase\":\"scheduling\"}\n\ndata: {\"phase\":\"ready\"}\n\n";
        assert_every_split(
            stream,
            &[r#"{"phase":"scheduling"}"#, r#"{"phase":"ready"}"#],
        );
    }

    #[test]
    fn line_endings_fields_and_joining() {
        let stream = "\u{feff}event: chunk\r\nid: 7\r\nretry: 10\r\ndata:a\r\ndata:  b\r\n\r\n\
                      data: ¡hé€😀\r\rdata\n\ndata:\ndata\n\ndata: x: y\n\n: c\ndata: [DONE]\n\n"
            .as_bytes();
        assert_every_split(stream, &["a\n b", "¡hé€😀", "\n", "x: y", "[DONE]"]);
    }

    #[test]
    fn blank_and_dataless_events_are_skipped() {
        assert_every_split(b"\n\n\r\nevent: ping\nid: 1\n\ndata:\n\n", &[]);
        assert!(decode_chunks(&[b""]).is_empty());
    }

    #[test]
    fn eof_flushes_an_unterminated_event() {
        assert_every_split(b"data: 1\n\ndata: [DONE]", &["1", "[DONE]"]);
        assert_every_split(b"data: 1\ndata: 2\n", &["1\n2"]);
        assert_every_split(b"data: 1\r", &["1"]);
        let mut d = SseDecoder::new();
        d.feed(b"data: x").unwrap();
        assert_eq!(d.next_event(), None);
        assert_eq!(d.finish().as_deref(), Some("x"));
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn events_queue_until_pulled() {
        let mut d = SseDecoder::new();
        d.feed(b"data: 1\n\ndata: 2\n\ndata: 3").unwrap();
        assert_eq!(d.next_event().as_deref(), Some("1"));
        assert_eq!(d.next_event().as_deref(), Some("2"));
        assert_eq!(d.next_event(), None);
        d.feed(b"\n\n").unwrap();
        assert_eq!(d.next_event().as_deref(), Some("3"));
    }

    #[test]
    fn events_are_scanned_as_they_are_pulled() {
        let mut d = SseDecoder::new();
        d.feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4").unwrap();
        assert_eq!(d.next_event().as_deref(), Some("1"));
        assert_eq!(d.ready.len(), 0, "only the first event was decoded");
        assert_eq!(&d.unread[d.at..], b"data: 2\n\ndata: 3\n\ndata: 4");
        assert_eq!(d.next_event().as_deref(), Some("2"));
        // Fed before 3 was pulled: the rest of the last chunk is scanned then, in order.
        d.feed(b"\n\ndata: 5\n\n").unwrap();
        let rest: Vec<_> = std::iter::from_fn(|| d.next_event()).collect();
        assert_eq!(rest, ["3", "4", "5"]);
        assert_eq!(d.finish(), None);
    }

    /// Fed in chunks as a transport feeds them: the events out before the stream failed, and
    /// whether it did.
    fn outcome(chunks: &[&[u8]], limit: usize) -> (Vec<String>, bool) {
        let mut d = SseDecoder::with_limit(limit);
        let mut out = Vec::new();
        for c in chunks {
            let _ = d.feed(c);
            drain(&mut d, &mut out);
            if d.failed() {
                return (out, true);
            }
        }
        while let Some(e) = d.finish() {
            out.push(e);
        }
        (out, d.failed())
    }

    #[test]
    fn a_limit_fails_the_stream_at_the_same_event_however_it_is_cut() {
        // (The first, "\0)\n" with a limit of 1, was found by the fuzz target: whole, the
        // line is refused as its event is pulled; byte by byte, as it is fed.)
        for (stream, limit, events) in [
            (&b"\0)\n"[..], 1, &[][..]),
            (b"data: 1\n\ndata: 22222\n\ndata: 3\n\n", 8, &["1"][..]),
            (b"data: 1\n\ndata:22\ndata:33\ndata:44\n\n", 7, &["1"][..]),
            (b"data: 1\n\ndata: 4444", 8, &["1"][..]),
        ] {
            let expected = (events.iter().map(|e| e.to_string()).collect(), true);
            assert_eq!(outcome(&[stream], limit), expected, "whole");
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(outcome(&bytes, limit), expected, "byte by byte");
            for i in 0..=stream.len() {
                let (a, b) = stream.split_at(i);
                assert_eq!(outcome(&[a, b], limit), expected, "split at {i}");
            }
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_every_split(b"data: a\xffb\n\n", &["a\u{fffd}b"]);
    }

    #[test]
    fn large_streams_are_linear() {
        let event = format!("data: {}\n\n", "x".repeat(1000));
        let stream = event.repeat(2000);
        let mut d = SseDecoder::new();
        let mut n = 0;
        for chunk in stream.as_bytes().chunks(7) {
            d.feed(chunk).unwrap();
            while d.next_event().is_some() {
                n += 1;
            }
        }
        assert_eq!(n, 2000);
        let huge = format!("data: {}\n\n", "y".repeat(4 << 20));
        let mut d = SseDecoder::new();
        for chunk in huge.as_bytes().chunks(100) {
            d.feed(chunk).unwrap();
        }
        assert_eq!(d.next_event().map(|e| e.len()), Some(4 << 20));
    }

    #[test]
    fn lines_and_events_past_the_limit_are_refused_before_they_are_held() {
        // One line longer than the limit, whether it arrives whole or in pieces.
        for chunk in [64, 7, 1000] {
            let mut d = SseDecoder::with_limit(100);
            let stream = format!("data: ok\n\ndata: {}", "z".repeat(10_000));
            let results: Vec<_> = stream.as_bytes().chunks(chunk).map(|c| d.feed(c)).collect();
            assert!(results.contains(&Err(TooLarge)), "chunks of {chunk}");
            assert!(d.failed());
            assert!(d.line.capacity() <= 100 + chunk, "{}", d.line.capacity());
            assert_eq!(
                d.next_event().as_deref(),
                Some("ok"),
                "earlier events survive"
            );
            assert_eq!(d.next_event(), None);
            assert_eq!(d.finish(), None);
            assert_eq!(
                d.feed(b"\n\n"),
                Err(TooLarge),
                "and the stream stays failed"
            );
        }
        // Short lines whose event passes the limit: refused when the event is pulled (the
        // event's data never grows past the limit), or when the next chunk comes unpulled.
        let refused = |stream: &[u8]| {
            let mut d = SseDecoder::with_limit(100);
            d.feed(stream).unwrap();
            assert_eq!(d.next_event(), None);
            assert!(d.failed());
            assert!(d.data.capacity() == 0 && d.unread.capacity() == 0);
            assert_eq!(d.feed(b"data: 1\n\n"), Err(TooLarge));
            assert_eq!(d.finish(), None);
            let mut d = SseDecoder::with_limit(100);
            d.feed(stream).unwrap();
            assert_eq!(d.feed(b"\n"), Err(TooLarge));
        };
        // Many short data lines joined into one event longer than the limit.
        refused("data: 0123456789\n".repeat(20).as_bytes());
        // Invalid UTF-8 counts as decoded: each byte becomes a 3-byte replacement character.
        refused(&[b"data:".as_slice(), &[0xff; 40], b"\n\n"].concat());
        // At the limit exactly is fine.
        let mut d = SseDecoder::with_limit(100);
        let exact = format!("data:{}\n\n", "a".repeat(95));
        d.feed(exact.as_bytes()).unwrap();
        assert_eq!(d.next_event().map(|e| e.len()), Some(95));
    }
}
