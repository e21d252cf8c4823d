package cmd

import (
	"bufio"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/verify"
)

// args checks the number of positional arguments as a usage error.
func args(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) < min || (max >= 0 && len(a) > max) {
			return usageErrorf("%s: wrong number of arguments (usage: %s)", cmd.CommandPath(), cmd.UseLine())
		}
		return nil
	}
}

// printTable prints an aligned table on stdout, header first, unless -q.
func (g *Global) printTable(header string, rows func(w io.Writer)) error {
	if g.Quiet {
		return nil
	}
	tw := newTable(g.IO.Out)
	fmt.Fprintln(tw, header)
	rows(tw)
	return tw.Flush()
}

// table is a tabwriter on a buffered writer. tabwriter writes every cell
// and every run of padding separately: on an unbuffered stdout that was one
// write(2) each, about 2,000 for a list of 200 plugins.
type table struct {
	*tabwriter.Writer
	buf *bufio.Writer
}

func newTable(w io.Writer) *table {
	b := bufio.NewWriterSize(w, 16<<10)
	return &table{Writer: tabwriter.NewWriter(b, 0, 4, 2, ' ', 0), buf: b}
}

// Flush writes out the aligned table.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.buf.Flush()
}

// groupRun runs a command that only groups others: alone it prints its
// help; with an unknown subcommand, cobra.NoArgs fails first and Run makes
// that a one-line usage error (cobra would otherwise print the help and exit
// 0, hiding a typo in a script).
func groupRun(c *cobra.Command, _ []string) error { return c.Help() }

// publicKeys parses --key values (a minisign public key file or an inline
// key) into the inline form kept in config.yaml.
func publicKeys(flags []string) ([]string, error) {
	var keys []string
	for _, k := range flags {
		pk, err := verify.ParsePublicKey(k)
		if err != nil {
			return nil, usageErrorf("--key: %v", err)
		}
		keys = append(keys, pk.String())
	}
	return keys, nil
}
