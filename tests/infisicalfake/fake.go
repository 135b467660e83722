// Package infisicalfake is an in-process stand-in for an Infisical server,
// for tests only: no Infisical can run on the development machines. It
// serves the REST endpoints github.com/infisical/go-sdk v0.8.0 calls, with
// the request and response shapes of Infisical's API reference (machine
// identity logins, token renewal, the v3 raw secrets endpoints with
// versions, v1 folders), Infisical's error body
// {"statusCode","message","error","reqId"}, and its scoping: an identity
// reads or writes only the (project, environment, secret path) its
// privileges name, and anything else is 403.
//
// Faults are injected per test: a number of 429 or 5xx answers, a latency,
// dropped connections, or the whole server stopped (connection refused)
// and started again on the same address.
//
// What is not modelled: secret imports and references, tags, personal
// overrides, approval policies (change requests), audit logs and the
// secret-versions listing endpoint (the SDK calls none of them).
package infisicalfake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Privilege lets an identity act on one environment of one project, on
// the secret path Path and everything below it.
type Privilege struct {
	Project     string
	Environment string
	Path        string
	Write       bool
}

// Identity is a machine identity with Universal Auth (ClientID and
// ClientSecret) and, optionally, Kubernetes Auth (a service-account JWT
// it accepts).
type Identity struct {
	ID            string
	ClientID      string
	ClientSecret  string
	KubernetesJWT string
	Privileges    []Privilege
}

type version struct {
	n       int
	value   string
	created time.Time
}

type secret struct {
	id       string
	versions []version // versions[i].n == i+1
}

type token struct {
	identity string
	issued   time.Time
	expires  time.Time
	maxUntil time.Time
}

type fault struct {
	status int
	left   int
}

// Server is the fake. The zero value is not usable: call New.
type Server struct {
	// TokenTTL and TokenMaxTTL are the access-token lifetimes logins give
	// (expiresIn, accessTokenMaxTTL). Defaults 2 h and 30 days.
	TokenTTL, TokenMaxTTL time.Duration

	mu         sync.Mutex
	identities map[string]*Identity // by id
	projects   map[string]map[string]bool
	folders    map[string]bool    // project\x00env\x00path
	secrets    map[string]*secret // project\x00env\x00path\x00key
	tokens     map[string]*token
	faults     []fault
	latency    time.Duration
	drop       int
	now        func() time.Time

	addr     string
	srv      *http.Server
	ln       net.Listener
	conns    atomic.Int64
	requests sync.Map // "METHOD /path" -> *atomic.Int64
}

// New returns a stopped fake with the projects and environments given
// (project id → environment slugs). Call Start.
func New(projects map[string][]string) *Server {
	s := &Server{
		TokenTTL: 2 * time.Hour, TokenMaxTTL: 30 * 24 * time.Hour,
		identities: map[string]*Identity{}, projects: map[string]map[string]bool{},
		folders: map[string]bool{}, secrets: map[string]*secret{}, tokens: map[string]*token{},
		now: time.Now,
	}
	for p, envs := range projects {
		s.projects[p] = map[string]bool{}
		for _, e := range envs {
			s.projects[p][e] = true
			s.folders[folderKey(p, e, "/")] = true
		}
	}
	return s
}

// AddIdentity registers a machine identity.
func (s *Server) AddIdentity(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := id
	s.identities[id.ID] = &cp
}

// Start listens on a free loopback port the first time and on the same
// address after a Stop, so a client configured with URL keeps working.
func (s *Server) Start() error {
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger a moment after Stop
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.addr, s.ln = ln.Addr().String(), ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		}}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Stop closes the listener and every connection: calls are refused until
// Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// URL is the site URL a client is configured with (the SDK appends /api).
func (s *Server) URL() string { return "http://" + s.addr }

// Connections counts the TCP connections accepted so far.
func (s *Server) Connections() int64 { return s.conns.Load() }

// Requests counts the calls to "METHOD /api/…path" (no query) so far.
func (s *Server) Requests(methodPath string) int64 {
	if v, ok := s.requests.Load(methodPath); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// FailNext answers the next n calls (logins included) with status
// (429, 500, 502, 503 …) and Infisical's error body.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{status: status, left: n})
}

// ClearFaults drops every queued failure and drop, and the latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.drop, s.latency = nil, 0, 0
}

// DropNext closes the connection of the next n calls without an answer.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop += n
}

