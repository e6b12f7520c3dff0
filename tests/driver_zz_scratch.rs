//! scratch
mod hazard_support;
use std::io::Write;
#[test]
fn array_recv() {
    quartet::run(async {
        let (s, mut peer) = hazard_support::tcp_pair().await.unwrap();
        peer.write_all(b"hello").unwrap();
        let (n, _) = s.recv([0u8; 16]).await;
        println!("array recv -> {:?}", n);
        let (n, _) = s.recv(vec![0u8; 16].into_boxed_slice()).await;
        println!("boxed slice recv -> {:?}", n);
        let (n, b) = s.recv(vec![0u8; 16]).await;
        println!("vec![0;16] recv -> {:?} len {}", n, b.len());
    }).unwrap();
}
