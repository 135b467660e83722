package redistest

import (
	"context"
	"net"
	"os/exec"
	"time"

	"github.com/redis/go-redis/v9"
)

// Restart kills the server (SIGKILL: nothing is saved, and it has no
// persistence anyway) and starts a fresh, empty one on the same address,
// waiting until it answers PING: a Redis restarted without persistence.
func (s *Server) Restart() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		s.t.Fatal(err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir(), "--logfile", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("restart redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rdb.Close()
	deadline := time.Now().Add(15 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 15 s of its restart", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
