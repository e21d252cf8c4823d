package cmd

import (
	"errors"
	"fmt"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/profile"
	"github.com/plugctl/plugctl/publish"
)

// classifyManage maps errors of installing, indexes and downloads.
func classifyManage(err error) (code int, hint string, ok bool) {
	var nf *index.NotFoundError
	var he *fetch.HTTPError
	var nk *publish.NeedsKeyError
	var ra *fetch.RegistryAuthError
	var pc *index.ProtocolChangeError
	var ds *fetch.DoubleSlashError
	var le *install.LockError
	var ce *index.CacheError
	var lm *install.LockMismatchError
	var pu *profile.UnknownError
	var su *install.SchemaUnavailableError
	switch {
	case errors.Is(err, fetch.ErrLocalFromRemote):
		return ExitIntegrity, "an index served over http(s) or git may name artifacts only by remote address or by a path relative to itself: tell its publisher; only an index added by path may name local files", true
	case errors.As(err, &le):
		return ExitError, "another plugctl command is changing " + le.What + ": let it finish, or raise --timeout", true
	case errors.As(err, &ra):
		return ExitError, "log in to the registry: docker login " + ra.Registry + " (or oras login " + ra.Registry + "); plugctl reads the credentials they store in Docker's config ($DOCKER_CONFIG or ~/.docker/config.json), or a token from " + fetch.TokenEnv(ra.Registry), true
	case errors.As(err, &ds):
		return ExitUsage, "write the URL with single slashes: " + ds.Fixed(), true
	case errors.As(err, &pc):
		return ExitUsage, "publish the new protocol under a new plugin name, or pass --force to change it for those versions too (clients that installed them keep the old settings in their receipts)", true
	case errors.Is(err, index.ErrUsage):
		return ExitUsage, "", true
	case errors.As(err, &nk):
		return ExitUsage, "pass --key PREFIX.key (plugctl index keygen PREFIX makes a pair) and have the mirror's clients trust PREFIX.pub (plugctl index add NAME DIR/index.yaml --key PREFIX.pub)", true
	case errors.As(err, &lm):
		return ExitIntegrity, fmt.Sprintf("if the lock file is right: plugctl remove %s@%s, then plugctl sync", lm.Name, lm.Version), true
	case errors.Is(err, install.ErrTampered):
		return ExitIntegrity, "plugctl reinstall NAME@VERSION fetches it again from its recorded source (plugctl doctor --reinstall does it for every changed version)", true
	case errors.As(err, &su):
		return ExitIntegrity, fmt.Sprintf("install it again with its schema: plugctl install --from SOURCE --sha256 HEX --name %s --version %s --proto FILE (or --protoset FILE) --force, with --save to record the schema in %s", su.Name, su.Version, install.LockFileName), true
	case errors.Is(err, install.ErrNoSource):
		return ExitError, "install it again with plugctl install --from SOURCE --sha256 HEX --name N --version V --force", true
	case errors.As(err, &nf):
		switch nf.What {
		case "index":
			return ExitNotFound, "see plugctl index list", true
		case "platform":
			return ExitNotFound, "run plugctl info " + nameOnly(nf.Name) + " to see the platforms offered", true
		case "version":
			return ExitNotFound, "run plugctl info " + nf.Name + " to see the versions offered", true
		}
		return ExitNotFound, "run plugctl search to see what the configured indexes offer (plugctl index update refreshes them)", true
	case errors.Is(err, install.ErrNoLock):
		return ExitNotFound, "plugctl install NAME --save writes one; --lock FILE reads another", true
	case errors.As(err, &ce):
		return ExitError, "run plugctl index update " + ce.Index + " to fetch it again", true
	case errors.Is(err, index.ErrNotCached):
		return ExitNotFound, "run plugctl index update", true
	case errors.As(err, &he) && he.Status == 404, errors.Is(err, fetch.ErrNotFound):
		return ExitNotFound, "check the address", true
	case errors.Is(err, index.ErrUnquotedHash):
		return ExitError, `quote the hash in the index: sha256: "0123…" (plugctl publish writes hashes quoted; plugctl index lint finds every unquoted one)`, true
	case errors.Is(err, index.ErrMalformed) && errors.As(err, &pu):
		return ExitError, "fix the index file: " + profilesHint, true
	case errors.Is(err, index.ErrMalformed):
		return ExitError, "fix the index file (plugctl index lint checks it)", true
	}
	return 0, "", false
}

// profilesHint is the advice for a profile name plugctl does not know.
const profilesHint = "plugctl profiles lists the profiles and what each sets"
