//! The cookie of a network namespace, as `bpf_get_netns_cookie` returns it
//! to the program: how user space tells the program which namespace it means.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// `SO_NETNS_COOKIE` (Linux 5.14).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The cookie of the calling thread's network namespace.
pub fn current() -> io::Result<u64> {
    // Any socket will do: its namespace is the thread's.
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: a valid socket and an output buffer of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cookie_is_stable_and_non_zero() {
        let first = super::current().unwrap();
        assert_ne!(first, 0);
        assert_eq!(super::current().unwrap(), first);
    }
}
