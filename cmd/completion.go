package cmd

import (
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// completeInstalled completes installed plugin names and, after NAME@,
// their installed versions.
func completeInstalled(g *Global) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		p, err := g.Paths()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if name, _, ok := store.SplitAt(toComplete); ok {
			rs, _ := p.Versions(name)
			var out []string
			for _, r := range rs {
				out = append(out, name+"@"+r.Version)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		names, _ := p.Names()
		return names, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// completeRun completes the arguments of call: an installed NAME or
// NAME@VERSION, then METHOD from what is known of the plugin without
// launching it (runtime.KnownMethods: its protoset or the reflection cache
// of an earlier call). Completion never starts a plugin.
func completeRun(g *Global) cobra.CompletionFunc {
	installed := completeInstalled(g)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch name := cmd.Name(); {
		case len(args) == 0, len(args) > 0 && (name == "start" || name == "stop" || name == "health" || name == "reinstall"):
			return installed(cmd, args, toComplete)
		case len(args) == 1 && name == "call":
			p, err := g.Paths()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			r, err := resolveInstalled(p, args[0])
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return runtime.KnownMethods(runtime.SpecFromReceipt(p, r)), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeIndexes completes configured index names.
func completeIndexes(g *Global) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		_, cfg, err := g.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, s := range cfg.Indexes {
			out = append(out, s.Name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeAvailable completes plugin names offered by the cached indexes.
func completeAvailable(g *Global) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		p, cfg, err := g.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		seen := map[string]bool{}
		var out []string
		for _, src := range cfg.Indexes {
			if m, err := index.LoadMeta(p, src.Name); err == nil {
				for _, n := range m.Plugins {
					if !seen[n] {
						seen[n] = true
						out = append(out, n)
					}
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions sets the completion of arguments: installed plugins,
// plugins the indexes offer, configured indexes.
func addCompletions(g *Global, root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "list", "info", "use", "remove", "verify", "upgrade", "outdated", "prune":
			c.ValidArgsFunction = completeInstalled(g)
		case "call", "describe", "start", "stop", "health", "logs", "reinstall":
			c.ValidArgsFunction = completeRun(g)
		case "install", "search":
			c.ValidArgsFunction = completeAvailable(g)
		case "index":
			for _, sub := range c.Commands() {
				if sub.Name() == "remove" || sub.Name() == "update" {
					sub.ValidArgsFunction = completeIndexes(g)
				}
			}
		}
	}
}
