//! coral-colony: ingest, storage, topology, mesh hub and API. Not written yet
//! (issue 5); this crate holds no functionality.
