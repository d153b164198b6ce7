//! What the transaction layer refuses: local calls that misuse the API ([`TransactionError`]),
//! and a new server transaction the table has no room for ([`TableFull`]), which is load, not a
//! bug, and is answered 503.

use core::fmt;

use crate::sip::Message;

/// Why a call from the TU or driver was refused. Every variant but
/// [`TableFull`](TransactionError::TableFull) is API misuse: the message or the transaction it
/// named was not one the call takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionError {
    /// A client transaction was asked to send a response.
    NotARequest,
    /// A server transaction was given a request to send as its response.
    NotAResponse,
    /// The request's method does not fit the machine: INVITE for an [`InviteClient`] or
    /// [`InviteServer`] only, any other method but ACK for the non-INVITE ones.
    ///
    /// [`InviteClient`]: super::InviteClient
    /// [`InviteServer`]: super::InviteServer
    WrongMethod,
    /// ACK never has a transaction of its own (RFC 3261 §17): the transaction builds the ACK for
    /// a non-2xx final response, and the TU sends the ACK for a 2xx straight to the transport
    /// (§13.2.2.4).
    Ack,
    /// The request has no top Via with an RFC 3261 branch (`z9hG4bK…`), which every request this
    /// layer sends must carry (RFC 3261 §8.1.1.7): without it responses cannot be matched.
    NoBranch,
    /// A client transaction with the same branch and method exists: branches must be unique
    /// (RFC 3261 §8.1.1.7).
    DuplicateBranch,
    /// The response came after the final one was sent (or the transaction ended) and was
    /// discarded (RFC 3261 §17.2.1, §17.2.2). An INVITE server in the Accepted state still takes
    /// 2xx retransmissions from the TU (RFC 6026 §7.1).
    FinalAlreadySent,
    /// No transaction has that id: it has terminated (see [`Output::Terminated`]).
    ///
    /// [`Output::Terminated`]: super::Output::Terminated
    UnknownTransaction,
    /// The table holds [`Config::max_transactions`](super::Config::max_transactions)
    /// transactions; a proxy answers the request it wanted to forward with 503.
    TableFull,
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotARequest => "a client transaction sends requests",
            Self::NotAResponse => "a server transaction sends responses",
            Self::WrongMethod => "method does not fit this kind of transaction",
            Self::Ack => "ACK has no transaction of its own",
            Self::NoBranch => "top Via has no RFC 3261 branch",
            Self::DuplicateBranch => "a client transaction with this branch and method exists",
            Self::FinalAlreadySent => "the final response was already sent",
            Self::UnknownTransaction => "no such transaction",
            Self::TableFull => "transaction table full",
        })
    }
}

impl std::error::Error for TransactionError {}

/// A request that would have created a server transaction, refused because the table is full
/// ([`Config::max_transactions`](super::Config::max_transactions)). The caller answers it
/// statelessly with 503 Service Unavailable (RFC 3261 §21.5.4; a Retry-After helps), which it
/// builds with [`Message::response`]; an unanswerable request (none here: ACK never creates a
/// transaction) would be dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableFull {
    /// The request, given back to be answered.
    pub request: Box<Message>,
}

impl fmt::Display for TableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("transaction table full: answer 503")
    }
}

impl std::error::Error for TableFull {}
