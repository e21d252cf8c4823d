package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/runtime"
)

type doctorJSON struct {
	OK       bool              `json:"ok"`
	Problems []install.Problem `json:"problems"`
}

type doctorOptions struct {
	g         *Global
	DryRun    bool
	Reinstall bool
}

func newDoctorCmd(g *Global) *cobra.Command {
	o := &doctorOptions{g: g}
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the home, repair what is safe to repair, and say how to fix the rest",
		Long: `Check the plugctl home: config.yaml readable; every configured index cached;
every receipt readable, its executable present and matching its hash (and the
whole pkg/ tree its tree hash); the active version of each plugin installed;
no leftovers of interrupted installs, removals or index updates in tmp/; no
version directory without a receipt; no run files of started plugins whose
process died and no process left by a start that was killed midway; run/
private (0700); every file that steers a launch (executable, receipt,
config.yaml, schema) and the directories above it up to the home owned by
you or root and not writable by others, as call requires.

Leftovers, stale run files, directories without a receipt, an active version
that is gone and run/'s mode are repaired at once (--dry-run only reports).
What cannot be repaired safely (a changed binary, an unreadable config or
receipt, an index never fetched) is printed with the command that fixes it,
and doctor exits 1. It exits 0 when nothing is wrong or everything found was
repaired.

doctor never downloads: a version whose files changed or went missing is
reported with plugctl reinstall NAME@VERSION, which fetches it again from the
source and hash its receipt records. --reinstall runs that for every such
version.`,
		Example: "  plugctl doctor\n  plugctl doctor --dry-run -o json\n  plugctl doctor --reinstall",
		Args:    args(0, 0),
		RunE:    func(cmd *cobra.Command, a []string) error { return doctorRun(cmd.Context(), o) },
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "report only; repair nothing")
	c.Flags().BoolVar(&o.Reinstall, "reinstall", false, "fetch every changed or missing version again from its receipt's source (plugctl reinstall)")
	return c
}

func doctorRun(ctx context.Context, o *doctorOptions) error {
	g := o.g
	if o.DryRun && o.Reinstall {
		return usageErrorf("--reinstall repairs, --dry-run repairs nothing: give one")
	}
	in, err := g.Installer()
	if err != nil {
		return err
	}
	probs, err := in.Doctor(o.DryRun)
	if err != nil {
		return err
	}
	if o.Reinstall {
		ctx, cancel := g.withTimeout(ctx)
		defer cancel()
		in.ReinstallTampered(ctx, probs)
	}
	// What call would refuse to launch (StrictModes), once per path.
	seen := map[string]bool{}
	for _, u := range runtime.UnsafeVersions(in.Paths) {
		pr := install.Problem{Kind: "unsafe", Subject: u.Name + "@" + u.Version, Message: u.Err.Error(), Fix: "see the message"}
		var ue *runtime.UnsafePathError
		if errors.As(u.Err, &ue) {
			if seen[ue.Path] {
				continue
			}
			seen[ue.Path] = true
			pr.Message = fmt.Sprintf("plugctl refuses to run it: %s is %s", ue.Path, ue.Reason)
			pr.Fix = ue.Fix
		}
		probs = append(probs, pr)
	}
	// Started plugins whose process died, and starts killed midway.
	stale, err := runtime.CleanStale(in.Paths, o.DryRun)
	if err != nil {
		return err
	}
	for _, s := range stale {
		pr := install.Problem{Kind: "stale-run", Subject: s.Path, Repaired: !o.DryRun, Fix: "removed"}
		switch {
		case s.Interrupted:
			pr.Kind, pr.Subject, pr.Fix = "interrupted-start", s.Name+"@"+s.Version, "ended"
			pr.Message = fmt.Sprintf("a start was killed before it recorded its plugin, which still runs unlisted (pid %v)", s.Ended)
		case s.Name != "":
			pr.Subject = s.Name + "@" + s.Version
			pr.Message = fmt.Sprintf("started plugin no longer runs (pid %d): run files left in %s", s.Pid, in.Paths.Run())
		default:
			pr.Message = "unreadable run file " + s.Path
		}
		if o.DryRun {
			pr.Fix = "plugctl doctor removes it"
			if s.Interrupted {
				pr.Fix = "plugctl doctor (or plugctl stop --all) ends it"
			}
		}
		probs = append(probs, pr)
	}
	return doctorReport(g, probs)
}

func doctorReport(g *Global, probs []install.Problem) error {
	left := 0
	for _, pr := range probs {
		if !pr.Repaired {
			left++
		}
	}
	if g.JSON() {
		if probs == nil {
			probs = []install.Problem{}
		}
		if err := g.PrintJSON(doctorJSON{OK: left == 0, Problems: probs}); err != nil {
			return err
		}
		if left > 0 {
			return &exitError{code: ExitError}
		}
		return nil
	}
	for _, pr := range probs {
		if pr.Repaired {
			g.Printf("repaired  %s: %s (%s)\n", pr.Subject, pr.Message, pr.Fix)
		} else {
			fmt.Fprintf(g.IO.Out, "PROBLEM   %s: %s; fix: %s\n", pr.Subject, pr.Message, pr.Fix)
		}
	}
	switch {
	case len(probs) == 0:
		g.Printf("no problems found\n")
	case left == 0:
		g.Printf("%d problem(s) found, all repaired\n", len(probs))
	default:
		return &exitError{code: ExitError, msg: fmt.Sprintf("%d problem(s) need attention (see the fix on each line)", left)}
	}
	return nil
}
