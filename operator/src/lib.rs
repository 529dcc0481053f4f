//! coral-operator. Written in issue 4.
