//! The HTTPS edge's own logic, sans-IO (being built for issue 7).
