//! SIP (RFC 3261), sans-IO: messages, URIs and headers, stream framing; the transaction layer
//! arrives next. (Being built.)
