package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ownPostgres is a PostgreSQL server the test starts with initdb on a free
// port and may stop and start again; the shared one (5432) is never
// touched.
type ownPostgres struct {
	t       testing.TB
	bin     string // directory of initdb, pg_ctl, postgres
	dir     string // data directory
	sock    string
	port    int
	cred    *syscall.Credential // run as this user when the test runs as root
	running bool
	// durable keeps synchronous_commit on, so a commit PostgreSQL
	// acknowledged survives an immediate stop (a crash of the server
	// process; fsync stays off: the machine itself does not crash). Tests
	// that count acknowledged writes after a stop need it.
	durable bool
}

// pgBinDir finds the machine's PostgreSQL binaries as scripts/services.sh
// does: on PATH, else under /usr/lib/postgresql/<version>/bin.
func pgBinDir(t testing.TB) string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "pg_ctl")); err == nil {
			return filepath.Dir(p)
		}
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(ms) == 0 {
		t.Skip("no initdb on this machine")
	}
	return filepath.Dir(ms[len(ms)-1])
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startOwnPostgres(t testing.TB) *ownPostgres {
	t.Helper()
	p := &ownPostgres{t: t, bin: pgBinDir(t), port: freePort(t)}
	base, err := os.MkdirTemp("", "authledger-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	p.dir, p.sock = filepath.Join(base, "data"), filepath.Join(base, "sock")
	if err := os.Mkdir(p.sock, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, d := range []string{base, p.sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.run("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	p.Start()
	t.Cleanup(func() {
		if p.running {
			p.Stop()
		}
	})
	return p
}

func (p *ownPostgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// DSN is the server's postgres database.
func (p *ownPostgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the server (again) and waits until it answers.
func (p *ownPostgres) Start() {
	p.t.Helper()
	sync := "off"
	if p.durable {
		sync = "on"
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=%s -c full_page_writes=off", p.port, p.sock, sync)
	p.run("pg_ctl", "-D", p.dir, "-o", opts, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "start")
	p.running = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, p.DSN())
		if err == nil {
			_ = c.Close(ctx)
			cancel()
			return
		}
		cancel()
		if time.Now().After(deadline) {
			p.t.Fatalf("own PostgreSQL never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server at once (immediate mode: connections drop).
func (p *ownPostgres) Stop() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "-t", "60", "stop")
	p.running = false
}
