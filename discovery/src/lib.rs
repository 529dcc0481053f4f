//! coral-discovery. Written in issue 3.
