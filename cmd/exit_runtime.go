package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/plugctl/plugctl/internal/runner"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/verify"
)

// classifyRuntime maps errors of runtime/ and internal/runner (launching and
// calling plugins) and of signature checks.
func classifyRuntime(err error) (code int, hint string, ok bool) {
	var pe *runtime.PluginError
	var me *runtime.MethodError
	var ae *runtime.ArgError
	var up *runtime.UnsafePathError
	var em *runtime.EnvMismatchError
	var de *runtime.DiagnosticsError
	var fe *runner.FlagError
	switch {
	case errors.As(err, &fe):
		return ExitUsage, "", true
	case errors.As(err, &de) && len(de.Diagnostics) == 0:
		return ExitMethod, "the result on stdout holds the error (err)", true
	case errors.As(err, &de):
		return ExitMethod, "the result on stdout holds the diagnostics", true
	case errors.As(err, &em):
		return ExitUsage, fmt.Sprintf("restart it with these variables: plugctl stop %s@%s && plugctl start %s@%s --env NAME=VALUE...; or call without --env to use those it was started with", em.Name, em.Version, em.Name, em.Version), true
	case errors.As(err, &up):
		return ExitIntegrity, "plugctl runs nothing from a store that someone else can change (like ssh's StrictModes): repair it as shown, then plugctl verify", true
	case errors.Is(err, verify.ErrSignature):
		return ExitIntegrity, "do not use this index: ask its publisher to sign it again, or check the keys given with index add --key", true
	case errors.Is(err, runtime.ErrMethodNotFound):
		return ExitNotFound, "plugctl describe NAME lists the methods", true
	case errors.Is(err, runtime.ErrAmbiguousMethod):
		return ExitUsage, "name the method as SERVICE/METHOD", true
	case errors.Is(err, runtime.ErrBadMetadata):
		return ExitUsage, "give -H 'key: value' with a key of a-z, 0-9, -, _ and . that does not start with grpc-", true
	case errors.Is(err, runtime.ErrGobType):
		return ExitUsage, `net/rpc needs the receiving Go type: wrap the value as {"$gob": "TYPE", "value": VALUE} (plugctl call --help shows the forms)`, true
	case errors.As(err, &ae):
		return ExitUsage, "plugctl describe NAME shows the request's fields", true
	case errors.As(err, &me):
		return ExitMethod, "", true
	case errors.Is(err, runtime.ErrNoPluginCert):
		return ExitPlugin, "the plugin does not speak go-plugin's mTLS: call it with --mtls auto", true
	case errors.Is(err, runtime.ErrUnaskedCert):
		return ExitPlugin, "the plugin speaks go-plugin's mTLS: call it with --mtls true", true
	case errors.Is(err, runtime.ErrBadRunFile):
		return ExitError, "plugctl doctor removes it", true
	case errors.Is(err, runtime.ErrBrokerClosed):
		return ExitPlugin, "restart the plugin: plugctl stop NAME, then plugctl start NAME (keep other go-plugin hosts from attaching to it)", true
	case errors.As(err, &pe):
		if errors.Is(err, context.DeadlineExceeded) {
			return ExitPlugin, "the plugin did not answer in time: raise --timeout, or run with -v to see its output", true
		}
		if pe.Op == runtime.OpHandshake {
			return ExitPlugin, "check the plugin's protocol settings (plugctl info NAME) or run with -v to see its output", true
		}
		return ExitPlugin, "run with -v to see the plugin's output", true
	case errors.Is(err, runtime.ErrNoReflection):
		return ExitError, "give the schema: --proto FILE or --protoset FILE", true
	}
	return 0, "", false
}
