// Command abtime times two commands side by side, alternating A and B in
// one run so that both see the same machine (A B, then B A, and so on, so
// that neither always runs first), and prints their medians and the ratio
// A/B.
//
//	abtime -name "list 200" -n 15 -a "plugctl list" -b "plugctl --help"
//
// A command containing shell syntax (&&, |, ;, >, <, $) runs through sh -c;
// anything else is exec'd directly, so a few-millisecond command is not
// charged for a shell; leading NAME=VALUE words set its environment. -before-a / -before-b run untimed before each run
// (to reset state). With -target R, the exit status is 1 when the ratio is
// above R.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

func main() {
	name := flag.String("name", "", "what is measured")
	n := flag.Int("n", 11, "runs of each")
	a := flag.String("a", "", "command A (measured)")
	b := flag.String("b", "", "command B (baseline)")
	beforeA := flag.String("before-a", "", "untimed command before each A")
	beforeB := flag.String("before-b", "", "untimed command before each B")
	target := flag.Float64("target", 0, "fail when median(A)/median(B) is above this")
	flag.Parse()
	if *a == "" || *b == "" {
		fmt.Fprintln(os.Stderr, "abtime: -a and -b are required")
		os.Exit(2)
	}
	// One warm-up of each: page cache, build cache, lazily made files.
	for _, c := range []string{*beforeA, *a, *beforeB, *b} {
		if c != "" {
			must(run(c))
		}
	}
	// The order alternates, A then B, B then A: each command runs first
	// half the time. Measured here, with A and B the same command (go-plugin's
	// examples/basic host), the one that ran first was 2–5% slower in three runs
	// of 31, so a fixed order charged A for its position.
	var ta, tb []time.Duration
	runA := func() {
		if *beforeA != "" {
			must(run(*beforeA))
		}
		ta = append(ta, timed(*a))
	}
	runB := func() {
		if *beforeB != "" {
			must(run(*beforeB))
		}
		tb = append(tb, timed(*b))
	}
	for i := 0; i < *n; i++ {
		if i%2 == 0 {
			runA()
			runB()
		} else {
			runB()
			runA()
		}
	}
	ma, mb := median(ta), median(tb)
	ratio := float64(ma) / float64(mb)
	status := ""
	if *target > 0 {
		status = fmt.Sprintf("  target <= %.2fx: ok", *target)
		if ratio > *target {
			status = fmt.Sprintf("  target <= %.2fx: MISSED", *target)
		}
	}
	fmt.Printf("%-40s A %9s  B %9s  A/B %5.2fx%s\n", *name, ma.Round(10*time.Microsecond), mb.Round(10*time.Microsecond), ratio, status)
	if *target > 0 && ratio > *target {
		os.Exit(1)
	}
}

func timed(c string) time.Duration {
	start := time.Now()
	must(run(c))
	return time.Since(start)
}

func run(c string) error {
	var cmd *exec.Cmd
	if strings.ContainsAny(c, "&|;<>$") {
		cmd = exec.Command("sh", "-c", c)
	} else {
		// Leading NAME=VALUE words set the environment, as in sh, without
		// a shell or env(1) to charge for.
		f := strings.Fields(c)
		var env []string
		for len(f) > 1 && strings.Contains(f[0], "=") && !strings.HasPrefix(f[0], "/") {
			env, f = append(env, f[0]), f[1:]
		}
		cmd = exec.Command(f[0], f[1:]...)
		if env != nil {
			cmd.Env = append(os.Environ(), env...)
		}
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	return nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "abtime:", err)
		os.Exit(1)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