// SetLatency delays every answer by d (0: none).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireTokens makes every issued access token expired, as if its TTL
// had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expires = s.now().Add(-time.Second)
	}
}

// SetSecret writes a new version of a secret as a human in the Infisical
// UI would (no identity involved), creating its folders.
func (s *Server) SetSecret(project, env, secretPath, key, value string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := secretPath; ; p = path.Dir(p) {
		s.folders[folderKey(project, env, p)] = true
		if p == "/" {
			break
		}
	}
	return s.put(secretKey(project, env, secretPath, key), value)
}

// Value returns the newest value of a secret, for assertions.
func (s *Server) Value(project, env, secretPath, key string) (string, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[secretKey(project, env, secretPath, key)]
	if !ok {
		return "", 0, false
	}
	v := sec.versions[len(sec.versions)-1]
	return v.value, v.n, true
}

func (s *Server) put(k, value string) int {
	sec, ok := s.secrets[k]
	if !ok {
		sec = &secret{id: newID()}
		s.secrets[k] = sec
	}
	n := len(sec.versions) + 1
	sec.versions = append(sec.versions, version{n: n, value: value, created: s.now()})
	return n
}

func folderKey(project, env, p string) string { return project + "\x00" + env + "\x00" + p }
func secretKey(project, env, p, key string) string {
	return project + "\x00" + env + "\x00" + p + "\x00" + key
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// apiError is Infisical's error body.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	ReqID      string `json:"reqId"`
}

var errorNames = map[int]string{400: "BadRequest", 401: "UnauthorizedError", 403: "PermissionDenied", 404: "NotFound",
	422: "ValidationFailure", 429: "RateLimitExceeded", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// The SDK decodes nothing without this content type.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	name := errorNames[status]
	if name == "" {
		name = http.StatusText(status)
	}
	writeJSON(w, status, apiError{StatusCode: status, Message: msg, Error: name, ReqID: "req-" + newID()[:8]})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.count(r.Method + " " + r.URL.Path)
	s.mu.Lock()
	latency := s.latency
	dropping := s.drop > 0
	if dropping {
		s.drop--
	}
	status := 0
	if !dropping && len(s.faults) > 0 {
		status = s.faults[0].status
		if s.faults[0].left--; s.faults[0].left <= 0 {
			s.faults = s.faults[1:]
		}
	}
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if dropping {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	switch status {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		fail(w, status, "Rate limit exceeded. Please try again in 1 second")
		return
	default:
		fail(w, status, "Something went wrong")
		return
	}

	p := strings.TrimPrefix(r.URL.Path, "/api")
	switch {
	case r.Method == http.MethodPost && p == "/v1/auth/universal-auth/login":
		s.universalLogin(w, r)
	case r.Method == http.MethodPost && p == "/v1/auth/kubernetes-auth/login":
		s.kubernetesLogin(w, r)
	case r.Method == http.MethodPost && p == "/v1/auth/token/renew":
		s.renew(w, r)
	case r.Method == http.MethodGet && p == "/v3/secrets/raw":
		s.list(w, r)
	case strings.HasPrefix(p, "/v3/secrets/raw/"):
		s.secret(w, r, strings.TrimPrefix(p, "/v3/secrets/raw/"))
	case r.Method == http.MethodPost && p == "/v1/folders":
		s.createFolder(w, r)
	case r.Method == http.MethodGet && p == "/v1/folders":
		s.listFolders(w, r)
	default:
		fail(w, http.StatusNotFound, fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path))
	}
}

func (s *Server) count(k string) {
	v, _ := s.requests.LoadOrStore(k, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

type loginAnswer struct {
	AccessToken       string `json:"accessToken"`
	ExpiresIn         int64  `json:"expiresIn"`
	AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
	TokenType         string `json:"tokenType"`
}

func (s *Server) issue(identity string) loginAnswer {
	now := s.now()
	tok := "fake-at-" + newID()
	s.tokens[tok] = &token{identity: identity, issued: now, expires: now.Add(s.TokenTTL), maxUntil: now.Add(s.TokenMaxTTL)}
	return loginAnswer{AccessToken: tok, ExpiresIn: int64(s.TokenTTL / time.Second), AccessTokenMaxTTL: int64(s.TokenMaxTTL / time.Second), TokenType: "Bearer"}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "Invalid request body")
		return false
	}
	return true
}

