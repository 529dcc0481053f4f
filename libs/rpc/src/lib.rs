//! Serve a tonic gRPC service and its Connect-JSON unary twin on one port.
//!
//! Requests whose `content-type` is `application/grpc*` go to the tonic
//! service; unary procedures registered with [`ConnectRouter::unary`] also
//! answer `POST` with `application/json` (and `GET` with an empty or
//! `?message=` query), so `curl` works against the same URL a gRPC client
//! uses. Errors come back as Connect error bodies
//! (`{"code":"not_found","message":"…"}`) with the matching HTTP status.
//! Extra axum routes (`/healthz`, `/metrics`, …) can be merged in.

mod dispatch;
mod error;
mod operations;
mod rejection;
mod router;
mod server;
mod unary;
mod workers;

pub use dispatch::ConnectService;
pub use error::{ConnectError, code_name, http_status};
pub use operations::display_listen_addr;
pub use rejection::{Rejection, RejectionObserver};
pub use router::{ConnectRouter, DEFAULT_BODY_LIMIT};
pub use server::{ServeOptions, serve};
