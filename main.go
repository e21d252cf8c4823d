package main

import (
	"os"

	"github.com/plugctl/plugctl/cmd"
)

func main() { os.Exit(cmd.Main()) }