func (s *Server) universalLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.identities {
		if id.ClientID != "" && id.ClientID == in.ClientID &&
			subtle.ConstantTimeCompare([]byte(id.ClientSecret), []byte(in.ClientSecret)) == 1 {
			writeJSON(w, http.StatusOK, s.issue(id.ID))
			return
		}
	}
	fail(w, http.StatusUnauthorized, "Invalid credentials")
}

func (s *Server) kubernetesLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		IdentityID string `json:"identityId"`
		JWT        string `json:"jwt"`
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.identities[in.IdentityID]
	if !ok || id.KubernetesJWT == "" || subtle.ConstantTimeCompare([]byte(id.KubernetesJWT), []byte(in.JWT)) != 1 {
		fail(w, http.StatusUnauthorized, "Access denied: Kubernetes service account token is invalid")
		return
	}
	writeJSON(w, http.StatusOK, s.issue(id.ID))
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AccessToken string `json:"accessToken"`
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[in.AccessToken]
	now := s.now()
	if !ok || now.After(t.expires) {
		fail(w, http.StatusUnauthorized, "Failed to renew MI access token: token expired")
		return
	}
	if !now.Add(s.TokenTTL).Before(t.maxUntil) {
		fail(w, http.StatusUnauthorized, "Failed to renew MI access token due to TTL expiration")
		return
	}
	t.expires = now.Add(s.TokenTTL)
	writeJSON(w, http.StatusOK, loginAnswer{AccessToken: in.AccessToken, ExpiresIn: int64(s.TokenTTL / time.Second),
		AccessTokenMaxTTL: int64(s.TokenMaxTTL / time.Second), TokenType: "Bearer"})
}

// authorize finds the caller's identity (401 without a live token) and
// checks its privilege on (project, env, secretPath) (403 without one).
// It holds s.mu.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, project, env, secretPath string, write bool) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t, found := s.tokens[raw]
	if !ok || !found {
		fail(w, http.StatusUnauthorized, "Invalid token")
		return false
	}
	if s.now().After(t.expires) {
		fail(w, http.StatusUnauthorized, "Token expired")
		return false
	}
	id := s.identities[t.identity]
	for _, p := range id.Privileges {
		if p.Project == project && p.Environment == env && under(secretPath, p.Path) && (p.Write || !write) {
			if !s.projects[project][env] {
				fail(w, http.StatusNotFound, fmt.Sprintf("Environment with slug '%s' in project with ID '%s' not found", env, project))
				return false
			}
			return true
		}
	}
	action := "read"
	if write {
		action = "edit"
	}
	fail(w, http.StatusForbidden, fmt.Sprintf("You are not allowed to %s on secrets", action))
	return false
}

// under says whether p is base or inside it.
func under(p, base string) bool {
	base = strings.TrimSuffix(base, "/")
	return p == base || base == "" || strings.HasPrefix(p, base+"/")
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + p)
}

type secretJSON struct {
	ID            string   `json:"id"`
	Workspace     string   `json:"workspace"`
	Environment   string   `json:"environment"`
	Version       int      `json:"version"`
	Type          string   `json:"type"`
	SecretKey     string   `json:"secretKey"`
	SecretValue   string   `json:"secretValue"`
	SecretComment string   `json:"secretComment"`
	SecretPath    string   `json:"secretPath"`
	Tags          []string `json:"tags"`
}

