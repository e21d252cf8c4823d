package prestart

import (
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/plugctl/plugctl/internal/exerecord"
	"github.com/plugctl/plugctl/store/layout"
)

// go-plugin's client defaults (ClientConfig.MinPort, MaxPort), which
// runtime leaves as they are.
const (
	minPort = "10000"
	maxPort = "25000"
)

// reapGrace bounds Kill's wait for the killed process (runtime's reapGrace).
const reapGrace = 2 * time.Second

// socketRest is what go-plugin adds to the socket directory's path for the
// plugin's socket (runtime's socketFits).
const socketRest = "/plugin-dir0123456789/plugin0123456789"

// Proc is a plugin process that Start started.
type Proc struct {
	Name, Version string
	// Exe is the executable's path in the store, the process's argv[0].
	Exe string
	// ID is the identity of the file that was executed (the open
	// descriptor's, checked against the record).
	ID exerecord.Identity
	// Env is the process's whole environment.
	Env []string
	// SocketDir is the private directory, made in run/, whose path is in
	// Env's PLUGIN_UNIX_SOCKET_DIR; Kill removes it, and whoever adopts the
	// process removes it after the process ended.
	SocketDir string
	Pid       int

	stdout, stderr int // read ends of the pipes, -1 once taken or closed

	mu      sync.Mutex
	outcome string
}

var (
	mu      sync.Mutex
	pending *Proc // started, not yet taken
	last    *Proc // the last one started, for Report
)

// Start starts name@version of the home if it can, and reports what it
// did: "started … early (pid N)", or "no prestart: " and why not.
func Start(home, name, version string) string {
	p, why := start(home, name, version)
	if why != "" {
		return "no prestart: " + why
	}
	mu.Lock()
	pending, last = p, p
	mu.Unlock()
	guardSignals()
	return "started " + name + "@" + version + " early (pid " + strconv.Itoa(p.Pid) + ")"
}

// Until the command handles SIGINT and SIGTERM itself (SignalsHandled),
// one of them, or SIGHUP, would end plugctl without its deferred cleanup:
// Pdeathsig ends the process, but its socket directory would stay in run/.
// So from the start until then they discard the process and are raised
// again.
var (
	sigMu      sync.Mutex
	sigHandled bool
	sigCh      chan os.Signal
)

func guardSignals() {
	sigMu.Lock()
	defer sigMu.Unlock()
	if sigHandled || sigCh != nil {
		return
	}
	sigCh = make(chan os.Signal, 1)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func(ch chan os.Signal) {
		sig, ok := <-ch
		if !ok {
			return
		}
		sigMu.Lock()
		defer sigMu.Unlock()
		if sigHandled {
			return
		}
		Discard()
		// As if nobody had caught it: the default action, or nothing for
		// a signal ignored from the start.
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}(sigCh)
}

// SignalsHandled tells prestart that the command now handles SIGINT and
// SIGTERM (and ends a process it has not adopted on its way out), so the
// signals no longer discard it here.
func SignalsHandled() {
	sigMu.Lock()
	defer sigMu.Unlock()
	sigHandled = true
	if sigCh != nil {
		signal.Stop(sigCh)
		close(sigCh)
		sigCh = nil
	}
}

// Take returns the process Start started and that nobody took yet, or nil.
// The caller adopts it, or kills it.
func Take() *Proc {
	mu.Lock()
	defer mu.Unlock()
	p := pending
	pending = nil
	return p
}

// Discard kills the process Start started if nobody took it.
func Discard() {
	if p := Take(); p != nil {
		p.Kill("not launched")
	}
}

// Report says what became of the process Start started ("" when none).
func Report() string {
	mu.Lock()
	p := last
	mu.Unlock()
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := "started " + p.Name + "@" + p.Version + " early (pid " + strconv.Itoa(p.Pid) + "): "
	if p.outcome == "" {
		return s + "pending"
	}
	return s + p.outcome
}

// Matches reports why p is not what a launch of exe, verified as the file
// of identity id, with environment env would start ("" when it is).
func (p *Proc) Matches(exe string, id exerecord.Identity, env []string) string {
	switch {
	case exe != p.Exe:
		return "another executable: " + exe
	case id != p.ID:
		return "another executable file"
	case !sameEnv(env, p.Env):
		return "another environment"
	}
	return ""
}

// Adopted records that the caller took over the process: its pipes
// (Pipes), reaping it and removing SocketDir.
func (p *Proc) Adopted() {
	p.mu.Lock()
	p.outcome = "adopted"
	p.mu.Unlock()
}

