//! `hiring-analytics healthcheck`: asks a running server's `/healthz`, for container health checks.
//!
//! Plain HTTP/1.1 over a TCP socket, so the runtime image needs no curl.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream, ToSocketAddrs},
    time::Duration,
};

use super::Failure;
use crate::config::HealthcheckArgs;

/// Exits 0 when the server answers `/healthz` with 200, 1 otherwise.
pub fn run(args: HealthcheckArgs) -> Result<(), Failure> {
    let mut address: SocketAddr = args
        .bind
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| Failure::usage(format!("{} is not an address", args.bind)))?;
    // A server listening on every interface is asked on loopback.
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(args.timeout_seconds);
    let status = ask(address, timeout).map_err(|err| {
        Failure::from(anyhow::anyhow!(
            "http://{address}/healthz did not answer: {err}"
        ))
    })?;
    if status == 200 {
        println!("healthy");
        Ok(())
    } else {
        Err(Failure::from(anyhow::anyhow!(
            "http://{address}/healthz answered {status}"
        )))
    }
}

fn ask(address: SocketAddr, timeout: Duration) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..])?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {line:?}")))
}
