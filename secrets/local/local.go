// Package local is the embedded profile's secret provider: one JSON file in
// the data dir whose every value is sealed with AES-256-GCM under a master
// key. The master key comes from AUTHLEDGER_MASTER_KEY or is generated on
// first start into a 0600 file beside the secrets. The CLI and the server
// share the directory: writers hold an exclusive flock and replace the file
// by atomic rename, readers re-read it when it changed.
package local

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/authledger/authledger/secrets"
)

// EnvMasterKey names the environment variable holding the base64 master key.
const EnvMasterKey = "AUTHLEDGER_MASTER_KEY"

const (
	fileName   = "secrets.json"
	lockName   = "secrets.lock"
	masterName = "master.key"
	formatV1   = 1
	canaryText = "authledger local secrets canary"
)

// ErrBadMasterKey: the configured master key is not 32 bytes of base64.
var ErrBadMasterKey = errors.New("local secrets: master key must be 32 bytes, base64-encoded")

// Options configures Open.
type Options struct {
	// MasterKey is the 32-byte AES key. Nil: MasterKeyFromEnv, then the
	// master.key file in the directory (generated on first use).
	MasterKey []byte
	// Now is the clock for CreatedAt; nil means time.Now.
	Now func() time.Time
}

// Provider is the local secret provider.
type Provider struct {
	dir  string
	aead cipher.AEAD
	now  func() time.Time

	mu     sync.Mutex
	cached *document
	stamp  fileStamp
}

var _ secrets.Provider = (*Provider)(nil)

type document struct {
	Format  int                `json:"format"`
	Canary  sealed             `json:"canary"`
	Secrets map[string][]entry `json:"secrets"`
}

type sealed struct {
	Nonce string `json:"nonce"`
	CT    string `json:"ct"`
}

