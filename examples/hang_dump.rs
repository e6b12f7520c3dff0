//! A program that hangs on purpose, and what the task-tree dump says about it.
//!
//! Two tasks never make progress: `reader` waits for data on a TCP connection whose peer never
//! writes, and `locker` waits for a lock the main body holds. An "admin" thread asks the runtime
//! for its task tree (`introspect::dump_handle`), prints it, sends the process `SIGUSR1` (the
//! builder's `dump_on_sigusr1` prints the tree to stderr as well), then cancels the nursery so the
//! example ends.
//!
//! ```text
//! cargo run --example hang_dump
//! ```

use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, Lock, nursery};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    quartet::Builder::new().dump_on_sigusr1(true).run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
        let _client = TcpStream::connect(listener.local_addr()?).await?;
        let (conn, _) = listener.accept().await?;
        let lock = Lock::new(());
        let handle = quartet::introspect::dump_handle().ok_or("not in a runtime")?;
        nursery(async |n| -> Result<(), BoxError> {
            let (conn, lock) = (&conn, &lock);
            n.spawn_named("reader", async move {
                let (res, _buf) = conn.recv(Vec::with_capacity(4096)).await; // never gets data
                res.map(drop)
            })?;
            let _held = lock.lock().await?;
            n.spawn_named("locker", async move {
                let _guard = lock.lock().await?; // the body holds it until the end
                Ok::<(), BoxError>(())
            })?;
            let cancel = n.cancel_handle();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200)); // let both tasks park
                match handle.request(Duration::from_secs(5)) {
                    Ok(tree) => println!("task tree, asked from another thread:\n{tree}"),
                    Err(e) => eprintln!("no dump: {e}"),
                }
                // SAFETY: raising a signal on our own process; the builder installed a handler.
                unsafe { libc::raise(libc::SIGUSR1) };
                std::thread::sleep(Duration::from_millis(200));
                cancel.cancel();
            });
            quartet::sleep(Duration::from_secs(3600)).await?; // the body hangs too
            Ok(())
        })
        .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?
}