// Pipes returns the read ends of the process's stdout and stderr, once;
// the caller closes them.
func (p *Proc) Pipes() (stdout, stderr *os.File) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fileOf(&p.stdout, "|stdout"), fileOf(&p.stderr, "|stderr")
}

func fileOf(fd *int, name string) *os.File {
	if *fd < 0 {
		return nil
	}
	// Non-blocking, so that os.File reads through the runtime's poller
	// (as exec.Cmd's pipes do) instead of holding a thread.
	_ = syscall.SetNonblock(*fd, true)
	f := os.NewFile(uintptr(*fd), name)
	*fd = -1
	return f
}

// Kill ends a process that will not be adopted, saying why: it kills its
// process group, reaps it, closes the pipes and removes the socket
// directory.
func (p *Proc) Kill(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outcome != "" {
		return
	}
	p.outcome = "not adopted (" + why + "), killed"
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	// Reaped within a bound, as runtime reaps (a process stuck in the
	// kernel may take its time to die; init reaps it once plugctl exits).
	for deadline := time.Now().Add(reapGrace); ; time.Sleep(time.Millisecond) {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(p.Pid, &ws, syscall.WNOHANG, nil)
		if pid == p.Pid || (err != nil && err != syscall.EINTR) || time.Now().After(deadline) {
			break
		}
	}
	for _, fd := range []*int{&p.stdout, &p.stderr} {
		if *fd >= 0 {
			syscall.Close(*fd)
			*fd = -1
		}
	}
	_ = os.RemoveAll(p.SocketDir)
}

// start makes every check and starts the process; why says what stopped it.
func start(home, name, version string) (p *Proc, why string) {
	if !layout.ValidName(name) || !layout.ValidVersion(version) {
		// Paths are built from both: "greeter@.." names no version.
		return nil, "not a plugin name and version"
	}
	euid := uint32(os.Geteuid())
	if _, err := os.Lstat(layout.StartedFile(home, name, version)); !errors.Is(err, fs.ErrNotExist) {
		return nil, "the plugin is started, or its run record unreadable"
	}
	if b, err := layout.ReadFileMax(layout.ConfigFile(home), layout.MaxRecordBytes); err == nil {
		// sigs.k8s.io/yaml matches keys as encoding/json does, without
		// regard to case (Unicode folding: "pluginſ" is "plugins"); a quoted
		// key may spell them with escapes, and the file may be UTF-16.
		// A tag (!!binary) can make a key of bytes that do not spell it.
		if s := strings.ToLower(string(b)); strings.Contains(s, "plugins") || strings.ContainsAny(s, "\\!\x00") || !ascii(b) {
			return nil, "config.yaml may hold plugin settings"
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "config.yaml: " + err.Error()
	}
	b, err := layout.ReadFileMax(layout.ReceiptFile(home, name, version), layout.MaxRecordBytes)
	if err != nil {
		return nil, "receipt: " + err.Error()
	}
	r, err := layout.ParseReceipt(b, name, version)
	if err != nil {
		return nil, "receipt: " + err.Error()
	}
	proto := r.Protocol.WithDefaults(name)
	if proto.Validate() != nil {
		return nil, "the receipt's protocol is not valid"
	}
	if proto.MTLS != layout.MTLSAuto && proto.MTLS != layout.MTLSFalse {
		return nil, "mtls is " + string(proto.MTLS)
	}
	exe, ok := layout.Exe(home, r)
	if !ok || r.BinSHA256 == "" {
		return nil, "the receipt's bin or binSha256 is not usable"
	}
	run := layout.Run(home)
	if len(run)+len(socketRest) >= 104 {
		return nil, "run/ is too deep for a unix socket"
	}
	record := layout.Join(layout.VersionDir(home, name, version), exerecord.File)
	if why := strictModes(home, exe, record, run, euid); why != "" {
		return nil, why
	}

	f, err := os.OpenFile(exe, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "executable: " + err.Error()
	}
	defer f.Close() // the child has exec'd when ForkExec returns
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, "the executable is not a regular file"
	}
	id, ok := exerecord.Of(fi)
	if !ok || !exerecord.Matches(record, id, r.BinSHA256) {
		return nil, "the executable's identity record does not match (it is hashed at launch)"
	}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "\x7fELF" {
		return nil, "not an ELF executable"
	}
	execPath := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	var st syscall.Stat_t
	if syscall.Stat(execPath, &st) != nil {
		return nil, "no /proc"
	}

	if signal.Ignored(os.Interrupt) {
		// Started in the background by a shell: the plugin would inherit
		// the ignored SIGINT, where a launch after the call command's
		// signal.NotifyContext gives it the default action. (Go handles
		// SIGTERM whatever it inherited, and SIGHUP the same either way.)
		return nil, "SIGINT is ignored"
	}
	host, why := hostEnv(os.Environ())
	if why != "" {
		return nil, why
	}
	socketDir, err := os.MkdirTemp(run, "plugin-dir")
	if err != nil {
		return nil, "socket directory: " + err.Error()
	}
	env := append(FilterEnv(host, proto.CookieKey),
		proto.CookieKey+"="+proto.CookieValue,
		"PLUGIN_MIN_PORT="+minPort,
		"PLUGIN_MAX_PORT="+maxPort,
		envVersions+"="+versions(proto.Versions),
		envSocketDir+"="+socketDir,
		"PLUGIN_CLIENT_CERT=",
	)
	if dup := duplicate(env); dup != "" {
		// exec.Cmd would keep only the last of them; ForkExec passes both.
		os.RemoveAll(socketDir)
		return nil, "the plugin's environment would set " + dup + " twice (protocol.cookieKey)"
	}
	p = &Proc{Name: name, Version: version, Exe: exe, ID: id, Env: env, SocketDir: socketDir, stdout: -1, stderr: -1}
	if why := p.fork(execPath); why != "" {
		os.RemoveAll(socketDir)
		return nil, why
	}
	return p, ""
}