type entry struct {
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	sealed
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// MasterKeyFromEnv returns the key in AUTHLEDGER_MASTER_KEY, nil when unset.
func MasterKeyFromEnv() ([]byte, error) {
	raw, ok := os.LookupEnv(EnvMasterKey)
	if !ok || raw == "" {
		return nil, nil
	}
	return decodeMasterKey(raw)
}

func decodeMasterKey(raw string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil || len(k) != 32 {
		return nil, ErrBadMasterKey
	}
	return k, nil
}

// Open prepares dir (0700) and the master key, and checks that the key
// opens an existing secrets file, so a wrong key fails at start, not at the
// first signature.
func Open(dir string, opts Options) (*Provider, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local secrets: %w", err)
	}
	key := opts.MasterKey
	if key == nil {
		var err error
		if key, err = MasterKeyFromEnv(); err != nil {
			return nil, err
		}
	}
	p := &Provider{dir: dir, now: opts.Now}
	if p.now == nil {
		p.now = time.Now
	}
	if key == nil {
		var err error
		if key, err = p.loadOrCreateMasterKey(); err != nil {
			return nil, err
		}
	}
	if len(key) != 32 {
		return nil, ErrBadMasterKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("local secrets: %w", err)
	}
	if p.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("local secrets: %w", err)
	}
	doc, err := p.read()
	if err != nil {
		return nil, err
	}
	if doc.Canary.CT != "" {
		if _, err := p.open(doc.Canary, "canary"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// loadOrCreateMasterKey reads master.key or creates it under the lock, so
// two processes starting together agree on one key.
func (p *Provider) loadOrCreateMasterKey() ([]byte, error) {
	path := filepath.Join(p.dir, masterName)
	var key []byte
	err := p.withLock(func() error {
		b, err := os.ReadFile(path)
		if err == nil {
			key, err = decodeMasterKey(string(b))
			return err
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("local secrets: read master key: %w", err)
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return writeAtomic(p.dir, masterName, []byte(base64.StdEncoding.EncodeToString(key)+"\n"))
	})
	return key, err
}

func (p *Provider) withLock(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(p.dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("local secrets: lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("local secrets: lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	return fn()
}

// writeAtomic replaces dir/name with b (0600) by rename, so a reader sees
// the old or the new file, never half of one.
func writeAtomic(dir, name string, b []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("local secrets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("local secrets: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("local secrets: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("local secrets: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("local secrets: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("local secrets: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// read returns the current document, re-parsing only when the file changed.
func (p *Provider) read() (*document, error) {
	path := filepath.Join(p.dir, fileName)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &document{Format: formatV1, Secrets: map[string][]entry{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", secrets.ErrUnavailable, err)
	}
	stamp := fileStamp{mod: st.ModTime(), size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		stamp.ino = sys.Ino
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached != nil && p.stamp == stamp {
		return p.cached, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", secrets.ErrUnavailable, err)
	}
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil || doc.Format != formatV1 {
		return nil, fmt.Errorf("%w: %s is not a format-1 secrets file", secrets.ErrCorrupt, fileName)
	}
	if doc.Secrets == nil {
		doc.Secrets = map[string][]entry{}
	}
	p.cached, p.stamp = &doc, stamp
	return &doc, nil
}

// aad binds each ciphertext to its name and version, so entries cannot be
// swapped inside the file without failing authentication.
func aad(name string) []byte { return []byte("authledger/secrets/v1\n" + name) }

func (p *Provider) seal(plain []byte, binding string) (sealed, error) {
	nonce := make([]byte, p.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return sealed{}, err
	}
	ct := p.aead.Seal(nil, nonce, plain, aad(binding))
	return sealed{Nonce: base64.RawStdEncoding.EncodeToString(nonce), CT: base64.RawStdEncoding.EncodeToString(ct)}, nil
}

func (p *Provider) open(s sealed, binding string) ([]byte, error) {
	nonce, err1 := base64.RawStdEncoding.DecodeString(s.Nonce)
	ct, err2 := base64.RawStdEncoding.DecodeString(s.CT)
	if err1 != nil || err2 != nil || len(nonce) != p.aead.NonceSize() {
		return nil, secrets.ErrCorrupt
	}
	plain, err := p.aead.Open(nil, nonce, ct, aad(binding))
	if err != nil {
		return nil, secrets.ErrCorrupt
	}
	return plain, nil
}

// update runs fn on a private copy of the document under the lock and
// writes the result atomically.
func (p *Provider) update(fn func(doc *document) error) error {
	return p.withLock(func() error {
		cur, err := p.read()
		if err != nil {
			return err
		}
		doc := &document{Format: formatV1, Canary: cur.Canary, Secrets: make(map[string][]entry, len(cur.Secrets))}
		for k, v := range cur.Secrets {
			doc.Secrets[k] = append([]entry(nil), v...)
		}
		if doc.Canary.CT == "" {
			if doc.Canary, err = p.seal([]byte(canaryText), "canary"); err != nil {
				return err
			}
		}
		if err := fn(doc); err != nil {
			return err
		}
		b, err := json.MarshalIndent(doc, "", " ")
		if err != nil {
			return err
		}
		return writeAtomic(p.dir, fileName, b)
	})
}

func (p *Provider) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := secrets.ValidateName(name); err != nil {
		return "", err
	}
	if len(value) > secrets.MaxValueBytes {
		return "", fmt.Errorf("%w: %d bytes", secrets.ErrTooLarge, len(value))
	}
	var version uint64
	err := p.update(func(doc *document) error {
		versions := doc.Secrets[name]
		version = 1
		if n := len(versions); n > 0 {
			version = versions[n-1].Version + 1
		}
		v := strconv.FormatUint(version, 10)
		s, err := p.seal(value, name+"\n"+v)
		if err != nil {
			return err
		}
		doc.Secrets[name] = append(versions, entry{Version: version, CreatedAt: p.now().UTC(), sealed: s})
		return nil
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(version, 10), nil
}

func (p *Provider) Get(ctx context.Context, name string) (secrets.Secret, error) {
	return p.get(ctx, name, "")
}

func (p *Provider) GetVersion(ctx context.Context, name, version string) (secrets.Secret, error) {
	if version == "" {
		return secrets.Secret{}, fmt.Errorf("%w: %s version \"\"", secrets.ErrNotFound, name)
	}
	return p.get(ctx, name, version)
}

func (p *Provider) get(ctx context.Context, name, version string) (secrets.Secret, error) {
	if err := ctx.Err(); err != nil {
		return secrets.Secret{}, err
	}
	if err := secrets.ValidateName(name); err != nil {
		return secrets.Secret{}, err
	}
	doc, err := p.read()
	if err != nil {
		return secrets.Secret{}, err
	}
	versions := doc.Secrets[name]
	var e *entry
	for i := len(versions) - 1; i >= 0; i-- {
		if version == "" || strconv.FormatUint(versions[i].Version, 10) == version {
			e = &versions[i]
			break
		}
	}
	if e == nil {
		return secrets.Secret{}, fmt.Errorf("%w: %s", secrets.ErrNotFound, name)
	}
	v := strconv.FormatUint(e.Version, 10)
	plain, err := p.open(e.sealed, name+"\n"+v)
	if err != nil {
		return secrets.Secret{}, fmt.Errorf("%w (%s version %s)", err, name, v)
	}
	return secrets.Secret{Name: name, Version: v, Value: secrets.NewValue(plain), CreatedAt: e.CreatedAt}, nil
}

func (p *Provider) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := secrets.ValidateName(name); err != nil {
		return err
	}
	return p.update(func(doc *document) error {
		delete(doc.Secrets, name)
		return nil
	})
}

func (p *Provider) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc, err := p.read()
	if err != nil {
		return nil, err
	}
	var out []string
	for n := range doc.Secrets {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
