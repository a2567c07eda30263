package modaltest

import (
	"crypto/rand"
	"sort"
	"sync"
	"time"
)

// state is what the two services share. mu guards every field but pgids;
// each sandbox has its own lock. Lock order: mu before a sandbox's lock, never
// the other way round.
type state struct {
	mu sync.Mutex

	closed      bool
	tokenID     string
	tokenSecret string

	envs     map[string]string // environment name to id
	apps     map[appKey]*app
	appsByID map[string]*app
	images   map[string]*image // by image id
	imageKey map[string]*image // by build definition, so the same image keeps its id

	sandboxes map[string]*sandbox // by sandbox id
	byTask    map[string]*sandbox // by task id
	order     []*sandbox          // creation order

	created     int
	terminated  int
	maxLive     int     // 0: unlimited
	lastCreated float64 // unix seconds of the newest sandbox, kept strictly increasing

	pgMu  sync.Mutex       // guards pgids only, so it can be taken under a sandbox's lock
	pgids map[int]struct{} // every process group an exec was started in
}

type appKey struct{ env, name string }

type app struct {
	id, name, env string
}

type image struct {
	id       string
	appID    string
	commands []string // Dockerfile commands, e.g. ["FROM python:3.12-slim"]
}

func (st *state) init(tokenID, tokenSecret string) {
	st.tokenID, st.tokenSecret = tokenID, tokenSecret
	st.envs = map[string]string{}
	st.apps = map[appKey]*app{}
	st.appsByID = map[string]*app{}
	st.images = map[string]*image{}
	st.imageKey = map[string]*image{}
	st.sandboxes = map[string]*sandbox{}
	st.byTask = map[string]*sandbox{}
	st.pgids = map[int]struct{}{}
}

func (st *state) tokens() (string, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.tokenID, st.tokenSecret
}

func (st *state) lookupSandbox(id string) *sandbox {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sandboxes[id]
}

func (st *state) lookupTask(taskID string) *sandbox {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.byTask[taskID]
}

func (st *state) allSandboxes() []*sandbox {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]*sandbox(nil), st.order...)
}

// nextCreatedAt returns a creation time strictly after every earlier one, so
// SandboxListV2's before_timestamp pagination never stalls. Caller holds mu.
func (st *state) nextCreatedAt() float64 {
	t := float64(time.Now().UnixNano()) / 1e9
	if t <= st.lastCreated {
		t = st.lastCreated + 1e-6
	}
	st.lastCreated = t
	return t
}

func (st *state) addPgid(pgid int) {
	st.pgMu.Lock()
	defer st.pgMu.Unlock()
	st.pgids[pgid] = struct{}{}
}

func (st *state) pgidList() []int {
	st.pgMu.Lock()
	defer st.pgMu.Unlock()
	out := make([]int, 0, len(st.pgids))
	for p := range st.pgids {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n random base62 characters.
func randomBase62(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("modaltest: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return string(b)
}

// ID formats. Sandbox ids deliberately do not have the V1 shape
// ("sb-" + 22 base62 characters): the SDK routes those to the V1 API.
func newAppID() string     { return "ap-" + randomBase62(22) }
func newImageID() string   { return "im-" + randomBase62(22) }
func newSandboxID() string { return "sb2-" + randomBase62(22) }
func newTaskID() string    { return "ta-" + randomBase62(22) }
func newEnvID() string     { return "en-" + randomBase62(22) }
