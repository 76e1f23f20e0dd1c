//! Several real `confab` nodes sharing one PostgreSQL schema and one Redis key prefix, each test
//! with its own of both, and a TCP proxy to cut a node off from Redis or PostgreSQL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{PgSchema, Server};

/// Redis as the tests find it (`CONFAB_TEST_REDIS_URL` overrides).
pub fn redis_addr() -> String {
    std::env::var("CONFAB_TEST_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

pub struct Cluster {
    schema: PgSchema,
    /// What the nodes are given as `--database-url` (the schema's own URL, or a proxy in front of it).
    database_url: String,
    prefix: String,
    redis_url: String,
    extra: Vec<String>,
    nodes: Vec<Option<Server>>,
    dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    /// Starts `n` nodes (`n0`, `n1`, ...) on a fresh schema and prefix, talking to Redis at
    /// `redis_addr` (the real one, or a proxy in front of it), each with `extra` arguments.
    pub fn start(n: usize, redis_addr: &str, extra: &[&str]) -> Cluster {
        Cluster::start_via(n, redis_addr, None, extra)
    }

    /// PostgreSQL as the tests find it (`CONFAB_TEST_DATABASE_URL` overrides).
    pub fn database_url() -> String {
        std::env::var("CONFAB_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// Like [`Cluster::start`], with the nodes reaching PostgreSQL at `database_addr` (a proxy).
    pub fn start_via(n: usize, redis_addr: &str, database_addr: Option<&str>, extra: &[&str]) -> Cluster {
        let url = Cluster::database_url();
        let database_url = match database_addr {
            Some(addr) => format!("postgres://postgres@{addr}/test"),
            None => url.clone(),
        };
        let tail: String = (0..12).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
        let schema = PgSchema { url, name: format!("confab_cluster_{tail}") };
        let mut cluster = Cluster {
            schema,
            database_url,
            prefix: format!("confab-test-{tail}:"),
            redis_url: format!("redis://{redis_addr}"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            nodes: Vec::new(),
            dirs: Vec::new(),
        };
        for i in 0..n {
            cluster.dirs.push(tempfile::tempdir().expect("tempdir"));
            cluster.nodes.push(None);
            cluster.start_node(i);
        }
        cluster
    }

    fn args(&self, i: usize) -> Vec<String> {
        let mut args = vec![
            "--redis-url".to_string(),
            self.redis_url.clone(),
            "--redis-prefix".into(),
            self.prefix.clone(),
            "--node-id".into(),
            format!("n{i}"),
        ];
        args.extend(self.extra.iter().cloned());
        args
    }

    /// Starts node `i` (again, after [`Cluster::kill`]) on a new port.
    pub fn start_node(&mut self, i: usize) {
        let args = self.args(i);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let schema = PgSchema { url: self.database_url.clone(), name: self.schema.name.clone() };
        let server = Server::launch(self.dirs[i].path(), "127.0.0.1:0", &args, Some(&schema));
        // Only the cluster's own schema value drops the schema (through the direct URL).
        std::mem::forget(schema);
        self.nodes[i] = Some(server);
    }

    pub fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().expect("node is running")
    }

    /// Stops node `i` gracefully (SIGTERM) and returns its exit code.
    pub fn terminate(&mut self, i: usize) -> Option<i32> {
        let mut server = self.nodes[i].take().expect("node is running");
        server.signal_term();
        server.wait_exit(std::time::Duration::from_secs(20))
    }

    /// Kills node `i` with SIGKILL: no leave, no goodbye to Redis.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut server) = self.nodes[i].take() {
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stop the nodes before their schema is dropped.
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of `target`, which a test can cut (every connection closed, new
/// ones refused) and restore, as a network partition between a node and a service would; or pause
/// (a black hole: connections stay open and nothing more is forwarded either way), as a service
/// that stopped answering would.
pub struct TcpProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
    /// Set by [`TcpProxy::pause`]: every link stops forwarding but keeps its sockets open.
    paused: watch::Sender<bool>,
    /// The sockets of paused links, open until [`TcpProxy::cut`] or the proxy is dropped.
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl TcpProxy {
    pub async fn start(target: &str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (paused, _) = watch::channel(false);
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let target = target.to_string();
        let accept = {
            let (cut, links, paused, held) = (Arc::clone(&cut), Arc::clone(&links), paused.clone(), Arc::clone(&held));
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    if *paused.borrow() {
                        held.lock().push(client);
                        continue;
                    }
                    let (target, mut pause, held) = (target.clone(), paused.subscribe(), Arc::clone(&held));
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&target).await {
                            let was_paused = tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
                                _ = pause.wait_for(|p| *p) => true,
                            };
                            if was_paused {
                                held.lock().extend([client, server]);
                            }
                        }
                    });
                    links.lock().push(link);
                }
            })
        };
        TcpProxy { addr, cut, links, accept, paused, held }
    }

    /// Stops forwarding, either way, on every connection, keeping them open (and holds new ones
    /// without forwarding): what is sent is never answered, and only a timeout can notice.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Closes every proxied connection and refuses new ones until [`TcpProxy::restore`].
    /// (Paused connections are closed too.)
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.paused.send_replace(false);
        for link in self.links.lock().drain(..) {
            link.abort();
        }
        self.held.lock().clear();
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().drain(..) {
            link.abort();
        }
        self.held.lock().clear();
    }
}

impl Server {
    /// A server on a fresh PostgreSQL schema that it reaches at `database_addr` (a proxy in front
    /// of PostgreSQL, on host 127.0.0.1 here). The schema is dropped with the server, through the
    /// direct URL, and a restart reaches PostgreSQL directly.
    pub fn start_on_postgres_via(database_addr: &str, extra: &[&str]) -> Server {
        let tail: String = (0..12).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
        let name = format!("confab_pg_srv_{tail}");
        let via = PgSchema { url: format!("postgres://postgres@{database_addr}/test"), name: name.clone() };
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut server = Server::launch(tmp.path(), "127.0.0.1:0", extra, Some(&via));
        std::mem::forget(via);
        server._tmp = Some(tmp);
        server._schema = Some(PgSchema { url: Cluster::database_url(), name });
        server
    }
}
