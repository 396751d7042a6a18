//! Runs a local stand-in server on a free loopback port, on a runtime of its own that lives as
//! long as the test process (tests share one, like the stack).

use std::net::SocketAddr;

pub fn spawn(name: &'static str, app: axum::Router) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("{name} runtime: {e}"),
        };
        rt.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => panic!("{name} listener: {e}"),
            };
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok(addr)
}
