// Command gendocs writes plugctl's command reference as Markdown or man
// pages (make docs), into docs/cli and docs/man, where it is committed; a
// test fails when the committed pages differ from what the commands say.
// It lives outside the plugctl binary so that the Markdown and man renderers
// are not linked into every command's start-up.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/plugctl/plugctl/cmd"
)

// manDate is the date every man page carries. The pages are committed and
// compared with freshly generated ones, so the date cannot be the day they
// were generated: it is fixed here, and moved when a release wants another.
var manDate = time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)

func main() {
	format := flag.String("format", "markdown", "markdown or man")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gendocs [-format markdown|man] DIR")
		os.Exit(2)
	}
	if err := generate(*format, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func generate(format, dir string) error {
	root := cmd.NewRootCmd(&cmd.Global{IO: cmd.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}})
	root.DisableAutoGenTag = true
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	switch format {
	case "markdown", "md":
		return doc.GenMarkdownTree(root, dir)
	case "man":
		return doc.GenManTree(root, &doc.GenManHeader{Title: "PLUGCTL", Section: "1", Date: &manDate, Source: "plugctl", Manual: "plugctl manual"}, dir)
	}
	return fmt.Errorf("-format %q: want markdown or man", format)
}
