//! The traversal link between the C and E roles. (Being built.)
