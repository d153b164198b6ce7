//! Any bytes, cut into chunks the input itself chooses, into the HTTP request and response
//! decoders. Nothing may panic; the events do not depend on the chunking; body data is never
//! empty and never over the body limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signaling::http::{Event, HttpError, Limits, RequestDecoder, RequestHead, ResponseDecoder};

/// Feeds `data` in pieces whose sizes cycle through `cuts`, polling after each; then the end.
fn run_requests(
    data: &[u8],
    cuts: &[u8],
    limits: Limits,
) -> Vec<Result<Event<RequestHead>, HttpError>> {
    let mut d = RequestDecoder::new(limits);
    let mut out: Vec<Result<Event<RequestHead>, HttpError>> = Vec::new();
    let mut rest = data;
    let mut i = 0;
    let drain = |d: &mut RequestDecoder, out: &mut Vec<_>| loop {
        match d.poll() {
            Ok(Some(Event::Data(bytes))) => {
                assert!(!bytes.is_empty());
                if let Some(Ok(Event::Data(prev))) = out.last_mut() {
                    prev.extend_from_slice(&bytes);
                } else {
                    out.push(Ok(Event::Data(bytes)));
                }
            }
            Ok(Some(e)) => out.push(Ok(e)),
            Ok(None) => return false,
            Err(e) => {
                out.push(Err(e));
                return true;
            }
        }
    };
    while !rest.is_empty() {
        let n = usize::from(cuts.get(i % cuts.len().max(1)).copied().unwrap_or(255)).max(1);
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        i += 1;
        d.push(piece);
        if drain(&mut d, &mut out) {
            return out;
        }
    }
    d.finish();
    drain(&mut d, &mut out);
    out
}

fuzz_target!(|input: &[u8]| {
    // the first bytes choose the chunking, the rest is the stream
    let split = usize::from(input.first().copied().unwrap_or(0) % 8);
    let (cuts, data) = input
        .get(1..)
        .unwrap_or_default()
        .split_at(split.min(input.len().saturating_sub(1)));
    for limits in [
        Limits::default(),
        Limits {
            max_start_line: 64,
            max_header_line: 64,
            max_headers: 4,
            max_head: 160,
            max_body: 32,
            max_chunk_line: 16,
        },
    ] {
        let chunked = run_requests(data, cuts, limits);
        assert_eq!(
            chunked,
            run_requests(data, &[], limits),
            "chunking changed the events"
        );
        let mut body = 0u64;
        for e in &chunked {
            match e {
                Ok(Event::Head(_)) => body = 0,
                Ok(Event::Data(d)) => {
                    body += d.len() as u64;
                    assert!(body <= limits.max_body);
                }
                _ => {}
            }
        }
        let mut r = ResponseDecoder::new(limits);
        for m in ["GET", "HEAD", "POST", "GET"] {
            r.expect(m);
        }
        r.push(data);
        r.finish();
        while let Ok(Some(_)) = r.poll() {}
    }
});
