// Package testproc is the one harness for tests that run real processes:
// pika-node, Debian's etcd, redis-server, haproxy. It is for tests only.
//
// It owns:
//   - building the binaries (BuildPikaNode, BuildPikactl), once per test
//     binary from its TestMain;
//   - picking free loopback ports (FreePort, Port, Loopback);
//   - a child process with its output in a log file (Proc: Start, or Spawn
//     outside a test; Kill with SIGKILL, Stop with SIGTERM and a deadline,
//     Exited, Tail and DumpLog of the log's last lines);
//   - a pika-node process (Node: StartNode, SpawnNode; its RESP, peer and
//     HTTP addresses; /healthz and WaitHealthy), started with the tests'
//     admin token (AdminToken) and the lowest bcrypt cost;
//   - Debian's etcd as a process (Etcd: StartEtcd, SpawnEtcd; over TLS
//     with client certificates: StartEtcdTLS), and an embedded etcd in
//     this process (StartEmbeddedEtcd, EmbeddedEtcdArgs);
//   - a test certificate authority with server and client certificates
//     (WriteTLSFiles);
//   - waiting for a condition: WaitFor in a test, Poll outside one (in a
//     TestMain), which gives up early when a process has exited;
//   - a throw-away redis-server with a RESP2 connection (Redis:
//     StartRedis, Do, Eval), and the comparison of Lua scripts run on it
//     with the same scripts run by gopher-lua (CompareLua, RunLua,
//     LuaReply, LuaDumpPrelude), for the tests of the Lua libraries of
//     node/script.
//
// Start, StartNode and StartEtcd tie the process to a test: it is killed
// at the test's cleanup, and the last lines of its log are logged when the
// test failed. Spawn, SpawnNode and SpawnEtcd leave that to the caller,
// for processes a TestMain shares between tests.
package testproc