// hostEnv is what runtime passes of environ to a plugin by default:
// CleanEnv's variables. An environment with a variable twice, or an entry
// that is not NAME=VALUE, is refused: exec.Cmd would tidy it, and
// Matches compares environments as they are.
func hostEnv(environ []string) ([]string, string) {
	seen := make(map[string]bool, len(environ))
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || seen[k] || strings.IndexByte(kv, 0) >= 0 {
			return nil, "the environment has an entry twice, or one that is not NAME=VALUE"
		}
		seen[k] = true
	}
	return HostEnv(environ, CleanEnv, nil), ""
}

// strictModes is runtime's StrictModes check (checkOwnership), stricter:
// exe and record are regular files and every directory from exe's up to
// home a directory, none a symbolic link, each owned by euid or root and
// writable by neither group nor others; run/ is made the user's, mode 0700.
func strictModes(home, exe, record, run string, euid uint32) string {
	check := func(path string, kind uint32) string {
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return path + ": " + err.Error()
		}
		switch {
		case uint32(st.Mode)&syscall.S_IFMT != kind:
			return path + " is not a plain file or directory"
		case st.Uid != euid && st.Uid != 0:
			return path + " is another user's"
		case uint32(st.Mode)&0o022 != 0:
			return path + " is writable by group or others"
		}
		return ""
	}
	if why := check(exe, syscall.S_IFREG); why != "" {
		return why
	}
	if why := check(record, syscall.S_IFREG); why != "" {
		return why
	}
	for dir := exe[:strings.LastIndexByte(exe, '/')]; ; dir = dir[:strings.LastIndexByte(dir, '/')] {
		if why := check(dir, syscall.S_IFDIR); why != "" {
			return why
		}
		if dir == home || len(dir) <= len(home) {
			break
		}
	}
	return ensureRun(run, euid)
}

// ensureRun makes run/ the user's private directory, as
// store.Paths.EnsureRun does before every launch.
func ensureRun(run string, euid uint32) string {
	var st syscall.Stat_t
	err := syscall.Lstat(run, &st)
	if err == syscall.ENOENT {
		if err := syscall.Mkdir(run, 0o700); err != nil && err != syscall.EEXIST {
			return "run/: " + err.Error()
		}
		err = syscall.Lstat(run, &st)
	}
	switch {
	case err != nil:
		return "run/: " + err.Error()
	case uint32(st.Mode)&syscall.S_IFMT != syscall.S_IFDIR || st.Uid != euid:
		return "run/ is not the user's directory"
	case uint32(st.Mode)&0o777 != 0o700:
		if err := syscall.Chmod(run, 0o700); err != nil {
			return "run/: " + err.Error()
		}
	}
	return ""
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// versions lists the protocol versions as go-plugin's client does, each
// once (it collects them in a map; their order does not matter, Matches
// compares them as a set).
func versions(vs layout.ProtocolVersions) string {
	var out []string
	for _, v := range vs {
		s := strconv.Itoa(v)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ",")
}
