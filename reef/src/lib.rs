//! coral-reef: federation of many colonies. Not written yet; this crate holds
//! no functionality.
