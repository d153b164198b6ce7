//! HTTP/1.1 message framing, sans-IO (being built for issue 7).