func render(project, env, p, key string, sec *secret, v version) secretJSON {
	return secretJSON{ID: sec.id, Workspace: project, Environment: env, Version: v.n, Type: "shared",
		SecretKey: key, SecretValue: v.value, SecretPath: p, Tags: []string{}}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	project, env, p := q.Get("workspaceId"), q.Get("environment"), cleanPath(q.Get("secretPath"))
	recursive := q.Get("recursive") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r, project, env, p, false) {
		return
	}
	if !s.folders[folderKey(project, env, p)] {
		fail(w, http.StatusNotFound, fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", p, env))
		return
	}
	out := []secretJSON{}
	prefix := project + "\x00" + env + "\x00"
	for k, sec := range s.secrets {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		sp, key, _ := strings.Cut(rest, "\x00")
		if sp == p || (recursive && under(sp, p)) {
			out = append(out, render(project, env, sp, key, sec, sec.versions[len(sec.versions)-1]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out, "imports": []any{}})
}

func (s *Server) secret(w http.ResponseWriter, r *http.Request, key string) {
	var project, env, p, value string
	versionN := 0
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		project, env, p = q.Get("workspaceId"), q.Get("environment"), cleanPath(q.Get("secretPath"))
		if v := q.Get("version"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				fail(w, http.StatusUnprocessableEntity, `[{"code":"invalid_type","path":["version"]}]`)
				return
			}
			versionN = n
		}
	} else {
		var in struct {
			WorkspaceID string  `json:"workspaceId"`
			Environment string  `json:"environment"`
			SecretPath  string  `json:"secretPath"`
			SecretValue *string `json:"secretValue"`
		}
		if !decode(w, r, &in) {
			return
		}
		project, env, p = in.WorkspaceID, in.Environment, cleanPath(in.SecretPath)
		if in.SecretValue != nil {
			value = *in.SecretValue
		}
	}
	write := r.Method != http.MethodGet
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r, project, env, p, write) {
		return
	}
	k := secretKey(project, env, p, key)
	sec, exists := s.secrets[k]
	notFound := func() {
		fail(w, http.StatusNotFound, fmt.Sprintf("Secret with name '%s' not found", key))
	}
	switch r.Method {
	case http.MethodGet:
		if !exists {
			notFound()
			return
		}
		v := sec.versions[len(sec.versions)-1]
		if versionN != 0 {
			if versionN > len(sec.versions) {
				fail(w, http.StatusNotFound, fmt.Sprintf("Secret version %d of '%s' not found", versionN, key))
				return
			}
			v = sec.versions[versionN-1]
		}
		writeJSON(w, http.StatusOK, map[string]any{"secret": render(project, env, p, key, sec, v)})
	case http.MethodPost:
		if !s.folders[folderKey(project, env, p)] {
			fail(w, http.StatusNotFound, fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", p, env))
			return
		}
		if exists {
			fail(w, http.StatusBadRequest, "Secret already exist")
			return
		}
		s.put(k, value)
		sec = s.secrets[k]
		writeJSON(w, http.StatusOK, map[string]any{"secret": render(project, env, p, key, sec, sec.versions[0])})
	case http.MethodPatch:
		if !exists {
			notFound()
			return
		}
		s.put(k, value)
		writeJSON(w, http.StatusOK, map[string]any{"secret": render(project, env, p, key, sec, sec.versions[len(sec.versions)-1])})
	case http.MethodDelete:
		if !exists {
			notFound()
			return
		}
		delete(s.secrets, k)
		writeJSON(w, http.StatusOK, map[string]any{"secret": render(project, env, p, key, sec, sec.versions[len(sec.versions)-1])})
	default:
		fail(w, http.StatusNotFound, fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path))
	}
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		WorkspaceID string `json:"workspaceId"`
		Environment string `json:"environment"`
		Name        string `json:"name"`
		Path        string `json:"path"`
	}
	if !decode(w, r, &in) {
		return
	}
	parent := cleanPath(in.Path)
	full := path.Join(parent, in.Name)
	if in.Name == "" || strings.Contains(in.Name, "/") {
		fail(w, http.StatusUnprocessableEntity, `[{"code":"custom","message":"Invalid folder name","path":["name"]}]`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r, in.WorkspaceID, in.Environment, full, true) {
		return
	}
	if !s.folders[folderKey(in.WorkspaceID, in.Environment, parent)] {
		fail(w, http.StatusNotFound, fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", parent, in.Environment))
		return
	}
	// Infisical answers an existing folder with that folder.
	s.folders[folderKey(in.WorkspaceID, in.Environment, full)] = true
	writeJSON(w, http.StatusOK, map[string]any{"folder": map[string]any{"id": newID(), "name": in.Name, "version": 1}})
}

func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	project, env, p := q.Get("workspaceId"), q.Get("environment"), cleanPath(q.Get("path"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r, project, env, p, false) {
		return
	}
	out := []map[string]any{}
	prefix := project + "\x00" + env + "\x00"
	for k := range s.folders {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != p && path.Dir(rest) == p {
			out = append(out, map[string]any{"id": newID(), "name": path.Base(rest), "version": 1})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"folders": out})
}

// Values returns every version's stored value and every access token
// issued, for tests that search output for secret material.
func (s *Server) Values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sec := range s.secrets {
		for _, v := range sec.versions {
			out = append(out, v.value)
		}
	}
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

// HasFolder says whether a folder exists.
func (s *Server) HasFolder(project, env, folder string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.folders[folderKey(project, env, cleanPath(folder))]
}
