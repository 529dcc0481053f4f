//! Coral custom resources. Written in issue 4.
